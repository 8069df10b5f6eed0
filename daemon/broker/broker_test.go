package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/secret"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

var scopes = []string{"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"}

// fakeSource issues tokens of a fixed lifetime on clk, or fails with err.
type fakeSource struct {
	clk       clock.Clock
	lifetime  time.Duration
	refreshIn time.Duration
	gate      chan struct{} // when set, Acquire waits for it to close

	mu    sync.Mutex
	calls int
	at    []time.Time // when each call was made
	err   error
}

func (s *fakeSource) Acquire(ctx context.Context, sc []string) (tokensource.Token, error) {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return tokensource.Token{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.at = append(s.at, s.clk.Now())
	if s.err != nil {
		return tokensource.Token{}, s.err
	}
	return tokensource.Token{
		Value:     secret.New("tok-" + time.Duration(s.calls).String()),
		ExpiresOn: s.clk.Now().Add(s.lifetime),
		RefreshIn: s.refreshIn,
		Scopes:    sc,
	}, nil
}

func (s *fakeSource) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *fakeSource) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// setup returns a broker on a fake clock whose jitter draw is fixed at r.
func setup(t *testing.T, p Policy, lifetime time.Duration, r float64) (*Broker, *clock.Fake, *fakeSource) {
	t.Helper()
	clk := clock.NewFake(t0)
	b := New(clk, p)
	b.rand = func() float64 { return r }
	src := &fakeSource{clk: clk, lifetime: lifetime}
	b.SetSource("prod", src)
	t.Cleanup(b.Close)
	return b, clk, src
}

func mustToken(t *testing.T, b *Broker, minValid time.Duration) tokensource.Token {
	t.Helper()
	tok, err := b.Token(context.Background(), "prod", scopes, minValid)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func unavailable(retryAfter time.Duration) error {
	return &tokensource.Error{Kind: tokensource.KindUnavailable, Message: "Entra ID answered 503", RetryAfter: retryAfter}
}

func TestCacheHitCallsSourceOnce(t *testing.T) {
	b, _, src := setup(t, Policy{}, time.Hour, 0.5)
	first := mustToken(t, b, 0)
	second := mustToken(t, b, 0)
	if first.Value.Reveal() != second.Value.Reveal() {
		t.Fatal("second request was not answered from the cache")
	}
	if src.Calls() != 1 || b.IdPCalls() != 1 {
		t.Fatalf("source calls = %d, broker count = %d; want 1", src.Calls(), b.IdPCalls())
	}
}

func TestScopesAreNormalized(t *testing.T) {
	b, _, src := setup(t, Policy{}, time.Hour, 0.5)
	if _, err := b.Token(context.Background(), "prod", []string{"b", "a", "b"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Token(context.Background(), "prod", []string{"a", "b"}, 0); err != nil {
		t.Fatal(err)
	}
	if src.Calls() != 1 {
		t.Fatalf("calls = %d, want 1 for equal scope sets", src.Calls())
	}
}

func TestConcurrentColdRequestsShareOneCall(t *testing.T) {
	b, _, src := setup(t, Policy{}, time.Hour, 0.5)
	src.gate = make(chan struct{})
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Token(context.Background(), "prod", scopes, 0)
			errs <- err
		}()
	}
	close(src.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if src.Calls() != 1 {
		t.Fatalf("%d concurrent requests made %d calls, want 1", n, src.Calls())
	}
}

func TestRenewalPointWithJitterBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    float64
		want time.Duration // after issuance
	}{
		{"lowest jitter", 0, 42 * time.Minute},
		{"no jitter", 0.5, 45 * time.Minute},
		{"highest jitter", 1, 48 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, clk, src := setup(t, Policy{}, time.Hour, tc.r)
			mustToken(t, b, 0)
			st := b.State()[0]
			if got := st.RenewsAt.Sub(t0); got != tc.want {
				t.Fatalf("renews %s after issuance, want %s", got, tc.want)
			}
			clk.Advance(tc.want - time.Second)
			if src.Calls() != 1 {
				t.Fatalf("renewed early: %d calls", src.Calls())
			}
			clk.Advance(time.Second)
			if src.Calls() != 2 {
				t.Fatalf("not renewed at the renewal point: %d calls", src.Calls())
			}
		})
	}
}

func TestRefreshInBringsRenewalForward(t *testing.T) {
	b, _, src := setup(t, Policy{}, 4*time.Hour, 0.5)
	src.refreshIn = 2 * time.Hour
	mustToken(t, b, 0)
	if got := b.State()[0].RenewsAt.Sub(t0); got != 2*time.Hour {
		t.Fatalf("renews after %s, want refresh_in 2h", got)
	}
}

