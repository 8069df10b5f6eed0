//go:build unix

package ipc

import (
	"os"
	"sync"
)

// IsSelfOrAdmin reports whether p is the current process's user (its
// effective uid) or root. It is the one owner check of the project: the
// client applies it to the daemon it dials, the daemon to its peers.
func (p Peer) IsSelfOrAdmin() bool {
	return p.SID == "" && (p.UID == euid() || p.UID == 0)
}

// euid is the process's effective uid, read once, when first needed:
// neither binary changes it, and the daemon checks it on every request.
var euid = sync.OnceValue(func() uint32 { return uint32(os.Geteuid()) })

// PeerKnownAfterRead tells whether PeerOf works only once the client has
// sent something: not on Unix, where the kernel records the peer at connect.
const PeerKnownAfterRead = false

// Self returns the current process as a Peer: its effective uid and gid
// and its pid.
func Self() Peer {
	return Peer{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid()), PID: int32(os.Getpid())}
}
