// Package broker owns the access-token lifecycle: an in-memory cache keyed by
// (profile, scopes), one identity-provider call in flight per key however many
// callers ask, and background renewal before expiry with jittered backoff on
// failure. It knows token sources only through auth.Source.
package broker

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entra-helper/entra-helper/daemon/auth"
	"github.com/entra-helper/entra-helper/internal/clock"
)

// Policy holds the renewal and backoff settings. The zero value of a field
// takes the default named beside it.
type Policy struct {
	MinValid    time.Duration // 5m: never hand out a token with less left
	RenewAt     float64       // 0.75: fraction of the lifetime after which to renew
	Jitter      float64       // 0.05: ± fraction of the lifetime added at random
	IdleAfter   time.Duration // 12h: a token not asked for this long is dropped, not renewed
	BackoffBase time.Duration // 2s: first retry delay after a failure
	BackoffMax  time.Duration // 5m: cap of the retry delay
	MaxWait     time.Duration // 30s: how long a request waits for a fresh token
	// RequestRetry is how often requests that find no usable token may try
	// the provider while background retries back off (5s); it never
	// overrides a Retry-After.
	RequestRetry  time.Duration
	SweepInterval time.Duration // 30s: how often due renewals are checked against the wall clock
}

func (p Policy) withDefaults() Policy {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&p.MinValid, 5*time.Minute)
	def(&p.IdleAfter, 12*time.Hour)
	def(&p.BackoffBase, 2*time.Second)
	def(&p.BackoffMax, 5*time.Minute)
	def(&p.MaxWait, 30*time.Second)
	def(&p.RequestRetry, 5*time.Second)
	def(&p.SweepInterval, 30*time.Second)
	if p.RenewAt <= 0 || p.RenewAt >= 1 {
		p.RenewAt = 0.75
	}
	if p.Jitter <= 0 || p.Jitter >= p.RenewAt/2 {
		p.Jitter = 0.05
	}
	return p
}

// Broker serves tokens from memory and keeps them fresh.
type Broker struct {
	clock  clock.Clock
	policy Policy
	rand   func() float64 // in [0,1)

	idpCalls atomic.Uint64
	waits    atomic.Uint64 // requests that had to wait for the provider

	// ctx is the parent of every provider call; Close cancels it and
	// waits for the calls (flights) to return.
	ctx     context.Context
	cancel  context.CancelFunc
	flights sync.WaitGroup

	mu      sync.Mutex
	sources map[string]auth.Source
	entries map[string]*entry
	sweep   clock.Timer
	closed  bool
}

// ErrClosed is returned by Token and Pin once Close has been called.
var ErrClosed = &auth.Error{Kind: auth.KindUnavailable, Message: "entra-helperd is stopping; try again when it is back"}

// entry is one cached token and its renewal state; guarded by Broker.mu.
type entry struct {
	key     string
	profile string
	scopes  []string

	token    auth.Token
	has      bool
	issuedAt time.Time

	lastUsed    time.Time
	pinned      bool          // one of a signed-in profile's scopes: renewed even when idle
	minValid    time.Duration // the largest min_valid asked for it: renewal leaves that much
	flight      *flight
	timer       clock.Timer
	renewAt     time.Time // next planned renewal or retry
	lastRenewal time.Time
	failures    int
	lastErr     error
	retryAt     time.Time // no background retry before this, after a failure
	lastAttempt time.Time // when the provider was last called
}

// flight is one call to the provider that any number of callers wait on.
type flight struct {
	done chan struct{}
	tok  auth.Token
	err  error
}

// New returns a broker on clk with policy p.
func New(clk clock.Clock, p Policy) *Broker {
	b := &Broker{
		clock:   clk,
		policy:  p.withDefaults(),
		rand:    rand.Float64,
		sources: map[string]auth.Source{},
		entries: map[string]*entry{},
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.mu.Lock()
	b.scheduleSweep()
	b.mu.Unlock()
	return b
}

// SetMinValid changes the default min_valid (on config reload).
func (b *Broker) SetMinValid(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d > 0 {
		b.policy.MinValid = d
	}
}

// MinValid returns the default min_valid.
func (b *Broker) MinValid() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.policy.MinValid
}

// SetSource installs src for profile, dropping every token cached for the
// profile's previous source. A nil src removes the profile.
func (b *Broker) SetSource(profile string, src auth.Source) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropProfileLocked(profile)
	if src == nil {
		delete(b.sources, profile)
		return
	}
	b.sources[profile] = src
}

// Forget drops every token cached for profile (after logout or login).
func (b *Broker) Forget(profile string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropProfileLocked(profile)
}

