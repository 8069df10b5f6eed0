package broker

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
)

// The freshness rule, one test per part, on the fake clock.

func serve(t *testing.T, b *Broker, minValid time.Duration, explicit bool) (Served, error) {
	t.Helper()
	return b.Serve(context.Background(), Request{Profile: "prod", Scopes: scopes, MinValid: minValid, Explicit: explicit})
}

func mustServe(t *testing.T, b *Broker, minValid time.Duration, explicit bool) Served {
	t.Helper()
	s, err := serve(t, b, minValid, explicit)
	if err != nil {
		t.Fatalf("Serve(%s, explicit=%v): %v", minValid, explicit, err)
	}
	return s
}

// warnings collects what the broker passes to Policy.Warn.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) warn(_ string, _ []string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}

// Tokens shorter than min_valid (4 min against the default 5 min): requests
// are served from memory with a warning, never each with its own call, and
// the daemon's log gets the warning once.
func TestShortLifetimeServesFreshestWithOneWarning(t *testing.T) {
	var w warnings
	b, clk, src := setup(t, Policy{Warn: w.warn}, 4*time.Minute, 0.5)
	for i := range 6 {
		s := mustServe(t, b, 0, false)
		if !strings.Contains(s.Warning, "less than the 5m0s asked") || !strings.Contains(s.Warning, "min_valid") {
			t.Fatalf("request %d: warning %q", i, s.Warning)
		}
		clk.Advance(2 * time.Second)
	}
	if src.Calls() != 1 {
		t.Fatalf("six sequential requests made %d calls, want 1", src.Calls())
	}
	if w.count() != 1 {
		t.Fatalf("Warn called %d times, want once: %q", w.count(), w.msgs)
	}
	if st := b.State()[0]; st.Warning == "" {
		t.Fatal("status shows no warning")
	}
	// An hour of a request every 5 s: every answer from memory with at least
	// half the lifetime left, renewals as planned.
	for range 720 {
		calls := src.Calls()
		s := mustServe(t, b, 0, false)
		if src.Calls() != calls {
			t.Fatalf("a request called Entra at %s", clk.Now().Sub(t0))
		}
		if left := s.ExpiresOn.Sub(clk.Now()); left < 2*time.Minute {
			t.Fatalf("served a token with %s left, want at least half of 4m", left)
		}
		clk.Advance(5 * time.Second)
	}
	// Renewal keeps half the lifetime plus the jitter margin: every 1m48s.
	if calls, max := src.Calls(), int(time.Hour/(108*time.Second))+2; calls > max {
		t.Fatalf("%d calls in an hour of 4-minute tokens, want at most %d", calls, max)
	}
	if w.count() != 1 {
		t.Fatalf("Warn called %d times over an hour, want once", w.count())
	}
}

// A default demand up to half the lifetime is met without a warning.
func TestDefaultDemandUpToHalfLifetimeIsMet(t *testing.T) {
	b, clk, _ := setup(t, Policy{}, 10*time.Minute, 1) // 10-minute tokens, min_valid 5m
	for range 120 {
		s := mustServe(t, b, 0, false)
		if s.Warning != "" || s.ExpiresOn.Sub(clk.Now()) < 5*time.Minute {
			t.Fatalf("at %s: %s left, warning %q", clk.Now().Sub(t0), s.ExpiresOn.Sub(clk.Now()), s.Warning)
		}
		clk.Advance(10 * time.Second)
	}
}

// An explicit --min-valid not shorter than the known lifetime is refused at
// once: no call, and the schedule does not move.
func TestUnmeetableMinValidIsRefusedWithoutACall(t *testing.T) {
	b, clk, src := setup(t, Policy{}, 10*time.Minute, 0.5)
	mustServe(t, b, 0, false)
	renews := b.State()[0].RenewsAt
	for _, d := range []time.Duration{10 * time.Minute, 15 * time.Minute, 2 * time.Hour} {
		_, err := serve(t, b, d, true)
		if tokensource.KindOf(err) != tokensource.KindUsage || !strings.Contains(err.Error(), "can never be met") || !strings.Contains(err.Error(), `profile "prod"`) {
			t.Fatalf("--min-valid %s: err = %v, want a usage error", d, err)
		}
	}
	if src.Calls() != 1 || !b.State()[0].RenewsAt.Equal(renews) {
		t.Fatalf("calls %d, renews %s (was %s)", src.Calls(), b.State()[0].RenewsAt, renews)
	}
	clk.Advance(renews.Sub(clk.Now()))
	if src.Calls() != 2 {
		t.Fatalf("renewal did not happen as planned: %d calls", src.Calls())
	}
}

