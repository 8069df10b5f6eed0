package ipc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the rate limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRateLimiter(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		at        time.Duration // since t0
		key       string
		ok, first bool
	}
	tests := []struct {
		name  string
		limit RateLimit
		steps []step
	}{
		{"burst then refused, reported once", RateLimit{PerSecond: 1, Burst: 2}, []step{
			{0, "uid 1", true, false},
			{0, "uid 1", true, false},
			{0, "uid 1", false, true},
			{0, "uid 1", false, false},
			{500 * time.Millisecond, "uid 1", false, false},
		}},
		{"refills at the rate, not beyond the burst", RateLimit{PerSecond: 10, Burst: 2}, []step{
			{0, "uid 1", true, false},
			{0, "uid 1", true, false},
			{0, "uid 1", false, true},
			{100 * time.Millisecond, "uid 1", true, false},
			{100 * time.Millisecond, "uid 1", false, true}, // a new episode is reported again
			{time.Hour, "uid 1", true, false},
			{time.Hour, "uid 1", true, false},
			{time.Hour, "uid 1", false, true},
		}},
		{"peers have their own buckets", RateLimit{PerSecond: 1, Burst: 1}, []step{
			{0, "uid 1", true, false},
			{0, "uid 1", false, true},
			{0, "uid 2", true, false},
			{0, "user S-1-5-21-1", true, false},
			{0, "uid 2", false, true},
		}},
		{"a clock going back takes nothing", RateLimit{PerSecond: 1, Burst: 1}, []step{
			{time.Second, "uid 1", true, false},
			{0, "uid 1", false, true},
			{2 * time.Second, "uid 1", true, false},
		}},
		{"off", RateLimit{PerSecond: -1}, []step{
			{0, "uid 1", true, false},
			{0, "uid 1", true, false},
			{0, "uid 1", true, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newRateLimiter(tt.limit)
			for i, s := range tt.steps {
				ok, first := l.allow(s.key, t0.Add(s.at))
				if ok != s.ok || first != s.first {
					t.Fatalf("step %d (%s at +%s): ok=%v first=%v, want ok=%v first=%v", i, s.key, s.at, ok, first, s.ok, s.first)
				}
			}
		})
	}
}

func TestRateLimitDefaults(t *testing.T) {
	l := newRateLimiter(RateLimit{})
	if l.perSecond != DefaultRatePerSecond || l.burst != DefaultRateBurst || !l.on {
		t.Fatalf("zero RateLimit: %g/s burst %g on=%v", l.perSecond, l.burst, l.on)
	}
	now := time.Unix(0, 0)
	for i := range DefaultRateBurst {
		if ok, _ := l.allow("uid 7", now); !ok {
			t.Fatalf("request %d within the default burst refused", i)
		}
	}
	if ok, _ := l.allow("uid 7", now); ok {
		t.Fatal("a request beyond the default burst was allowed")
	}
}

func TestRateLimiterBoundsItsMemory(t *testing.T) {
	l := newRateLimiter(RateLimit{PerSecond: 1, Burst: 1})
	now := time.Unix(0, 0)
	// Buckets that refilled are forgotten when room is needed.
	for i := range maxBuckets {
		l.allow(fmt.Sprintf("uid %d", i), now)
	}
	l.allow("uid new", now.Add(time.Second))
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after pruning refilled ones, want 1", n)
	}
	// Even when none has refilled, the map does not grow past the bound.
	for i := range 3 * maxBuckets {
		l.allow(fmt.Sprintf("uid x%d", i), now.Add(time.Second))
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Fatalf("%d buckets, want at most %d", n, maxBuckets)
	}
}

func TestPeerKey(t *testing.T) {
	for _, tt := range []struct {
		p    Peer
		want string
	}{
		{Peer{UID: 1000, PID: 5}, "uid 1000"},
		{Peer{SID: "S-1-5-21-1-2-3-1001"}, "user S-1-5-21-1-2-3-1001"},
	} {
		if got := peerKey(tt.p); got != tt.want {
			t.Errorf("peerKey(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestServerRateLimit(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var errs errorCollector
	s := &Server{Handler: echoHandler, RateLimit: RateLimit{PerSecond: 2, Burst: 3}, OnError: errs.add, now: clk.now}
	path := startServer(t, s)

	call := func() error {
		resp, err := Call(testCtx(t), path, &Request{Op: OpToken, Profile: "p"}, nil)
		if err == nil && (resp.Token == nil || resp.Token.AccessToken != "tok-p") {
			return fmt.Errorf("answer %+v", resp)
		}
		return err
	}
	for i := range 3 {
		if err := call(); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	who := "uid " // peerKey's words for a peer: a SID on Windows
	if runtime.GOOS == "windows" {
		who = "user S-1-5-"
	}
	for i := range 2 {
		err := call()
		var ierr *Error
		if !errors.As(err, &ierr) || ierr.Code != CodeFailed || !strings.Contains(ierr.Message, "busy: too many requests from "+who) {
			t.Fatalf("request %d over the limit: err = %v, want busy", i, err)
		}
	}
	errs.mu.Lock()
	reported := 0
	for _, e := range errs.errs {
		if strings.Contains(e.Error(), "per second") {
			reported++
		}
	}
	errs.mu.Unlock()
	if reported != 1 {
		t.Fatalf("the flood was reported %d times, want once: %v", reported, errs.errs)
	}
	// Half a second refills one request.
	clk.advance(500 * time.Millisecond)
	if err := call(); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
	if err := call(); err == nil {
		t.Fatal("the refill gave more than one request")
	}
}

// TestIdleConnectionsGiveWay: at MaxConns, a client that sends its request
// takes the place of the oldest connection that sent nothing.
func TestIdleConnectionsGiveWay(t *testing.T) {
	var errs errorCollector
	s := &Server{Handler: echoHandler, MaxConns: 2, ReadTimeout: time.Minute, OnError: errs.add}
	path := startServer(t, s)

	idle := make([]net.Conn, 2)
	for i := range idle {
		c, err := Dial(testCtx(t), path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle[i] = c
	}
	// The accept loop tracks connections in order, so both idle ones hold
	// the two places when this request arrives.
	resp, err := Call(testCtx(t), path, &Request{Op: OpToken, Profile: "p"}, nil)
	if err != nil || resp.Token.AccessToken != "tok-p" {
		t.Fatalf("with every place held by idle clients: %+v, %v", resp, err)
	}
	// The oldest idle client was closed without an answer.
	idle[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	var r Response
	if err := ReadMessage(idle[0], &r); err != io.EOF {
		t.Fatalf("oldest idle client: %v, want io.EOF", err)
	}
	idle[1].Close()
}
