// Package broker owns the access-token lifecycle: an in-memory cache keyed by
// (profile, scopes), one identity-provider call in flight per key however many
// callers ask, and background renewal before expiry with jittered backoff on
// failure. It knows token sources only through tokensource.Source.
package broker

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
)

// Policy holds the renewal and backoff settings. The zero value of a field
// takes the default named beside it.
type Policy struct {
	MinValid    time.Duration // 5m: the freshness a request asks for when it names none
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
	// MinCallGap is the least time between two provider calls for one key
	// while a valid token is cached (30s, and at most a quarter of the
	// lifetime): whatever callers ask, only an expired token or a new sign-in
	// calls the provider sooner.
	MinCallGap time.Duration
	// DemandCap is the largest fraction of the issued lifetime that renewal
	// keeps in reserve for a demand (0.5): a min_valid longer than that is
	// served the freshest token with a warning instead of renewing sooner.
	DemandCap float64
	// DemandWindow is how long a demand above MinValid (a --min-valid, the
	// metadata endpoint's floor) shapes renewals after the last request that
	// made it (15m).
	DemandWindow time.Duration
	// Warn, if set, is called with the broker's lock held (it must not call
	// the broker) when a key starts being served tokens with less left than
	// asked, once per cause: for the daemon's log.
	Warn func(profile string, scopes []string, message string)
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
	def(&p.MinCallGap, 30*time.Second)
	def(&p.DemandWindow, 15*time.Minute)
	if p.RenewAt <= 0 || p.RenewAt >= 1 {
		p.RenewAt = 0.75
	}
	if p.Jitter <= 0 || p.Jitter >= p.RenewAt/2 {
		p.Jitter = 0.05
	}
	if p.DemandCap <= 0 || p.DemandCap > 0.9 {
		p.DemandCap = 0.5
	}
	return p
}

// Broker serves tokens from memory and keeps them fresh.
type Broker struct {
	clock  clock.Clock
	policy Policy
	rand   func() float64 // in [0,1)

	idpCalls atomic.Uint64

	// ctx is the parent of every provider call; Close cancels it and
	// waits for the calls (flights) to return.
	ctx     context.Context
	cancel  context.CancelFunc
	flights sync.WaitGroup

	mu      sync.Mutex
	sources map[string]tokensource.Source
	entries map[string]*entry
	sweep   clock.Timer
	closed  bool
}

// ErrClosed is returned by Token, Serve and Pin once Close has been called.
var ErrClosed = &tokensource.Error{Kind: tokensource.KindUnavailable, Message: "entra-helperd is stopping; try again when it is back"}

// maxDemands bounds the distinct demands (and warning causes) remembered per key.
const maxDemands = 8

// entry is one cached token and its renewal state; guarded by Broker.mu.
type entry struct {
	key     string
	profile string
	scopes  []string

	token    tokensource.Token
	has      bool
	issuedAt time.Time // when the provider's answer arrived
	frac     float64   // this token's renewal point: RenewAt ± Jitter, drawn once

	lastUsed    time.Time
	pinned      bool                        // one of a signed-in profile's scopes: renewed even when idle
	demands     map[time.Duration]time.Time // each demand above MinValid and when it was last made
	flight      *flight
	timer       clock.Timer
	renewAt     time.Time // next planned renewal or retry
	lastRenewal time.Time
	failures    int
	lastErr     error
	retryAt     time.Time // no background retry before this, after a failure
	lastAttempt time.Time // when the provider was last called
	droppedAt   time.Time // when Drop last forgot the token (a consumer refused it)
	warned      map[string]bool
	warning     string // the last request's warning, for status; "" once a request is fully served
}

// flight is one call to the provider that any number of callers wait on.
type flight struct {
	done   chan struct{}
	tok    tokensource.Token
	err    error
	issued time.Time // when the answer arrived
}

// lifetime is how long the provider's last token for e was valid when it
// arrived; 0 before the first one.
func (e *entry) lifetime() time.Duration {
	if !e.has {
		return 0
	}
	return max(e.token.ExpiresOn.Sub(e.issuedAt), 0)
}

