//go:build windows

package svc

import (
	"context"
	"os"

	"github.com/kardianos/service"
)

// runUnderServiceManager runs run as the Windows service when the service
// control manager started this process; handled is false otherwise.
func runUnderServiceManager(run func(ctx context.Context) error) (handled bool, err error) {
	if service.Interactive() {
		return false, nil
	}
	c := &controller{goos: "windows", mode: System}
	if c.exe, err = os.Executable(); err != nil {
		return true, err
	}
	cfg, err := c.config()
	if err != nil {
		return true, err
	}
	p := &program{run: run}
	s, err := service.New(p, cfg)
	if err != nil {
		return true, err
	}
	logger, err := s.Logger(nil)
	if err != nil {
		return true, err
	}
	p.exited = func(err error) {
		if err != nil {
			_ = logger.Errorf("entra-helperd stopped: %v", err)
			os.Exit(1)
		}
		_ = logger.Warning("entra-helperd stopped on its own")
		os.Exit(1)
	}
	_ = logger.Info("entra-helperd starting")
	if err := s.Run(); err != nil {
		_ = logger.Errorf("entra-helperd: %v", err)
		return true, err
	}
	_ = logger.Info("entra-helperd stopped")
	return true, nil
}