// With the lifetime not yet known, the first call finds it out; the demand
// is then refused and leaves no trace in the schedule.
func TestUnmeetableMinValidOnColdKey(t *testing.T) {
	b, _, src := setup(t, Policy{}, 30*time.Minute, 0.5)
	if _, err := serve(t, b, 45*time.Minute, true); tokensource.KindOf(err) != tokensource.KindUsage {
		t.Fatalf("err = %v, want usage", err)
	}
	if src.Calls() != 1 {
		t.Fatalf("calls = %d, want 1", src.Calls())
	}
	// Kept, the demand would have moved renewal to 13m30s (half the lifetime in reserve).
	if got := b.State()[0].RenewsAt.Sub(t0); got != 22*time.Minute+30*time.Second {
		t.Fatalf("renews %s after issuance, want the default 22m30s", got)
	}
	if _, err := serve(t, b, 45*time.Minute, true); tokensource.KindOf(err) != tokensource.KindUsage || src.Calls() != 1 {
		t.Fatalf("second refusal: err %v, calls %d", err, src.Calls())
	}
}

// expectRenewals advances the clock through n renewals and fails unless
// each comes want after the one before.
func expectRenewals(t *testing.T, b *Broker, clk interface{ Advance(time.Duration) }, n int, want time.Duration) {
	t.Helper()
	for i := range n {
		st := b.State()[0]
		if g := st.RenewsAt.Sub(st.LastRenewal); g != want {
			t.Fatalf("renewal %d planned %s after the previous one, want %s", i+1, g, want)
		}
		calls := b.IdPCalls()
		clk.Advance(want)
		if b.IdPCalls() != calls+1 {
			t.Fatalf("renewal %d: %d calls, want 1", i+1, b.IdPCalls()-calls)
		}
	}
}

// One --min-valid 55m on a 75-minute token gets a fresh token at once, and
// the renewals after it keep the default schedule (75% of the lifetime).
func TestOneLargeDemandDoesNotRatchet(t *testing.T) {
	const life = 75 * time.Minute
	def := time.Duration(0.75 * float64(life))
	b, clk, src := setup(t, Policy{}, life, 0.5)
	mustServe(t, b, 0, false)
	clk.Advance(10 * time.Minute)
	if s := mustServe(t, b, 55*time.Minute, true); s.Warning != "" || src.Calls() != 1 {
		t.Fatalf("65m left meets 55m from memory: warning %q, calls %d", s.Warning, src.Calls())
	}
	if got := b.State()[0].RenewsAt.Sub(t0); got != def {
		t.Fatalf("a met demand moved the renewal to %s, want %s", got, def)
	}
	clk.Advance(20 * time.Minute) // 45m left
	s := mustServe(t, b, 55*time.Minute, true)
	if src.Calls() != 2 || s.ExpiresOn.Sub(clk.Now()) < 55*time.Minute || s.Warning != "" {
		t.Fatalf("calls %d, %s left, warning %q; want a fresh token", src.Calls(), s.ExpiresOn.Sub(clk.Now()), s.Warning)
	}
	expectRenewals(t, b, clk, 5, def)
}

