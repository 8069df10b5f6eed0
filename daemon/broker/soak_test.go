package broker

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/secret"
)

var soak = flag.Bool("soak", false, "run the simulated-day soak test (make soak)")

// lifetimeSource issues tokens whose lifetime is drawn by life, and records
// each token's lifetime.
type lifetimeSource struct {
	clk  clock.Clock
	rnd  *rand.Rand
	draw func(*rand.Rand) time.Duration
	mu   sync.Mutex
	life []time.Duration
}

func (s *lifetimeSource) Acquire(_ context.Context, sc []string) (tokensource.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.draw(s.rnd)
	s.life = append(s.life, l)
	return tokensource.Token{Value: secret.New("t"), ExpiresOn: s.clk.Now().Add(l), Scopes: sc}, nil
}

// entraLifetime draws from [60, 90) minutes, as Entra does by default.
func entraLifetime(r *rand.Rand) time.Duration {
	return 60*time.Minute + time.Duration(r.Int64N(int64(30*time.Minute)))
}

func fixedLifetime(d time.Duration) func(*rand.Rand) time.Duration {
	return func(*rand.Rand) time.Duration { return d }
}

// soakScenarios are the lifetimes of the soak table: a token-lifetime
// policy's 5 and 10 minutes, Entra's default 60–90 minutes, and CAE-style
// 24 hours; each over at least five lifetimes.
var soakScenarios = []struct {
	label string
	draw  func(*rand.Rand) time.Duration
	span  time.Duration
}{
	{"60–90 min", entraLifetime, 24 * time.Hour},
	{"5 min", fixedLifetime(5 * time.Minute), 24 * time.Hour},
	{"10 min", fixedLifetime(10 * time.Minute), 24 * time.Hour},
	{"24 h", fixedLifetime(24 * time.Hour), 6 * 24 * time.Hour},
}

// TestSoak simulates days of requests for several profiles and lifetimes
// and reports what the renewal policy cost: Entra calls per planned renewal
// interval, per token lifetime, the smallest remaining lifetime served, and
// how many default requests waited on Entra after the first. Among the
// callers, one asks --min-valid 55m once and one keeps asking for more than
// the lifetime.
func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("run with -soak (make soak)")
	}
	var rows []SoakResult
	for i, sc := range soakScenarios {
		r := SimulateDay(8, 3, sc.span, 7, sc.draw)
		r.Label = sc.label
		rows = append(rows, r)
		if i == 0 {
			t.Log(r) // the summary line make bench reports
		}
		if r.Waited > 0 {
			t.Errorf("%s: %d default requests waited on Entra after warm-up", sc.label, r.Waited)
		}
		if r.CallsPerRenewalGap > 1.05 {
			t.Errorf("%s: %.3f Entra calls per planned renewal interval, want at most 1.05", sc.label, r.CallsPerRenewalGap)
		}
		if r.MinLeft < r.Reserve {
			t.Errorf("%s: served a token with %s left, below the %s kept in reserve", sc.label, r.MinLeft, r.Reserve)
		}
		if r.RefusedCalls > 0 {
			t.Errorf("%s: refused demands made %d Entra calls", sc.label, r.RefusedCalls)
		}
	}
	t.Log("\n" + SoakTable(rows))
}

// SoakResult is what SimulateDay measured.
type SoakResult struct {
	Label              string
	Span               time.Duration
	Tokens             int           // active (profile, scope) pairs
	Requests           int           // requests served
	Calls              uint64        // provider calls
	Waited             uint64        // default requests that waited on the provider, after each key's first
	Warned             int           // requests served with a warning (less left than asked)
	Refused            int           // explicit demands refused (longer than the lifetime)
	RefusedCalls       int           // provider calls made by refused demands (must be 0)
	MinLeft            time.Duration // smallest remaining lifetime served
	Reserve            time.Duration // what renewal keeps for min_valid: min(5m, half the shortest lifetime)
	MeanLifetime       time.Duration
	MeanPlanned        time.Duration // mean planned renewal interval (issuance to planned renewal)
	CallsPerLifetime   float64       // calls / lifetimes elapsed, per active token
	CallsPerRenewalGap float64       // calls / planned renewal intervals elapsed
}

func (r SoakResult) String() string {
	return fmt.Sprintf("%d tokens, %d requests, %d Entra calls, %.3f calls per token lifetime (%.3f per planned renewal interval), smallest lifetime served %s, %d requests waited",
		r.Tokens, r.Requests, r.Calls, r.CallsPerLifetime, r.CallsPerRenewalGap, r.MinLeft.Round(time.Second), r.Waited)
}

// SoakTable renders results as the Markdown table of docs/performance.md.
func SoakTable(rows []SoakResult) string {
	var b strings.Builder
	b.WriteString("| lifetime | simulated | tokens | requests | Entra calls | planned renewal interval | calls per planned interval | calls per lifetime | least left served | default requests that waited | warned | refused (calls) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s | %.3f | %.3f | %s | %d | %d | %d (%d) |\n",
			r.Label, r.Span, r.Tokens, r.Requests, r.Calls, r.MeanPlanned.Round(time.Second), r.CallsPerRenewalGap,
			r.CallsPerLifetime, r.MinLeft.Round(time.Second), r.Waited, r.Warned, r.Refused, r.RefusedCalls)
	}
	return b.String()
}

