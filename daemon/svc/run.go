package svc

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Run runs the daemon's main loop run. When the platform's service manager
// started this process as a service (the Windows service control manager), it
// runs run under it: the manager's stop request cancels run's context, and a
// run that fails on its own is logged to the event log and ends the process
// with exit status 1 so that the service's recovery action restarts it.
// Otherwise (always on Unix, where systemd and launchd just start the binary)
// it runs run until SIGINT or SIGTERM cancels its context and returns run's
// error; SIGHUP is left to run.
func Run(run func(ctx context.Context) error) error {
	if handled, err := runUnderServiceManager(run); handled {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx)
}