// A refused --min-valid 2h moves nothing: same renewals as without it.
func TestRefusedDemandDoesNotMoveSchedule(t *testing.T) {
	const life = 75 * time.Minute
	def := time.Duration(0.75 * float64(life))
	b, clk, src := setup(t, Policy{}, life, 0.5)
	mustServe(t, b, 0, false)
	clk.Advance(30 * time.Minute)
	if _, err := serve(t, b, 2*time.Hour, true); tokensource.KindOf(err) != tokensource.KindUsage {
		t.Fatalf("err = %v, want usage", err)
	}
	if src.Calls() != 1 {
		t.Fatalf("a refused demand called Entra: %d calls", src.Calls())
	}
	clk.Advance(def - 30*time.Minute)
	expectRenewals(t, b, clk, 5, def)
}

// A demand that requests keep making shapes renewals so that no request
// waits; once nobody makes it, renewals return to the default within
// DemandWindow.
func TestDemandShapesRenewalWhileMadeThenDecays(t *testing.T) {
	const life = time.Hour
	b, clk, src := setup(t, Policy{}, life, 0.5)
	mustServe(t, b, 0, false)
	// 20m every 5 min for 3 hours: renewals leave 20m plus the 3m margin.
	for range 36 {
		calls := src.Calls()
		s := mustServe(t, b, 20*time.Minute, true)
		if src.Calls() != calls && clk.Now().After(t0.Add(time.Hour)) {
			t.Fatalf("a request waited for Entra at %s", clk.Now().Sub(t0))
		}
		if s.ExpiresOn.Sub(clk.Now()) < 20*time.Minute {
			t.Fatalf("served %s left", s.ExpiresOn.Sub(clk.Now()))
		}
		clk.Advance(5 * time.Minute)
	}
	st := b.State()[0]
	if g := st.RenewsAt.Sub(st.LastRenewal); g != 37*time.Minute {
		t.Fatalf("under a live 20m demand renewal comes %s after issuance, want 37m", g)
	}
	// Nobody asks any more: after the window, the default 45m is back.
	clk.Advance(2 * time.Hour)
	expectRenewals(t, b, clk, 3, 45*time.Minute)
}

// Whatever mix of demands and callers arrives, no two provider calls for one
// key come closer than MinCallGap while a valid token is cached.
func TestCallGapHoldsForAnyMixOfDemands(t *testing.T) {
	for _, life := range []time.Duration{4 * time.Minute, 10 * time.Minute, 75 * time.Minute} {
		b, clk, src := setup(t, Policy{}, life, 0.5)
		rnd := rand.New(rand.NewPCG(1, uint64(life)))
		for range 5000 {
			d, explicit := time.Duration(0), rnd.IntN(2) == 0
			if explicit {
				d = time.Second + time.Duration(rnd.Int64N(int64(life)))
			}
			s, err := serve(t, b, d, explicit)
			if err != nil && tokensource.KindOf(err) != tokensource.KindUsage {
				t.Fatalf("life %s: %v", life, err)
			}
			if err == nil && explicit && s.ExpiresOn.Sub(clk.Now()) < d && s.Warning == "" {
				t.Fatalf("life %s: served %s left for %s without a warning", life, s.ExpiresOn.Sub(clk.Now()), d)
			}
			clk.Advance(time.Duration(rnd.Int64N(int64(5 * time.Second))))
		}
		src.mu.Lock()
		at := append([]time.Time(nil), src.at...)
		src.mu.Unlock()
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < 30*time.Second {
				t.Fatalf("life %s: calls %d and %d only %s apart", life, i, i+1, gap)
			}
		}
	}
}

// Failing background renewals of a still-valid token keep the call gap too.
func TestCallGapHoldsBackgroundRetries(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	mustServe(t, b, 0, false)
	src.Fail(unavailable(0))
	clk.Advance(55 * time.Minute) // renewal at 45m and retries until here
	src.mu.Lock()
	at := append([]time.Time(nil), src.at...)
	src.mu.Unlock()
	if len(at) < 5 {
		t.Fatalf("only %d calls: the renewal was not retried", len(at))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 30*time.Second {
			t.Fatalf("retries %d and %d only %s apart", i, i+1, gap)
		}
	}
}

