//go:build !unix && !windows

package ipc

import "os"

// PeerKnownAfterRead tells whether PeerOf works only once the client has
// sent something; PeerOf never works on this OS.
const PeerKnownAfterRead = false

// IsSelfOrAdmin is always false here: peers cannot be identified.
func (p Peer) IsSelfOrAdmin() bool { return false }

// Self returns the current process as a Peer: only its pid here.
func Self() Peer { return Peer{PID: int32(os.Getpid())} }