// New returns a broker on clk with policy p.
func New(clk clock.Clock, p Policy) *Broker {
	b := &Broker{
		clock:   clk,
		policy:  p.withDefaults(),
		rand:    rand.Float64,
		sources: map[string]tokensource.Source{},
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
func (b *Broker) SetSource(profile string, src tokensource.Source) {
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
// cause one new token, not one each. A token is not dropped again less than
// the call gap after the last drop (a consumer that refuses every token, such
// as a git server the identity may not use, would otherwise make each retry
// a call to the provider); it stays cached and a warning says why. It reports
// whether a token was dropped.
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
	now := b.clock.Now()
	if gap := b.callGap(e.lifetime()); !e.droppedAt.IsZero() && now.Sub(e.droppedAt) < gap {
		b.warnLocked(e, "refused", 0, fmt.Sprintf(
			"profile %q: the new token was refused too, %s after the last one; Entra is not asked again before %s: check that the identity may use what refused it",
			e.profile, round(now.Sub(e.droppedAt)), round(gap-now.Sub(e.droppedAt))))
		return false
	}
	e.droppedAt = now
	e.token, e.has = tokensource.Token{}, false
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

// Close stops every timer, cancels the provider calls in flight and waits
// for them to return; no call starts afterwards (Token, Serve and Pin fail
// with ErrClosed). Tokens are forgotten.
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
		return nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("profile %q is not configured", profile)}
	}
	norm := scopes
	if len(scopes) != 1 || scopes[0] == "" { // one scope is normalised already
		norm = normalize(scopes)
	}
	if len(norm) == 0 {
		return nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("profile %q: no scope was asked for", profile)}
	}
	// The key is built in a stack buffer and looked up without a string
	// conversion (the compiler's m[string(b)]), so a cache hit allocates
	// nothing here; a new entry keeps copies.
	var buf [256]byte
	k := append(append(buf[:0], profile...), 0)
	for i, s := range norm {
		if i > 0 {
			k = append(k, ' ')
		}
		k = append(k, s...)
	}
	e := b.entries[string(k)]
	if e == nil {
		key := string(k)
		e = &entry{key: key, profile: profile, scopes: slices.Clone(norm)}
		b.entries[key] = e
	}
	return e, nil
}

// Request is one ask for a token.
type Request struct {
	Profile string
	Scopes  []string
	// MinValid is how long the token must stay valid (0: Policy.MinValid).
	MinValid time.Duration
	// Explicit marks a MinValid the user asked for (--min-valid): it is
	// refused at once when it is not shorter than the known lifetime, and a
	// cached token that falls short is replaced by a provider call. Any other
	// MinValid is a default, met from memory down to DemandCap of the lifetime.
	Explicit bool
}

// Served is a token and, when it has less left than asked, one sentence
// saying why and what to do.
type Served struct {
	tokensource.Token
	Warning string
}

// Token is Serve for a default demand of minValid (0: Policy.MinValid).
func (b *Broker) Token(ctx context.Context, profile string, scopes []string, minValid time.Duration) (tokensource.Token, error) {
	s, err := b.Serve(ctx, Request{Profile: profile, Scopes: scopes, MinValid: minValid})
	return s.Token, err
}

