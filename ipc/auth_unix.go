//go:build unix

package ipc

import (
	"fmt"
	"os"
)

// sameUser allows only the server's own effective uid.
func sameUser(p Peer) error {
	if uid := uint32(os.Geteuid()); p.UID != uid {
		return fmt.Errorf("user uid %d may not use the daemon of uid %d", p.UID, uid)
	}
	return nil
}

// peerNeedsRead tells whether PeerOf works only once the request was read:
// not on Unix, where the kernel records the peer at connect.
const peerNeedsRead = false
