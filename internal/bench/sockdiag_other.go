//go:build !linux

package bench

import (
	"errors"
	"net"
)

// TCPOwner is implemented on Linux only (NETLINK_SOCK_DIAG).
func TCPOwner(local, remote *net.TCPAddr) (uint32, error) {
	return 0, errors.New("bench: TCPOwner needs Linux")
}