// Drop forgets the token cached for (profile, scopes), but not the sign-in,
// so that the next request gets a new one from the provider: a consumer (git
// after a 401) found it rejected. With value set, it is dropped only when it
// is still the cached token, so several consumers rejecting the same token
// cause one new token, not one each. It reports whether a token was dropped.
func (b *Broker) Drop(profile string, scopes []string, value string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[profile+"\x00"+Key(scopes)]
	if e == nil || !e.has {
		return false
	}
	if value != "" && subtle.ConstantTimeCompare([]byte(value), []byte(e.token.Value.Reveal())) != 1 {
		return false
	}
	e.token, e.has = auth.Token{}, false
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.renewAt = time.Time{}
	return true
}

func (b *Broker) dropProfileLocked(profile string) {
	for k, e := range b.entries {
		if e.profile == profile {
			b.dropLocked(k, e)
		}
	}
}

func (b *Broker) dropLocked(key string, e *entry) {
	if e.timer != nil {
		e.timer.Stop()
	}
	delete(b.entries, key)
}

// IdPCalls is how many times the broker called a source.
func (b *Broker) IdPCalls() uint64 { return b.idpCalls.Load() }

// Waits is how many requests found no usable token in memory and waited for
// the provider (cold starts, larger min_valid, outages).
func (b *Broker) Waits() uint64 { return b.waits.Load() }

// Close stops every timer, cancels the provider calls in flight and waits
// for them to return; no call starts afterwards (Token and Pin fail with
// ErrClosed). Tokens are forgotten.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	if b.sweep != nil {
		b.sweep.Stop()
	}
	for k, e := range b.entries {
		b.dropLocked(k, e)
	}
	b.mu.Unlock()
	b.cancel()
	b.flights.Wait()
}

// Key returns the cache key of scopes: sorted, deduplicated, space-joined.
func Key(scopes []string) string { return strings.Join(normalize(scopes), " ") }

func normalize(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	seen := map[string]bool{}
	for _, s := range scopes {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func (b *Broker) lookupLocked(profile string, scopes []string) (*entry, error) {
	src := b.sources[profile]
	if src == nil {
		return nil, &auth.Error{Kind: auth.KindUsage, Message: fmt.Sprintf("profile %q is not configured", profile)}
	}
	norm := normalize(scopes)
	if len(norm) == 0 {
		return nil, &auth.Error{Kind: auth.KindUsage, Message: fmt.Sprintf("profile %q: no scope was asked for", profile)}
	}
	key := profile + "\x00" + strings.Join(norm, " ")
	e := b.entries[key]
	if e == nil {
		e = &entry{key: key, profile: profile, scopes: norm, minValid: b.policy.MinValid}
		b.entries[key] = e
	}
	return e, nil
}

// Token returns a token for (profile, scopes) with at least minValid left
// (0: the policy's MinValid). It answers from memory when it can; otherwise
// it waits, at most Policy.MaxWait, for one call to the provider shared with
// every other caller of the same key.
func (b *Broker) Token(ctx context.Context, profile string, scopes []string, minValid time.Duration) (auth.Token, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return auth.Token{}, ErrClosed
	}
	if minValid <= 0 {
		minValid = b.policy.MinValid
	}
	e, err := b.lookupLocked(profile, scopes)
	if err != nil {
		b.mu.Unlock()
		return auth.Token{}, err
	}
	now := b.clock.Now()
	e.lastUsed = now
	if minValid > e.minValid {
		e.minValid = minValid
	}
	if e.has && e.token.ExpiresOn.Sub(now) >= minValid {
		tok := e.token
		// A renewal may be overdue after a suspend: start it, do not wait.
		if e.flight == nil && !e.renewAt.IsZero() && !now.Before(e.renewAt) {
			b.startRenewalLocked(e)
		} else if e.timer == nil && e.flight == nil {
			b.scheduleLocked(e, b.renewTime(e))
		}
		b.mu.Unlock()
		return tok, nil
	}
	f := e.flight
	if f == nil {
		if err := b.refusalLocked(e, now); err != nil {
			b.mu.Unlock()
			return auth.Token{}, err
		}
		f = b.startFlightLocked(e)
	}
	b.mu.Unlock()
	b.waits.Add(1)
	return b.await(ctx, e, f, minValid)
}

// refusalLocked returns the error to answer with instead of calling the
// provider: the profile needs a sign-in, the provider asked us to wait
// (Retry-After), or it failed less than RequestRetry ago. A request with no
// usable token may otherwise try before the background backoff does, so an
// outage's end is noticed quickly without letting clients hammer Entra.
func (b *Broker) refusalLocked(e *entry, now time.Time) error {
	if e.lastErr == nil {
		return nil
	}
	var ae *auth.Error
	if errors.As(e.lastErr, &ae) && ae.Kind == auth.KindNeedsLogin {
		return e.lastErr
	}
	if !now.Before(e.retryAt) {
		return nil
	}
	next := e.lastAttempt.Add(b.policy.RequestRetry)
	if ae != nil && ae.RetryAfter > 0 {
		next = e.retryAt
	}
	if now.Before(next) {
		return retryLater(e.lastErr, next.Sub(now))
	}
	return nil
}

// retryLater keeps err's kind and advice and says when the next attempt is.
func retryLater(err error, in time.Duration) error {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		return err
	}
	cp := *ae
	cp.Message = fmt.Sprintf("%s; next attempt in %s", ae.Message, in.Round(time.Second))
	return &cp
}

