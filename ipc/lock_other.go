//go:build unix && !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package ipc

import (
	"errors"
	"os"
)

var errLocked = errors.New("ipc: socket lock is held")

// lockSocket opens path+".lock" without locking it: this OS lacks flock, so
// only the stale-socket probe guards against two daemons.
func lockSocket(path string) (*os.File, error) {
	return os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
}
