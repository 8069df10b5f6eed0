//go:build !linux && !darwin && !windows

package ipc

import "net"

// PeerOf returns the credentials of the process at the other end of conn.
// This OS is not supported: it always fails with ErrPeerUnsupported, so a
// Server refuses every connection.
func PeerOf(conn net.Conn) (Peer, error) {
	return Peer{}, ErrPeerUnsupported
}