func (b *Broker) await(ctx context.Context, e *entry, f *flight, minValid time.Duration) (auth.Token, error) {
	wait := b.policy.MaxWait
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	select {
	case <-f.done:
	case <-ctx.Done():
		return auth.Token{}, &auth.Error{
			Kind:    auth.KindUnavailable,
			Message: fmt.Sprintf("profile %q: Entra ID did not answer within %s and no valid token is cached", e.profile, wait),
			Err:     ctx.Err(),
		}
	}
	if f.err != nil {
		return auth.Token{}, f.err
	}
	if left := f.tok.ExpiresOn.Sub(b.clock.Now()); left < minValid {
		return auth.Token{}, &auth.Error{
			Kind: auth.KindFailed,
			Message: fmt.Sprintf("profile %q: Entra ID issued a token valid for %s, less than the %s asked for; lower --min-valid or min_valid",
				e.profile, left.Round(time.Second), minValid),
		}
	}
	return f.tok, nil
}

// startFlightLocked starts the provider call for e and returns its flight.
func (b *Broker) startFlightLocked(e *entry) *flight {
	f := &flight{done: make(chan struct{})}
	e.flight = f
	e.lastAttempt = b.clock.Now()
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	src := b.sources[e.profile]
	b.flights.Add(1) // under b.mu with b.closed false: Close waits for it
	go b.fly(e, src, f)
	return f
}

func (b *Broker) fly(e *entry, src auth.Source, f *flight) {
	defer b.flights.Done()
	b.idpCalls.Add(1)
	ctx, cancel := context.WithTimeout(b.ctx, 2*b.policy.MaxWait)
	tok, err := src.Acquire(ctx, e.scopes)
	cancel()
	f.tok, f.err = tok, err
	b.mu.Lock()
	b.settleLocked(e, f)
	b.mu.Unlock()
	close(f.done)
}

// settleLocked records a flight's outcome in e and plans the next renewal.
func (b *Broker) settleLocked(e *entry, f *flight) {
	if e.flight == f {
		e.flight = nil
	}
	if b.entries[e.key] != e || b.closed {
		return // dropped while in flight: forget the result
	}
	now := b.clock.Now()
	if f.err == nil {
		e.token, e.has, e.issuedAt = f.tok, true, now
		e.lastRenewal, e.failures, e.lastErr, e.retryAt = now, 0, nil, time.Time{}
		b.scheduleLocked(e, b.renewTime(e))
		return
	}
	e.failures++
	e.lastErr = f.err
	if auth.KindOf(f.err) == auth.KindNeedsLogin {
		e.retryAt = time.Time{}
		e.renewAt = time.Time{}
		return // only a sign-in helps: no retries
	}
	e.retryAt = now.Add(b.backoff(e.failures, f.err))
	if e.has && e.token.ExpiresOn.After(now) || e.pinned {
		b.scheduleLocked(e, e.retryAt)
	}
}

// backoff is the delay before attempt number failures+1: exponential from
// BackoffBase, capped at BackoffMax, with jitter in [50%, 100%], and never
// shorter than the provider's Retry-After.
func (b *Broker) backoff(failures int, err error) time.Duration {
	d := b.policy.BackoffBase
	for i := 1; i < failures && d < b.policy.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, b.policy.BackoffMax)
	d = time.Duration(float64(d) * (0.5 + b.rand()/2))
	var ae *auth.Error
	if errors.As(err, &ae) && ae.RetryAfter > d {
		d = ae.RetryAfter
	}
	return d
}

