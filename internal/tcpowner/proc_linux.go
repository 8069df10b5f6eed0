package tcpowner

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// procOwner finds the socket (local, remote) in /proc/net/tcp{,6}.
func procOwner(local, remote *net.TCPAddr) (uint32, error) {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		uid, found := scanTCPTable(f, local, remote)
		f.Close()
		if found {
			return uid, nil
		}
	}
	return 0, fmt.Errorf("tcpowner: no socket %s -> %s in /proc/net/tcp", local, remote)
}

func scanTCPTable(f *os.File, local, remote *net.TCPAddr) (uint32, bool) {
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 {
			continue
		}
		if procAddrEqual(fields[1], local) && procAddrEqual(fields[2], remote) {
			uid, err := strconv.ParseUint(fields[7], 10, 32)
			return uint32(uid), err == nil
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
	want := a.IP
	if len(raw) == 16 && want.To4() != nil {
		want = want.To16() // ::ffff:a.b.c.d in tcp6
	}
	return net.IP(raw).Equal(want)
}
