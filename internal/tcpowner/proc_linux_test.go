package tcpowner

import (
	"net"
	"os"
	"testing"
)

func TestProcOwnerMatchesOwnConnection(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uid, err := procOwner(c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	if int(uid) != os.Getuid() {
		t.Fatalf("uid = %d, want %d", uid, os.Getuid())
	}
}

func TestProcAddrEqual(t *testing.T) {
	for _, tc := range []struct {
		s    string
		addr string
		want bool
	}{
		{"0100007F:1F90", "127.0.0.1:8080", true},
		{"0100007F:1F91", "127.0.0.1:8080", false},
		{"0200007F:1F90", "127.0.0.1:8080", false},
		{"0000000000000000FFFF00000100007F:1F90", "127.0.0.1:8080", true},
		{"00000000000000000000000001000000:1F90", "[::1]:8080", true},
		{"zz:1F90", "127.0.0.1:8080", false},
		{"0100007F", "127.0.0.1:8080", false},
	} {
		a, _ := net.ResolveTCPAddr("tcp", tc.addr)
		if got := procAddrEqual(tc.s, a); got != tc.want {
			t.Errorf("procAddrEqual(%q, %s) = %v, want %v", tc.s, tc.addr, got, tc.want)
		}
	}
}