func TestShortTokensRenewWithMinValidLeft(t *testing.T) {
	// 30 s tokens, min_valid 10 s: 75% would leave 7.5 s, so renewal must come sooner.
	b, clk, src := setup(t, Policy{MinValid: 10 * time.Second}, 30*time.Second, 1)
	mustToken(t, b, 0)
	renew := b.State()[0].RenewsAt.Sub(t0)
	if renew > 30*time.Second-10*time.Second || renew < 3*time.Second {
		t.Fatalf("renews after %s, want between 3s and 20s", renew)
	}
	// Over ten minutes of asking every second, every answer has min_valid left
	// and no request waits for the provider.
	for range 600 {
		clk.Advance(time.Second)
		calls := src.Calls()
		tok := mustToken(t, b, 0)
		if left := tok.ExpiresOn.Sub(clk.Now()); left < 10*time.Second {
			t.Fatalf("served a token with %s left", left)
		}
		if src.Calls() != calls {
			t.Fatalf("a request waited for the provider at %s (renews at %s, expires %s)", clk.Now().Sub(t0), b.State()[0].RenewsAt.Sub(t0), tok.ExpiresOn.Sub(t0))
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	// A one-second call gap lets the backoff itself show; TestCallGapHoldsBackgroundRetries checks the gap.
	b, clk, src := setup(t, Policy{BackoffBase: 2 * time.Second, BackoffMax: 60 * time.Second, MinCallGap: time.Second}, time.Hour, 0.999999)
	mustToken(t, b, 0)
	src.Fail(unavailable(0))
	clk.Advance(b.State()[0].RenewsAt.Sub(clk.Now())) // first failed renewal
	var delays []time.Duration
	for range 8 {
		st := b.State()[0]
		delays = append(delays, st.RenewsAt.Sub(clk.Now()).Round(time.Second))
		clk.Advance(st.RenewsAt.Sub(clk.Now()))
	}
	want := []time.Duration{2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		if delays[i] != want[i]*time.Second {
			t.Fatalf("retry delays %v, want %v seconds", delays, want)
		}
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		b, _, _ := setup(t, Policy{BackoffBase: 8 * time.Second}, time.Hour, r)
		for failures := 1; failures <= 3; failures++ {
			d := b.backoff(failures, unavailable(0))
			full := 8 * time.Second << (failures - 1)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", failures, d, full/2, full)
			}
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	src.Fail(unavailable(20 * time.Second))
	if _, err := b.Token(context.Background(), "prod", scopes, 0); tokensource.KindOf(err) != tokensource.KindUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	src.Fail(nil)
	clk.Advance(19 * time.Second)
	if _, err := b.Token(context.Background(), "prod", scopes, 0); tokensource.KindOf(err) != tokensource.KindUnavailable {
		t.Fatalf("within Retry-After: err = %v, want unavailable without a call", err)
	}
	if src.Calls() != 1 {
		t.Fatalf("calls = %d during Retry-After, want 1", src.Calls())
	}
	clk.Advance(time.Second)
	mustToken(t, b, 0)
	if src.Calls() != 2 {
		t.Fatalf("calls = %d after Retry-After, want 2", src.Calls())
	}
}

func TestOutageServesCachedTokenAndRetriesSparingly(t *testing.T) {
	b, clk, src := setup(t, Policy{MinValid: 10 * time.Second}, 40*time.Second, 0.5)
	mustToken(t, b, 0)
	src.Fail(unavailable(0))
	served, refused := 0, 0
	for range 60 {
		clk.Advance(time.Second)
		tok, err := b.Token(context.Background(), "prod", scopes, 0)
		if err == nil {
			served++
			if left := tok.ExpiresOn.Sub(clk.Now()); left < 10*time.Second {
				t.Fatalf("served a token with %s left", left)
			}
			continue
		}
		if tokensource.KindOf(err) != tokensource.KindUnavailable {
			t.Fatalf("err = %v, want unavailable", err)
		}
		refused++
	}
	if served < 25 {
		t.Fatalf("served %d requests from the old token, want all while it had min_valid left", served)
	}
	if calls := src.Calls(); calls > 20 {
		t.Fatalf("%d provider calls in a 60 s outage, want a handful", calls)
	}
	// When Entra is back, a request gets a token within RequestRetry,
	// without waiting for the background backoff.
	src.Fail(nil)
	clk.Advance(5 * time.Second)
	mustToken(t, b, 0)
}

func TestRequestsDuringOutageTryAtMostEveryRequestRetry(t *testing.T) {
	b, clk, src := setup(t, Policy{RequestRetry: 5 * time.Second}, time.Hour, 0.5)
	src.Fail(unavailable(0))
	for range 100 { // 100 clients in the same second
		if _, err := b.Token(context.Background(), "prod", scopes, 0); tokensource.KindOf(err) != tokensource.KindUnavailable {
			t.Fatalf("err = %v, want unavailable", err)
		}
	}
	if src.Calls() != 1 {
		t.Fatalf("100 requests in one second made %d calls, want 1", src.Calls())
	}
	clk.Advance(5 * time.Second)
	_, _ = b.Token(context.Background(), "prod", scopes, 0)
	if src.Calls() != 2 {
		t.Fatalf("after RequestRetry: %d calls, want 2", src.Calls())
	}
}

func TestIdleTokensAreDroppedNotRenewed(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	mustToken(t, b, 0)
	clk.Advance(13 * time.Hour)
	if len(b.State()) != 0 {
		t.Fatalf("idle token still cached: %+v", b.State())
	}
	calls := src.Calls()
	if calls > 18 {
		t.Fatalf("%d calls over 12 h of 1 h tokens", calls)
	}
	clk.Advance(24 * time.Hour)
	if src.Calls() != calls {
		t.Fatal("an idle token kept being renewed")
	}
}

func TestPinnedTokensAreRenewedWhenIdle(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	if err := b.Pin("prod", scopes); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(b.State()) == 1 && b.State()[0].Valid })
	clk.Advance(24 * time.Hour)
	if st := b.State(); len(st) != 1 || st[0].ExpiresOn.Before(clk.Now()) {
		t.Fatalf("pinned token not kept fresh: %+v", st)
	}
	if src.Calls() < 24 {
		t.Fatalf("pinned token renewed %d times in a day of 1 h tokens", src.Calls())
	}
}

func TestClockJumpPastExpiryRenewsAtOnce(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	mustToken(t, b, 0)
	clk.Jump(3 * time.Hour) // suspended: timers did not run
	tok := mustToken(t, b, 0)
	if !tok.ExpiresOn.After(clk.Now().Add(5 * time.Minute)) {
		t.Fatalf("served a stale token after resume (expires %s, now %s)", tok.ExpiresOn, clk.Now())
	}
	if src.Calls() != 2 {
		t.Fatalf("calls = %d, want 2", src.Calls())
	}
}

func TestClockJumpPastRenewalPointIsCaughtBySweep(t *testing.T) {
	b, clk, src := setup(t, Policy{SweepInterval: 30 * time.Second}, time.Hour, 0.5)
	mustToken(t, b, 0)
	clk.Jump(50 * time.Minute) // renewal was due at 45 min
	clk.Advance(30 * time.Second)
	waitFor(t, func() bool { return src.Calls() == 2 })
}

func TestMinValidRequestWaitsForFreshToken(t *testing.T) {
	b, clk, src := setup(t, Policy{MinValid: time.Minute}, time.Hour, 0.5)
	mustToken(t, b, 0)
	clk.Jump(40 * time.Minute) // 20 min left, renewal not yet due
	tok := mustToken(t, b, 30*time.Minute)
	if left := tok.ExpiresOn.Sub(clk.Now()); left < 30*time.Minute {
		t.Fatalf("got %s left, want >= 30m", left)
	}
	if src.Calls() != 2 {
		t.Fatalf("calls = %d, want 2", src.Calls())
	}
}

func TestWaitIsBoundedByMaxWait(t *testing.T) {
	b, clk, src := setup(t, Policy{MaxWait: 20 * time.Second}, time.Hour, 0.5)
	src.gate = make(chan struct{})
	defer close(src.gate)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Token(context.Background(), "prod", scopes, 0)
		errc <- err
	}()
	// The wait is timed on the broker's clock: it ends when that clock says so.
	waitFor(t, func() bool { return clk.Pending() >= 2 }) // the sweep and the wait
	clk.Advance(19 * time.Second)
	select {
	case err := <-errc:
		t.Fatalf("the wait ended before MaxWait: %v", err)
	default:
	}
	clk.Advance(time.Second)
	err := <-errc
	var ae *tokensource.Error
	if !errors.As(err, &ae) || ae.Kind != tokensource.KindUnavailable || !strings.Contains(err.Error(), "did not answer within 20s") {
		t.Fatalf("err = %v, want unavailable after MaxWait", err)
	}
}