// Serve returns a token for req. The rule, for a key whose tokens Entra
// issues valid for L:
//
//   - an explicit MinValid of L or more is refused at once, without a call;
//   - a cached token is served from memory when it has the demand left, a
//     default demand counting only up to DemandCap×L; a token with less than
//     asked carries a warning;
//   - otherwise one provider call is made, shared with every concurrent
//     caller, unless the provider answered less than MinCallGap ago and the
//     cached token is still valid: then that token, the freshest there is,
//     is served with a warning.
//
// Demands above MinValid shape background renewals for DemandWindow after
// the last request that made them; refused ones never do.
func (b *Broker) Serve(ctx context.Context, req Request) (Served, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return Served{}, ErrClosed
	}
	e, err := b.lookupLocked(req.Profile, req.Scopes)
	if err != nil {
		b.mu.Unlock()
		return Served{}, err
	}
	want, explicit := req.MinValid, req.Explicit && req.MinValid > 0
	if want <= 0 {
		want = b.policy.MinValid
	}
	now := b.clock.Now()
	life := e.lifetime()
	if explicit && life > 0 && want >= life {
		b.mu.Unlock()
		return Served{}, unmeetable(e, want, life)
	}
	e.lastUsed = now
	b.noteDemandLocked(e, want, now)
	need := want
	if !explicit {
		need = b.reserve(want, life)
	}
	left := e.token.ExpiresOn.Sub(now)
	if e.has && left >= need {
		b.keepScheduledLocked(e, now)
		s := Served{Token: e.token}
		if left < want {
			s.Warning = b.warnLocked(e, "short", want, shortLifetime(e.profile, left, want, life, b.reserve(want, life)))
		} else {
			e.warning = ""
		}
		b.mu.Unlock()
		return s, nil
	}
	if e.has && left > 0 && e.flight == nil && e.lastErr == nil && now.Sub(e.lastAttempt) < b.callGap(life) {
		msg := fmt.Sprintf("profile %q: the token has %s left, less than the %s asked, but Entra issued it only %s ago and is not asked again so soon: ask for %s or less",
			e.profile, left.Truncate(time.Second), round(want), round(now.Sub(e.lastAttempt)), round(life-b.callGap(life)))
		s := Served{Token: e.token, Warning: b.warnLocked(e, "recent", want, msg)}
		b.mu.Unlock()
		return s, nil
	}
	f := e.flight
	if f == nil {
		if err := b.refusalLocked(e, now); err != nil {
			b.mu.Unlock()
			return Served{}, err
		}
		f = b.startFlightLocked(e)
	}
	b.mu.Unlock()
	return b.await(ctx, e, f, want, explicit)
}

// reserve is how much of a token's lifetime renewal keeps for a demand of
// want: at most DemandCap of the lifetime life (want itself while life is unknown).
func (b *Broker) reserve(want, life time.Duration) time.Duration {
	if life <= 0 {
		return want
	}
	return min(want, time.Duration(b.policy.DemandCap*float64(life)))
}

// callGap is the least time between two provider calls for a key whose
// tokens live life: MinCallGap, and at most a quarter of the lifetime.
func (b *Broker) callGap(life time.Duration) time.Duration {
	if life <= 0 {
		return b.policy.MinCallGap
	}
	return min(b.policy.MinCallGap, life/4)
}

// unmeetable is the refusal of an explicit demand want that tokens valid for
// life can never meet.
func unmeetable(e *entry, want, life time.Duration) error {
	return &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf(
		"profile %q: Entra issues tokens valid for %s for %s, so --min-valid %s can never be met: ask for less than %s",
		e.profile, round(life), strings.Join(e.scopes, " "), round(want), round(life))}
}

// shortLifetime is the warning for a default demand that tokens valid for
// life cannot meet from memory.
func shortLifetime(profile string, left, want, life, reserve time.Duration) string {
	return fmt.Sprintf("profile %q: the token has %s left, less than the %s asked, because Entra issues tokens valid for only %s here: set min_valid to %s or less to silence this",
		profile, left.Truncate(time.Second), round(want), round(life), round(reserve))
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }

// warnLocked records msg as e's warning, passes it to Policy.Warn the first
// time its cause (kind and demand) comes up for e, and returns it.
func (b *Broker) warnLocked(e *entry, kind string, want time.Duration, msg string) string {
	e.warning = msg
	cause := kind + " " + want.String()
	if e.warned[cause] {
		return msg
	}
	if e.warned == nil || len(e.warned) >= maxDemands {
		e.warned = map[string]bool{}
	}
	e.warned[cause] = true
	if b.policy.Warn != nil {
		b.policy.Warn(e.profile, e.scopes, msg)
	}
	return msg
}

// noteDemandLocked remembers a demand above MinValid for DemandWindow and
// brings the planned renewal forward if the demand needs it.
func (b *Broker) noteDemandLocked(e *entry, want time.Duration, now time.Time) {
	if want <= b.policy.MinValid {
		return
	}
	for d, asked := range e.demands {
		if now.Sub(asked) >= b.policy.DemandWindow {
			delete(e.demands, d)
		}
	}
	if e.demands == nil {
		e.demands = map[time.Duration]time.Time{}
	}
	if _, ok := e.demands[want]; !ok && len(e.demands) >= maxDemands {
		var oldest time.Duration
		for d, asked := range e.demands {
			if oldest == 0 || asked.Before(e.demands[oldest]) {
				oldest = d
			}
		}
		delete(e.demands, oldest)
	}
	e.demands[want] = now
	if e.has && e.flight == nil && e.timer != nil {
		if at := b.renewTime(e); at.Before(e.renewAt) {
			b.scheduleLocked(e, at)
		}
	}
}

