//go:build unix

package ipc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// verifyServer checks that the process serving path runs as the current
// user or root, from the socket's peer credentials where the OS gives them,
// else from the socket file's owner.
func verifyServer(conn net.Conn, path string) error {
	owner, err := serverUID(conn, path)
	if err != nil {
		return fmt.Errorf("ipc: checking who serves %s: %w", path, err)
	}
	if !(Peer{UID: owner}).IsSelfOrAdmin() {
		return fmt.Errorf("%w: %s is served by uid %d, not %d", ErrNotOwner, path, owner, os.Geteuid())
	}
	return nil
}

func serverUID(conn net.Conn, path string) (uint32, error) {
	p, err := PeerOf(conn)
	if err == nil {
		return p.UID, nil
	}
	if !errors.Is(err, ErrPeerUnsupported) {
		return 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, errors.New("unknown file owner")
	}
	return uint32(st.Uid), nil
}
