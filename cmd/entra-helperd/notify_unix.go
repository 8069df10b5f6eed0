//go:build unix

package main

import "syscall"

// keepFromChildren marks the notify descriptor close-on-exec, so that a
// process the daemon runs before it is ready (macOS's security tool for the
// keychain) does not hold the client's pipe open.
func keepFromChildren(fd uintptr) { syscall.CloseOnExec(int(fd)) }