// forgetDemandLocked drops a demand that was refused after all and plans
// the renewal without it.
func (b *Broker) forgetDemandLocked(e *entry, want time.Duration) {
	if _, ok := e.demands[want]; !ok {
		return
	}
	delete(e.demands, want)
	if e.has && e.flight == nil && e.timer != nil && e.lastErr == nil {
		b.scheduleLocked(e, b.renewTime(e))
	}
}

// keepScheduledLocked makes sure a served token has its renewal planned: it
// starts an overdue one (after a suspend) without waiting for it.
func (b *Broker) keepScheduledLocked(e *entry, now time.Time) {
	switch {
	case e.flight != nil:
	case !e.renewAt.IsZero() && !now.Before(e.renewAt):
		b.startRenewalLocked(e)
	case e.timer == nil:
		b.scheduleLocked(e, b.renewTime(e))
	}
}

// refusalLocked returns the error to answer with instead of calling the
// provider: the profile needs a sign-in, the provider asked us to wait
// (Retry-After), or it failed less than RequestRetry ago (MinCallGap while a
// valid token is cached). A request with no usable token may otherwise try
// before the background backoff does, so an outage's end is noticed quickly
// without letting clients hammer Entra.
func (b *Broker) refusalLocked(e *entry, now time.Time) error {
	if e.lastErr == nil {
		return nil
	}
	var ae *tokensource.Error
	if errors.As(e.lastErr, &ae) && ae.Kind == tokensource.KindNeedsLogin {
		return e.lastErr
	}
	if !now.Before(e.retryAt) {
		return nil
	}
	next := e.lastAttempt.Add(b.policy.RequestRetry)
	if e.has && e.token.ExpiresOn.After(now) {
		next = e.lastAttempt.Add(max(b.policy.RequestRetry, b.callGap(e.lifetime())))
	}
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
	var ae *tokensource.Error
	if !errors.As(err, &ae) {
		return err
	}
	cp := *ae
	cp.Message = fmt.Sprintf("%s; next attempt in %s", ae.Message, in.Round(time.Second))
	return &cp
}

