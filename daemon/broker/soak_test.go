package broker

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/auth"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/secret"
)

var soak = flag.Bool("soak", false, "run the simulated-day soak test (make soak)")

// lifetimeSource issues tokens whose lifetime is drawn from [60, 90) minutes,
// as Entra does, and records each token's lifetime.
type lifetimeSource struct {
	clk  clock.Clock
	rnd  *rand.Rand
	mu   sync.Mutex
	life []time.Duration
}

func (s *lifetimeSource) Acquire(_ context.Context, sc []string) (auth.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := 60*time.Minute + time.Duration(s.rnd.Int64N(int64(30*time.Minute)))
	s.life = append(s.life, l)
	return auth.Token{Value: secret.New("t"), ExpiresOn: s.clk.Now().Add(l), Scopes: sc}, nil
}

// TestSoak simulates a day of 60–90 minute tokens for several profiles with
// requests at random times and reports what the renewal policy cost: Entra
// calls per token lifetime, the smallest remaining lifetime ever served, and
// how many requests waited on Entra after the first.
func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("run with -soak (make soak)")
	}
	r := SimulateDay(8, 3, 24*time.Hour, 7)
	t.Log(r)
	if r.Waited > 0 {
		t.Errorf("%d requests waited on Entra after warm-up", r.Waited)
	}
	if r.MinLeft < 5*time.Minute {
		t.Errorf("served a token with %s left, below min_valid", r.MinLeft)
	}
}

// SoakResult is what SimulateDay measured.
type SoakResult struct {
	Tokens             int           // active (profile, scope) pairs
	Requests           int           // requests served
	Calls              uint64        // provider calls
	Waited             uint64        // requests that waited on the provider, after each key's first
	MinLeft            time.Duration // smallest remaining lifetime served
	CallsPerLifetime   float64       // calls / (simulated time / mean lifetime), per active token
	CallsPerRenewalGap float64       // calls / (simulated time / mean renewal interval), per active token
}

func (r SoakResult) String() string {
	return fmt.Sprintf("%d tokens, %d requests, %d Entra calls, %.3f calls per token lifetime (%.3f per planned renewal interval), smallest lifetime served %s, %d requests waited",
		r.Tokens, r.Requests, r.Calls, r.CallsPerLifetime, r.CallsPerRenewalGap, r.MinLeft.Round(time.Second), r.Waited)
}

// SimulateDay runs profiles × scopes active tokens for span on a fake clock,
// each asked for every 1–10 minutes at random.
func SimulateDay(profiles, scopesPer int, span time.Duration, seed uint64) SoakResult {
	clk := clock.NewFake(t0)
	b := New(clk, Policy{})
	defer b.Close()
	rnd := rand.New(rand.NewPCG(seed, seed))
	b.rand = rnd.Float64
	src := &lifetimeSource{clk: clk, rnd: rand.New(rand.NewPCG(seed+1, seed))}
	type key struct {
		profile string
		scopes  []string
		next    time.Time
	}
	var keys []*key
	for p := range profiles {
		name := fmt.Sprintf("p%d", p)
		b.SetSource(name, src)
		for s := range scopesPer {
			keys = append(keys, &key{profile: name, scopes: []string{fmt.Sprintf("api://%d/.default", s)}, next: t0})
		}
	}
	res := SoakResult{Tokens: len(keys), MinLeft: span}
	end := t0.Add(span)
	for clk.Now().Before(end) {
		for _, k := range keys {
			if clk.Now().Before(k.next) {
				continue
			}
			first := k.next.Equal(t0)
			calls := b.IdPCalls()
			tok, err := b.Token(context.Background(), k.profile, k.scopes, 0)
			if err != nil {
				panic(err)
			}
			if !first && b.IdPCalls() != calls {
				res.Waited++
			}
			res.Requests++
			res.MinLeft = min(res.MinLeft, tok.ExpiresOn.Sub(clk.Now()))
			k.next = clk.Now().Add(time.Minute + time.Duration(rnd.Int64N(int64(9*time.Minute))))
		}
		clk.Advance(10 * time.Second)
	}
	res.Calls = b.IdPCalls()
	src.mu.Lock()
	var total time.Duration
	for _, l := range src.life {
		total += l
	}
	mean := total / time.Duration(len(src.life))
	src.mu.Unlock()
	perToken := float64(res.Calls) / float64(res.Tokens)
	res.CallsPerLifetime = perToken / (float64(span) / float64(mean))
	res.CallsPerRenewalGap = perToken / (float64(span) / (0.75 * float64(mean)))
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
