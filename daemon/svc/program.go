package svc

import (
	"context"
	"errors"
	"sync"

	"github.com/kardianos/service"
)

// program adapts the daemon's run function to service.Interface: Start runs it
// in a goroutine, Stop cancels its context and waits for it to return.
type program struct {
	run func(ctx context.Context) error
	// exited is called when run returns without Stop having asked it to
	// (the daemon failed or quit on its own).
	exited func(err error)

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	stopping bool
}

// Start launches run in a goroutine and returns at once.
func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.mu.Lock()
	p.cancel, p.done, p.stopping = cancel, done, false
	p.mu.Unlock()
	go func() {
		err := p.run(ctx)
		p.mu.Lock()
		p.err = err
		stopping := p.stopping
		p.mu.Unlock()
		close(done)
		if !stopping && p.exited != nil {
			p.exited(err)
		}
	}()
	return nil
}

// Stop cancels run's context, waits for run to return and returns its error
// (a context cancellation is a clean stop, not an error).
func (p *program) Stop(service.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.stopping = true
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