// SimulateDay runs profiles × scopes active tokens for span on a fake clock,
// each asked for every 1–10 minutes at random with the default min_valid.
// Besides, the first key is asked --min-valid 55m once, mid-span, and the
// second is asked for more than its lifetime every hour.
func SimulateDay(profiles, scopesPer int, span time.Duration, seed uint64, draw func(*rand.Rand) time.Duration) SoakResult {
	clk := clock.NewFake(t0)
	b := New(clk, Policy{})
	defer b.Close()
	rnd := rand.New(rand.NewPCG(seed, seed))
	b.rand = rnd.Float64
	src := &lifetimeSource{clk: clk, rnd: rand.New(rand.NewPCG(seed+1, seed)), draw: draw}
	type key struct {
		profile string
		scopes  []string
		next    time.Time
		// the current token's issuance and planned renewal
		issued, planned time.Time
	}
	// Over every token replaced: the planned renewal intervals its time as
	// the current token made up (1 each when renewals come as planned), and
	// the planned intervals themselves.
	var intervals float64
	var plannedSum time.Duration
	var replaced int
	var keys []*key
	for p := range profiles {
		name := fmt.Sprintf("p%d", p)
		b.SetSource(name, src)
		for s := range scopesPer {
			keys = append(keys, &key{profile: name, scopes: []string{fmt.Sprintf("api://%d/.default", s)}, next: t0})
		}
	}
	// observe records each key's current token and its planned renewal.
	observe := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, k := range keys {
			e := b.entries[k.profile+"\x00"+Key(k.scopes)]
			if e == nil || !e.has {
				continue
			}
			if !e.issuedAt.Equal(k.issued) {
				if !k.issued.IsZero() {
					intervals += float64(e.issuedAt.Sub(k.issued)) / float64(k.planned.Sub(k.issued))
					plannedSum += k.planned.Sub(k.issued)
					replaced++
				}
				k.issued = e.issuedAt
			}
			if e.flight == nil && e.renewAt.After(k.issued) {
				k.planned = e.renewAt
			}
		}
	}
	res := SoakResult{Span: span, Tokens: len(keys), MinLeft: span}
	end := t0.Add(span)
	once := t0.Add(span / 2)
	nextTooLong := t0.Add(time.Hour)
	for clk.Now().Before(end) {
		for _, k := range keys {
			if clk.Now().Before(k.next) {
				continue
			}
			first := k.next.Equal(t0)
			calls := b.IdPCalls()
			s, err := b.Serve(context.Background(), Request{Profile: k.profile, Scopes: k.scopes})
			if err != nil {
				panic(err)
			}
			if !first && b.IdPCalls() != calls {
				res.Waited++
			}
			if s.Warning != "" {
				res.Warned++
			}
			res.Requests++
			res.MinLeft = min(res.MinLeft, s.ExpiresOn.Sub(clk.Now()))
			k.next = clk.Now().Add(time.Minute + time.Duration(rnd.Int64N(int64(9*time.Minute))))
		}
		if !once.IsZero() && !clk.Now().Before(once) {
			once = time.Time{}
			k := keys[0]
			if _, err := b.Serve(context.Background(), Request{Profile: k.profile, Scopes: k.scopes, MinValid: 55 * time.Minute, Explicit: true}); err != nil && tokensource.KindOf(err) != tokensource.KindUsage {
				panic(err)
			} else if err != nil {
				res.Refused++
			}
		}
		if !clk.Now().Before(nextTooLong) {
			nextTooLong = clk.Now().Add(time.Hour)
			k := keys[1]
			b.mu.Lock()
			life := b.entries[k.profile+"\x00"+Key(k.scopes)].lifetime()
			b.mu.Unlock()
			calls := b.IdPCalls()
			_, err := b.Serve(context.Background(), Request{Profile: k.profile, Scopes: k.scopes, MinValid: life + time.Minute, Explicit: true})
			if tokensource.KindOf(err) != tokensource.KindUsage {
				panic(fmt.Sprintf("--min-valid longer than the lifetime: %v", err))
			}
			res.Refused++
			res.RefusedCalls += int(b.IdPCalls() - calls)
		}
		observe()
		clk.Advance(10 * time.Second)
		observe()
	}
	res.Calls = b.IdPCalls()
	src.mu.Lock()
	var total, shortest time.Duration
	for _, l := range src.life {
		total += l
		if shortest == 0 || l < shortest {
			shortest = l
		}
	}
	res.MeanLifetime = total / time.Duration(len(src.life))
	src.mu.Unlock()
	res.Reserve = min(5*time.Minute, shortest/2)
	res.MeanPlanned = plannedSum / time.Duration(replaced)
	perToken := float64(res.Calls) / float64(res.Tokens)
	res.CallsPerLifetime = perToken / (float64(span) / float64(res.MeanLifetime))
	res.CallsPerRenewalGap = float64(replaced) / intervals
	return res
}

// BenchmarkTokenCacheHit is the hot path: a request answered from memory.
func BenchmarkTokenCacheHit(b *testing.B) {
	clk := clock.NewFake(t0)
	br := New(clk, Policy{})
	defer br.Close()
	br.SetSource("prod", &fakeSource{clk: clk, lifetime: time.Hour})
	ctx := context.Background()
	if _, err := br.Token(ctx, "prod", scopes, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := br.Token(ctx, "prod", scopes, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
