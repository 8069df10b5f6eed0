//go:build !linux

package tcpowner

import "net"

// Owner is not supported on this OS.
func Owner(local, remote *net.TCPAddr) (uint32, error) { return 0, ErrUnsupported }
