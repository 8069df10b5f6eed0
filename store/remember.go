package store

import (
	"context"
	"sync"
	"time"

	"github.com/entra-helper/entra-helper/internal/clock"
)

// RecheckEvery is how long a Remembering store answers with a remembered
// keychain failure before it tries the keychain again.
const RecheckEvery = time.Minute

// Remembering is a Store that remembers that its backend is unavailable (no
// session bus, no Secret Service, locked, timed out) and answers every call
// with that same error at once, instead of paying the failure's time on
// each call, until Recheck is called or RecheckEvery has passed.
type Remembering struct {
	Store
	clock clock.Clock

	mu     sync.Mutex
	failed *UnavailableError
	at     time.Time
}

// Remember wraps s; c is the clock that decides when to check again.
func Remember(s Store, c clock.Clock) *Remembering {
	return &Remembering{Store: s, clock: c}
}

// Recheck forgets a remembered failure: the next call tries the keychain.
func (r *Remembering) Recheck() {
	r.mu.Lock()
	r.failed = nil
	r.mu.Unlock()
}

// Unavailable returns the remembered failure, if any.
func (r *Remembering) Unavailable() (*UnavailableError, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil || r.clock.Now().Sub(r.at) >= RecheckEvery {
		return nil, false
	}
	return r.failed, true
}

// observe remembers a lasting failure and forgets it after a success.
func (r *Remembering) observe(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok := AsUnavailable(err); ok {
		if u.Lasting() {
			r.failed, r.at = u, r.clock.Now()
		}
		return err
	}
	if err == nil || err == ErrNotFound {
		r.failed = nil
	}
	return err
}

// Get implements Store.
func (r *Remembering) Get(ctx context.Context, key string) ([]byte, error) {
	if u, ok := r.Unavailable(); ok {
		return nil, u
	}
	v, err := r.Store.Get(ctx, key)
	return v, r.observe(err)
}

// Set implements Store.
func (r *Remembering) Set(ctx context.Context, key string, value []byte) error {
	if u, ok := r.Unavailable(); ok {
		return u
	}
	return r.observe(r.Store.Set(ctx, key, value))
}

// Delete implements Store.
func (r *Remembering) Delete(ctx context.Context, key string) error {
	if u, ok := r.Unavailable(); ok {
		return u
	}
	return r.observe(r.Store.Delete(ctx, key))
}