// renewTime is when e's current token should be renewed: at Policy.RenewAt
// of its lifetime ± jitter, sooner if the provider sent refresh_in, and early
// enough to leave the largest min_valid asked for it. Never sooner than a
// tenth of the lifetime (at least 1s) after issuance, so a token shorter than
// min_valid cannot cause a busy loop.
func (b *Broker) renewTime(e *entry) time.Time {
	life := e.token.ExpiresOn.Sub(e.issuedAt)
	if life <= 0 {
		return e.issuedAt // already expired: renew at once
	}
	frac := b.policy.RenewAt + b.policy.Jitter*(2*b.rand()-1)
	at := e.issuedAt.Add(time.Duration(frac * float64(life)))
	if e.token.RefreshIn > 0 {
		if hint := e.issuedAt.Add(e.token.RefreshIn); hint.Before(at) {
			at = hint
		}
	}
	margin := time.Duration(b.policy.Jitter * float64(life))
	if latest := e.token.ExpiresOn.Add(-e.minValid - margin); latest.Before(at) {
		at = latest
	}
	earliest := e.issuedAt.Add(max(life/10, time.Second))
	if at.Before(earliest) {
		at = earliest
	}
	return at
}

// scheduleLocked arms e's timer for at (wall time).
func (b *Broker) scheduleLocked(e *entry, at time.Time) {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.renewAt = at
	e.timer = b.clock.AfterFunc(max(at.Sub(b.clock.Now()), 0), func() { b.renewDue(e) })
}

// renewDue runs when e's timer fires: it drops e if idle, else renews it and
// waits for the outcome (so a fake clock sees the result when Advance returns).
func (b *Broker) renewDue(e *entry) {
	b.mu.Lock()
	if b.entries[e.key] != e || b.closed {
		b.mu.Unlock()
		return
	}
	e.timer = nil
	f := e.flight
	if f == nil {
		f = b.startRenewalLocked(e)
	}
	b.mu.Unlock()
	if f != nil {
		<-f.done
	}
}

// startRenewalLocked starts a background renewal of e unless e is idle (then
// it is dropped) or must not be retried yet. It returns the flight, if any.
func (b *Broker) startRenewalLocked(e *entry) *flight {
	if b.closed {
		return nil
	}
	now := b.clock.Now()
	if !e.pinned && now.Sub(e.lastUsed) >= b.policy.IdleAfter {
		b.dropLocked(e.key, e)
		return nil
	}
	if e.lastErr != nil && auth.KindOf(e.lastErr) == auth.KindNeedsLogin {
		return nil
	}
	if now.Before(e.retryAt) {
		b.scheduleLocked(e, e.retryAt)
		return nil
	}
	return b.startFlightLocked(e)
}

// scheduleSweep arms the periodic check that catches renewals whose timers
// slept through a suspend: timers count monotonic time, renewAt is wall time.
func (b *Broker) scheduleSweep() {
	if b.closed {
		return
	}
	b.sweep = b.clock.AfterFunc(b.policy.SweepInterval, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.sweepLocked()
		b.scheduleSweep()
	})
}

func (b *Broker) sweepLocked() {
	now := b.clock.Now()
	for k, e := range b.entries {
		if e.flight == nil && !e.pinned && now.Sub(e.lastUsed) >= b.policy.IdleAfter {
			b.dropLocked(k, e)
			continue
		}
		if e.flight == nil && !e.renewAt.IsZero() && !now.Before(e.renewAt) {
			if e.timer != nil {
				e.timer.Stop()
				e.timer = nil
			}
			b.startRenewalLocked(e)
		}
	}
}

// Pin marks (profile, scopes) as renewed even when idle (a signed-in
// profile's own scopes) and fetches it in the background if not cached.
func (b *Broker) Pin(profile string, scopes []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	e, err := b.lookupLocked(profile, scopes)
	if err != nil {
		return err
	}
	e.pinned = true
	e.lastUsed = b.clock.Now()
	if !e.has && e.flight == nil {
		b.startFlightLocked(e)
	}
	return nil
}

// TokenState is one cached token's state, for status (never the token).
type TokenState struct {
	Profile     string
	Scopes      []string
	Valid       bool // a token is cached
	ExpiresOn   time.Time
	RenewsAt    time.Time
	LastRenewal time.Time
	Failures    int
	LastErr     error
	Pinned      bool
}

// State lists the cached tokens, ordered by profile and scopes.
func (b *Broker) State() []TokenState {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]TokenState, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, TokenState{
			Profile: e.profile, Scopes: e.scopes, Valid: e.has, ExpiresOn: e.token.ExpiresOn,
			RenewsAt: e.renewAt, LastRenewal: e.lastRenewal, Failures: e.failures, LastErr: e.lastErr, Pinned: e.pinned,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Profile != out[j].Profile {
			return out[i].Profile < out[j].Profile
		}
		return Key(out[i].Scopes) < Key(out[j].Scopes)
	})
	return out
}
