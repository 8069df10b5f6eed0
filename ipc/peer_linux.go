package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// PeerOf returns the credentials of the process at the other end of conn,
// a Unix socket connection: on Linux from SO_PEERCRED, on macOS from
// LOCAL_PEERCRED and LOCAL_PEERPID, on Windows from the pipe client's token.
// The credentials are those the peer had when it connected (Linux, macOS).
func PeerOf(conn net.Conn) (Peer, error) {
	raw, err := rawConn(conn)
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("ipc: reading peer credentials: %w", err)
	}
	if serr != nil {
		return Peer{}, fmt.Errorf("ipc: reading peer credentials: %w", serr)
	}
	return Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}
