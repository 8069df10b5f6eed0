package ipc

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Defaults of Server.RateLimit.
const (
	DefaultRatePerSecond = 200
	DefaultRateBurst     = 400
)

// maxBuckets bounds the per-peer buckets kept; beyond it, buckets that have
// refilled (and so carry no state) are dropped.
const maxBuckets = 1024

// RateLimit bounds how many requests one peer (one uid, or one SID on
// Windows) may send: a token bucket holding Burst requests, refilled at
// PerSecond. A request over the limit is answered CodeFailed ("busy: too
// many requests from uid N") and its connection closed; other peers keep
// their own buckets and are not affected. The zero value means the
// defaults (DefaultRatePerSecond, DefaultRateBurst); a negative PerSecond
// turns the limit off.
type RateLimit struct {
	PerSecond float64 // sustained requests per second
	Burst     int     // requests allowed at once, after a quiet spell
}

func (r RateLimit) effective() (perSecond, burst float64, on bool) {
	perSecond, burst = r.PerSecond, float64(r.Burst)
	if perSecond < 0 {
		return 0, 0, false
	}
	if perSecond == 0 {
		perSecond = DefaultRatePerSecond
	}
	if burst <= 0 {
		burst = DefaultRateBurst
	}
	return perSecond, max(burst, 1), true
}

// rateLimiter is a set of token buckets, one per peer key.
type rateLimiter struct {
	perSecond, burst float64
	on               bool

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens   float64
	last     time.Time
	reported bool // the current episode over the limit was reported
}

func newRateLimiter(r RateLimit) *rateLimiter {
	ps, b, on := r.effective()
	return &rateLimiter{perSecond: ps, burst: b, on: on, buckets: make(map[string]*bucket)}
}

// allow takes one token from key's bucket at time now. It returns whether
// the request may go on, and, for a refused one, whether it is the first
// refusal since key was last allowed (so a flood is reported once).
func (l *rateLimiter) allow(key string, now time.Time) (ok, first bool) {
	if !l.on {
		return true, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.perSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		b.reported = false
		return true, false
	}
	first = !b.reported
	b.reported = true
	return false, first
}

// prune drops the buckets that are full again at now: forgetting them
// changes nothing. If every bucket is busy, it drops them all rather than
// grow without bound (peers are local users, so this takes an unusual
// number of them).
func (l *rateLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// peerKey names p's bucket: its SID on Windows, else its uid.
func peerKey(p Peer) string {
	if p.SID != "" {
		return "user " + p.SID
	}
	return fmt.Sprintf("uid %d", p.UID)
}

func (s *Server) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// allowRequest applies the rate limit to a request of p read from c. Over
// the limit, it answers busy and returns false; the caller then closes c.
func (s *Server) allowRequest(c net.Conn, p Peer) bool {
	ok, first := s.limiter.allow(peerKey(p), s.clock())
	if ok {
		return true
	}
	if first {
		s.report(fmt.Errorf("ipc: refusing requests of %s: more than %g per second (burst %g); further refusals are not reported until it slows down",
			p, s.limiter.perSecond, s.limiter.burst))
	}
	s.refuse(c, CodeFailed, "busy: too many requests from "+peerKey(p)+": slow down and try again")
	return false
}
