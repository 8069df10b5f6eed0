package ipc

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Peer is the identity of the process at the other end of a connection, as
// the operating system reports it.
type Peer struct {
	UID    uint32   // effective user id (Unix)
	GID    uint32   // effective primary group id (Unix)
	Groups []uint32 // supplementary groups when the OS reports them (macOS: up to 16); nil on Linux
	PID    int32    // process id; 0 if unknown
	SID    string   // the user's security identifier (Windows), e.g. S-1-5-21-...
	// GroupSIDs are the enabled groups of the client's token (Windows).
	GroupSIDs []string
}

// String describes the peer for logs and error messages.
func (p Peer) String() string {
	if p.SID != "" {
		return fmt.Sprintf("user %s (pid %d)", p.SID, p.PID)
	}
	return fmt.Sprintf("uid %d (pid %d)", p.UID, p.PID)
}

// ErrPeerUnsupported is returned by PeerOf on an OS or connection type whose
// peer credentials this package cannot read.
var ErrPeerUnsupported = errors.New("ipc: peer credentials are not supported here")

// rawConn returns conn's syscall.RawConn, for reading socket options.
func rawConn(conn net.Conn) (syscall.RawConn, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%w: %T has no file descriptor", ErrPeerUnsupported, conn)
	}
	return sc.SyscallConn()
}