func (b *Broker) await(ctx context.Context, e *entry, f *flight, want time.Duration, explicit bool) (Served, error) {
	wait := b.policy.MaxWait
	timeout := make(chan struct{})
	timer := b.clock.AfterFunc(wait, func() { close(timeout) })
	defer timer.Stop()
	select {
	case <-f.done:
	case <-timeout:
		return Served{}, &tokensource.Error{
			Kind:    tokensource.KindUnavailable,
			Message: fmt.Sprintf("profile %q: Entra ID did not answer within %s and no valid token is cached", e.profile, wait),
		}
	case <-ctx.Done():
		return Served{}, &tokensource.Error{
			Kind:    tokensource.KindUnavailable,
			Message: fmt.Sprintf("profile %q: the request ended before Entra ID answered; try again", e.profile),
			Err:     ctx.Err(),
		}
	}
	if f.err != nil {
		return Served{}, f.err
	}
	left := f.tok.ExpiresOn.Sub(b.clock.Now())
	if left >= want {
		return Served{Token: f.tok}, nil
	}
	life := f.tok.ExpiresOn.Sub(f.issued)
	if left <= 0 {
		return Served{}, &tokensource.Error{Kind: tokensource.KindFailed, Message: fmt.Sprintf(
			"profile %q: Entra ID issued a token that has already expired: check this machine's clock", e.profile)}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if explicit && want >= life {
		b.forgetDemandLocked(e, want)
		return Served{}, unmeetable(e, want, life)
	}
	return Served{Token: f.tok, Warning: b.warnLocked(e, "short", want, shortLifetime(e.profile, left, want, life, b.reserve(want, life)))}, nil
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

func (b *Broker) fly(e *entry, src tokensource.Source, f *flight) {
	defer b.flights.Done()
	b.idpCalls.Add(1)
	// The network call's own deadline: real time, however the broker's
	// clock runs; Close cancels it earlier.
	ctx, cancel := context.WithTimeout(b.ctx, 2*b.policy.MaxWait)
	tok, err := src.Acquire(ctx, e.scopes)
	cancel()
	b.mu.Lock()
	f.tok, f.err, f.issued = tok, err, b.clock.Now()
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
	now := f.issued
	if f.err == nil {
		e.token, e.has, e.issuedAt = f.tok, true, now
		e.frac = b.policy.RenewAt + b.policy.Jitter*(2*b.rand()-1)
		e.lastRenewal, e.failures, e.lastErr, e.retryAt = now, 0, nil, time.Time{}
		b.scheduleLocked(e, b.renewTime(e))
		return
	}
	e.failures++
	e.lastErr = f.err
	if tokensource.KindOf(f.err) == tokensource.KindNeedsLogin {
		e.retryAt = time.Time{}
		e.renewAt = time.Time{}
		return // only a sign-in helps: no retries
	}
	e.retryAt = now.Add(b.backoff(e.failures, f.err))
	valid := e.has && e.token.ExpiresOn.After(now)
	if valid {
		e.retryAt = maxTime(e.retryAt, e.lastAttempt.Add(b.callGap(e.lifetime())))
	}
	if valid || e.pinned {
		b.scheduleLocked(e, e.retryAt)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
	var ae *tokensource.Error
	if errors.As(err, &ae) && ae.RetryAfter > d {
		d = ae.RetryAfter
	}
	return d
}

// renewTime is when e's current token should be renewed: at its drawn share
// of the lifetime (RenewAt ± Jitter), sooner if the provider sent refresh_in,
// and early enough to keep in reserve the default min_valid and every live
// demand, each capped at DemandCap of the lifetime (plus Jitter of it as a
// margin). A demand counts only if it will still be live then. Never sooner
// than a tenth of the lifetime or the call gap after issuance, whatever
// refresh_in says, so no lifetime or hint can cause a busy loop.
func (b *Broker) renewTime(e *entry) time.Time {
	life := e.lifetime()
	if life <= 0 {
		return e.issuedAt // already expired: renew at once
	}
	at := e.issuedAt.Add(time.Duration(e.frac * float64(life)))
	if r := e.token.RefreshIn; r > 0 {
		if hint := e.issuedAt.Add(r); hint.Before(at) {
			at = hint
		}
	}
	margin := time.Duration(b.policy.Jitter * float64(life))
	reserve := b.reserve(b.policy.MinValid, life)
	for d, asked := range e.demands {
		r := b.reserve(d, life)
		if r > reserve && asked.Add(b.policy.DemandWindow).After(e.token.ExpiresOn.Add(-r-margin)) {
			reserve = r
		}
	}
	if latest := e.token.ExpiresOn.Add(-reserve - margin); latest.Before(at) {
		at = latest
	}
	if earliest := e.issuedAt.Add(max(life/10, b.callGap(life))); at.Before(earliest) {
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
// it is dropped), must not be retried yet, or its valid token's renewal has
// moved later because a demand lapsed. It returns the flight, if any.
func (b *Broker) startRenewalLocked(e *entry) *flight {
	if b.closed {
		return nil
	}
	now := b.clock.Now()
	if !e.pinned && now.Sub(e.lastUsed) >= b.policy.IdleAfter {
		b.dropLocked(e.key, e)
		return nil
	}
	if e.lastErr != nil && tokensource.KindOf(e.lastErr) == tokensource.KindNeedsLogin {
		return nil
	}
	if now.Before(e.retryAt) {
		b.scheduleLocked(e, e.retryAt)
		return nil
	}
	if e.has && e.token.ExpiresOn.After(now) {
		if at := b.renewTime(e); at.After(now) {
			b.scheduleLocked(e, at)
			return nil
		}
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
	Valid       bool // a token has been issued (it may have expired since)
	ExpiresOn   time.Time
	RenewsAt    time.Time
	LastRenewal time.Time
	Failures    int
	LastErr     error
	Warning     string // why the last request got less freshness than it asked for
}

// State lists the cached tokens, ordered by profile and scopes.
func (b *Broker) State() []TokenState {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]TokenState, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, TokenState{
			Profile: e.profile, Scopes: e.scopes, Valid: e.has, ExpiresOn: e.token.ExpiresOn,
			RenewsAt: e.renewAt, LastRenewal: e.lastRenewal, Failures: e.failures, LastErr: e.lastErr, Warning: e.warning,
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
