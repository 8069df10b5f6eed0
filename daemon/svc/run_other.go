//go:build !windows

package svc

import "context"

// runUnderServiceManager does nothing outside Windows: systemd and launchd
// start the binary like any program and stop it with SIGTERM.
func runUnderServiceManager(func(ctx context.Context) error) (bool, error) {
	return false, nil
}