func TestCanceledWaitSaysSo(t *testing.T) {
	b, _, src := setup(t, Policy{}, time.Hour, 0.5)
	src.gate = make(chan struct{})
	defer close(src.gate)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Token(ctx, "prod", scopes, 0); tokensource.KindOf(err) != tokensource.KindUnavailable || !strings.Contains(err.Error(), "ended before") {
		t.Fatalf("err = %v", err)
	}
}

func TestNeedsLoginStopsRetries(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	if err := b.Pin("prod", scopes); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return src.Calls() == 1 })
	waitFor(t, func() bool { return b.State()[0].Valid })
	src.Fail(&tokensource.Error{Kind: tokensource.KindNeedsLogin, Message: "sign in again"})
	clk.Advance(2 * time.Hour)
	calls := src.Calls()
	for range 50 {
		if _, err := b.Token(context.Background(), "prod", scopes, 0); tokensource.KindOf(err) != tokensource.KindNeedsLogin {
			t.Fatalf("err = %v, want needs-login", err)
		}
	}
	clk.Advance(24 * time.Hour)
	if src.Calls() != calls {
		t.Fatalf("needs-login profile kept calling the provider: %d -> %d", calls, src.Calls())
	}
	src.Fail(nil)
	b.Forget("prod") // after a new login
	mustToken(t, b, 0)
}

