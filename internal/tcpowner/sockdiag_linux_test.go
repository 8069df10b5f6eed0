package tcpowner

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOwner(t *testing.T) {
	for _, tt := range []struct{ name, network, addr string }{
		{"ipv4", "tcp4", "127.0.0.1:0"},
		{"ipv6", "tcp6", "[::1]:0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen(tt.network, tt.addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", tt.name, err)
			}
			defer ln.Close()
			c, err := net.Dial(tt.network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
			uid, err := Owner(local, remote)
			if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EACCES) {
				t.Skipf("sock_diag not available: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if int(uid) != os.Getuid() {
				t.Errorf("uid = %d, want %d", uid, os.Getuid())
			}
			_, inode, err := tcpDiag(local, remote)
			if err != nil {
				t.Fatal(err)
			}
			if want := socketInode(t, c); inode != want {
				t.Errorf("inode = %d, want %d (the dialled socket's)", inode, want)
			}
			// A 4-tuple no socket has.
			gone := *local
			gone.Port = local.Port + 1
			if gone.Port > 65535 {
				gone.Port = 1
			}
			if _, err := Owner(&gone, remote); !errors.Is(err, unix.ENOENT) {
				t.Errorf("lookup of a missing socket: %v, want ENOENT", err)
			}
		})
	}
}

func TestParseDiagReplyShort(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, 10)} {
		if _, _, err := parseDiagReply(b); err == nil {
			t.Errorf("parseDiagReply(%d bytes) = nil error", len(b))
		}
	}
}

// socketInode reads the inode of c's socket from /proc/self/fd.
func socketInode(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var link string
	if err := raw.Control(func(fd uintptr) {
		link, err = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	}); err != nil || link == "" {
		t.Fatalf("readlink: %v", err)
	}
	var ino uint32
	if _, err := fmt.Sscanf(link, "socket:[%d]", &ino); err != nil {
		t.Fatalf("%q: %v", link, err)
	}
	return ino
}
