//go:build !unix && !windows

package ipc

const peerNeedsRead = false

func sameUser(Peer) error { return ErrPeerUnsupported }
