package access

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the per-peer limiters kept; beyond it, the limiters
// that have refilled (and so carry no state) are dropped.
const maxLimiters = 1024

// limiter is one token bucket per peer (uid or SID).
type limiter struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	peers map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{limit: rate.Limit(perSecond), burst: burst, peers: map[string]*rate.Limiter{}}
}

// allow takes one request from key's bucket.
func (l *limiter) allow(key string) bool {
	return l.allowAt(key, time.Now())
}

func (l *limiter) allowAt(key string, now time.Time) bool {
	l.mu.Lock()
	lim := l.peers[key]
	if lim == nil {
		if len(l.peers) >= maxLimiters {
			l.prune(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.peers[key] = lim
	}
	l.mu.Unlock()
	return lim.AllowN(now, 1)
}

// prune drops the limiters that are full at now: forgetting them changes
// nothing. If every one is busy it drops them all rather than grow without
// bound (peers are local users, so this takes an unusual number of them).
// l.mu is held.
func (l *limiter) prune(now time.Time) {
	for k, lim := range l.peers {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.peers, k)
		}
	}
	if len(l.peers) >= maxLimiters {
		clear(l.peers)
	}
}
