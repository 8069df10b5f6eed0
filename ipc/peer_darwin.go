package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// xucredVersion is XUCRED_VERSION of <sys/ucred.h>.
const xucredVersion = 0

// PeerOf returns the credentials of the process at the other end of conn,
// a Unix socket connection: on Linux from SO_PEERCRED, on macOS from
// LOCAL_PEERCRED and LOCAL_PEERPID, on Windows from the pipe client's token.
// The credentials are those the peer had when it connected (Linux, macOS).
func PeerOf(conn net.Conn) (Peer, error) {
	raw, err := rawConn(conn)
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Xucred
	var pid int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if serr == nil {
			pid, serr = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		}
	}); err != nil {
		return Peer{}, fmt.Errorf("ipc: reading peer credentials: %w", err)
	}
	if serr != nil {
		return Peer{}, fmt.Errorf("ipc: reading peer credentials: %w", serr)
	}
	if cred.Version != xucredVersion {
		return Peer{}, fmt.Errorf("ipc: reading peer credentials: unknown xucred version %d", cred.Version)
	}
	p := Peer{UID: cred.Uid, PID: int32(pid)}
	n := int(cred.Ngroups)
	if n > len(cred.Groups) {
		n = len(cred.Groups)
	}
	if n > 0 {
		p.GID = cred.Groups[0] // the effective gid comes first
		p.Groups = append([]uint32(nil), cred.Groups[:n]...)
	}
	return p, nil
}