func TestUnknownProfileIsUsageError(t *testing.T) {
	b, _, _ := setup(t, Policy{}, time.Hour, 0.5)
	_, err := b.Token(context.Background(), "nope", scopes, 0)
	if tokensource.KindOf(err) != tokensource.KindUsage {
		t.Fatalf("err = %v, want usage", err)
	}
}

func TestSetSourceDropsOldTokens(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	mustToken(t, b, 0)
	next := &fakeSource{clk: clk, lifetime: time.Hour}
	b.SetSource("prod", next)
	mustToken(t, b, 0)
	if src.Calls() != 1 || next.Calls() != 1 {
		t.Fatalf("calls old=%d new=%d, want 1 and 1", src.Calls(), next.Calls())
	}
}

// waitFor polls cond until it holds; background flights finish on their own
// goroutine. It bounds the wait generously and asserts nothing about speed.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDropForgetsOnlyTheRejectedToken(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	old := mustToken(t, b, 0)
	if b.Drop("prod", scopes, "not-the-cached-token") {
		t.Fatal("Drop dropped a token other than the one named")
	}
	if b.Drop("prod", []string{"other/.default"}, "") || b.Drop("other", scopes, "") {
		t.Fatal("Drop dropped a token that is not cached")
	}
	if !b.Drop("prod", scopes, old.Value.Reveal()) {
		t.Fatal("Drop did not drop the cached token")
	}
	// A second consumer rejecting the same token changes nothing.
	if b.Drop("prod", scopes, old.Value.Reveal()) {
		t.Fatal("dropping the same token twice")
	}
	fresh := mustToken(t, b, 0)
	if fresh.Value.Reveal() == old.Value.Reveal() || src.Calls() != 2 {
		t.Fatalf("after Drop: same token %v, source calls %d; want a new token from a second call", fresh.Value.Reveal() == old.Value.Reveal(), src.Calls())
	}
	if b.Drop("prod", scopes, old.Value.Reveal()) {
		t.Fatal("the old token dropped the new one")
	}
	mustToken(t, b, 0)
	if src.Calls() != 2 {
		t.Fatalf("source calls = %d, want the new token cached", src.Calls())
	}
	// The dropped token's renewal timer is gone; the new one's still runs.
	clk.Advance(50 * time.Minute)
	if src.Calls() != 3 {
		t.Fatalf("source calls = %d after 50m, want one renewal", src.Calls())
	}
}

// A consumer that refuses every token (a git server the identity may not
// use) gets one new token at once, then none before the call gap has passed
// since that drop: a retry loop of git fetches must not become a loop of
// calls to Entra.
func TestDropRepeatedlyKeepsTheCallFloor(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	tok := mustToken(t, b, 0)
	if !b.Drop("prod", scopes, tok.Value.Reveal()) {
		t.Fatal("the first refusal did not drop the token")
	}
	tok = mustToken(t, b, 0)
	for i := 0; i < 10; i++ {
		clk.Advance(time.Second)
		if b.Drop("prod", scopes, tok.Value.Reveal()) {
			t.Fatalf("refusal %d, %ds after the last drop, dropped the token", i+2, i+1)
		}
		if st := b.State(); len(st) != 1 || !strings.Contains(st[0].Warning, "refused too") {
			t.Fatalf("state = %+v, want a warning about the repeated refusal", st)
		}
		if got := mustToken(t, b, 0); got.Value.Reveal() != tok.Value.Reveal() {
			t.Fatal("a token was replaced within the call gap")
		}
	}
	if src.Calls() != 2 {
		t.Fatalf("source calls = %d, want 2 (the first token and one replacement)", src.Calls())
	}
	clk.Advance(30 * time.Second)
	if !b.Drop("prod", scopes, tok.Value.Reveal()) {
		t.Fatal("a refusal after the call gap did not drop the token")
	}
	mustToken(t, b, 0)
	if src.Calls() != 3 {
		t.Fatalf("source calls = %d, want 3", src.Calls())
	}
}
