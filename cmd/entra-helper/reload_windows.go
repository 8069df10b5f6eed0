//go:build windows

package main

import "errors"

// reloadDaemon has no signal to send on Windows: the daemon is restarted.
func reloadDaemon(int) error {
	return errors.New("Windows has no reload signal")
}
