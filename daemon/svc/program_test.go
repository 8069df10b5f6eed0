package svc

import (
	"context"
	"errors"
	"testing"
)

func TestProgram(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		// run receives its context and a channel closed when the test wants it to fail on its own.
		run        func(ctx context.Context, fail <-chan struct{}) error
		failEarly  bool
		wantExited error
		wantStop   error
	}{
		{"stops cleanly", func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return ctx.Err()
		}, false, nil, nil},
		{"stops with nil", func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return nil
		}, false, nil, nil},
		{"error while stopping", func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return boom
		}, false, nil, boom},
		{"fails on its own", func(ctx context.Context, fail <-chan struct{}) error {
			<-fail
			return boom
		}, true, boom, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := make(chan struct{})
			exited := make(chan error, 1)
			p := &program{
				run:    func(ctx context.Context) error { return tt.run(ctx, fail) },
				exited: func(err error) { exited <- err },
			}
			if err := p.Start(nil); err != nil {
				t.Fatal(err)
			}
			if tt.failEarly {
				close(fail)
				if got := <-exited; !errors.Is(got, tt.wantExited) {
					t.Fatalf("exited with %v, want %v", got, tt.wantExited)
				}
			}
			if err := p.Stop(nil); !errors.Is(err, tt.wantStop) || (err == nil) != (tt.wantStop == nil) {
				t.Errorf("Stop = %v, want %v", err, tt.wantStop)
			}
			select {
			case err := <-exited:
				if !tt.failEarly {
					t.Errorf("exited(%v) called although Stop asked run to return", err)
				}
			default:
			}
		})
	}
}

func TestProgramStopBeforeStart(t *testing.T) {
	if err := (&program{}).Stop(nil); err != nil {
		t.Fatal(err)
	}
}