// A token obtained moments ago is reused by the next request even if it
// asks for slightly more than the token has: one call, one warning.
func TestSequentialCallersAreCollapsed(t *testing.T) {
	b, clk, src := setup(t, Policy{}, time.Hour, 0.5)
	mustServe(t, b, 59*time.Minute+50*time.Second, true)
	clk.Advance(15 * time.Second) // 59m45s left
	s := mustServe(t, b, 59*time.Minute+50*time.Second, true)
	if src.Calls() != 1 || !strings.Contains(s.Warning, "issued it only 15s ago") {
		t.Fatalf("calls %d, warning %q", src.Calls(), s.Warning)
	}
	clk.Advance(15 * time.Second)
	mustServe(t, b, 59*time.Minute+50*time.Second, true)
	if src.Calls() != 2 {
		t.Fatalf("after the gap: %d calls, want 2", src.Calls())
	}
}

// A refresh_in below the floor (a tenth of the lifetime, at least the call
// gap) cannot make renewals busy-loop.
func TestRefreshInFloor(t *testing.T) {
	for _, tc := range []struct {
		life, refreshIn, want time.Duration
	}{
		{time.Hour, time.Second, 6 * time.Minute},
		{5 * time.Minute, time.Second, 30 * time.Second},
		{24 * time.Hour, 12 * time.Hour, 12 * time.Hour},
		{time.Hour, 20 * time.Minute, 20 * time.Minute},
	} {
		b, clk, src := setup(t, Policy{}, tc.life, 0.5)
		src.refreshIn = tc.refreshIn
		mustServe(t, b, 0, false)
		if got := b.State()[0].RenewsAt.Sub(t0); got != tc.want {
			t.Errorf("life %s, refresh_in %s: renews after %s, want %s", tc.life, tc.refreshIn, got, tc.want)
		}
		clk.Advance(tc.life)
		if n, max := src.Calls(), int(tc.life/tc.want)+1; n > max {
			t.Errorf("life %s, refresh_in %s: %d calls in one lifetime, want at most %d", tc.life, tc.refreshIn, n, max)
		}
	}
}

// Lifetimes from 5 minutes to 28 hours with the default min_valid: renewal
// before expiry with the reserve left, no request waits after the first,
// calls as planned.
func TestLifetimesFrom5MinTo28h(t *testing.T) {
	for _, life := range []time.Duration{5 * time.Minute, 10 * time.Minute, 60 * time.Minute, 90 * time.Minute, 24 * time.Hour, 28 * time.Hour} {
		b, clk, src := setup(t, Policy{}, life, 0.9)
		reserve := min(5*time.Minute, life/2)
		mustServe(t, b, 0, false)
		step := life / 200
		for range 1000 { // five lifetimes
			clk.Advance(step)
			calls := src.Calls()
			s := mustServe(t, b, 0, false)
			if src.Calls() != calls {
				t.Fatalf("life %s: a request waited for Entra at %s", life, clk.Now().Sub(t0))
			}
			left := s.ExpiresOn.Sub(clk.Now())
			if left < reserve {
				t.Fatalf("life %s: served %s left, want at least %s", life, left, reserve)
			}
			if (s.Warning != "") != (left < 5*time.Minute) {
				t.Fatalf("life %s: %s left, warning %q", life, left, s.Warning)
			}
		}
		st := b.State()[0]
		planned := st.RenewsAt.Sub(st.LastRenewal)
		if n, max := float64(src.Calls()-1), float64(5*life)/float64(planned); n > max*1.05 {
			t.Fatalf("life %s: %.0f renewals in five lifetimes, planned %.2f (every %s)", life, n, max, planned)
		}
	}
}

// A warning never says a token has as much left as was asked: with 5-minute
// tokens and the default 5m demand, a token a moment old has 4m59s left, not
// "5m0s left, less than the 5m0s asked".
func TestShortWarningRoundsLeftDown(t *testing.T) {
	b, clk, _ := setup(t, Policy{}, 5*time.Minute, 0.5)
	mustToken(t, b, 0)
	clk.Advance(100 * time.Millisecond)
	s, err := b.Serve(context.Background(), Request{Profile: "prod", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Warning, "has 4m59s left, less than the 5m0s asked") {
		t.Fatalf("warning = %q, want the time left rounded down", s.Warning)
	}
}
