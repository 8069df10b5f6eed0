package daemon

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// sameUserTCP finds the uid owning the client's end of a loopback TCP
// connection in /proc/net/tcp{,6} and refuses users other than ours (and root),
// which gives the metadata endpoint the peer check a Unix socket has.
func sameUserTCP(r *http.Request) error {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return fmt.Errorf("cannot tell the local address of the connection")
	}
	client, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return err
	}
	server, err := net.ResolveTCPAddr("tcp", local.String())
	if err != nil {
		return err
	}
	uid, err := tcpOwner(client, server)
	if err != nil {
		return err
	}
	if uid != os.Getuid() && uid != 0 {
		return fmt.Errorf("connection from uid %d refused: the endpoint serves uid %d only", uid, os.Getuid())
	}
	return nil
}

// tcpOwner returns the uid of the socket whose local end is client and
// remote end is server.
func tcpOwner(client, server *net.TCPAddr) (int, error) {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		uid, found := scanTCPTable(f, client, server)
		f.Close()
		if found {
			return uid, nil
		}
	}
	return 0, fmt.Errorf("cannot find the owner of connection %s -> %s", client, server)
}

func scanTCPTable(f *os.File, client, server *net.TCPAddr) (int, bool) {
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 {
			continue
		}
		if procAddrEqual(fields[1], client) && procAddrEqual(fields[2], server) {
			uid, err := strconv.Atoi(fields[7])
			return uid, err == nil
		}
	}
	return 0, false
}

// procAddrEqual compares a /proc/net/tcp address ("0100007F:1F90", the IP in
// host byte order per 32-bit word) with a.
func procAddrEqual(s string, a *net.TCPAddr) bool {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil || int(port) != a.Port {
		return false
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || len(raw)%4 != 0 {
		return false
	}
	for i := 0; i < len(raw); i += 4 { // each 32-bit word is little-endian
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	ip := net.IP(raw)
	want := a.IP
	if len(raw) == 16 && want.To4() != nil {
		want = want.To16() // ::ffff:a.b.c.d in tcp6
	}
	return ip.Equal(want)
}
