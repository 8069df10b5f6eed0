//go:build !windows

package svc

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
)

func TestRunStopsOnSIGTERM(t *testing.T) {
	err := Run(func(ctx context.Context) error {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	boom := errors.New("boom")
	if err := Run(func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}
