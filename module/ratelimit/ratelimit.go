// Package ratelimit keeps token-bucket limiters per key (a client address,
// a user name, a client id) with bounded memory.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter limits events per key. The zero value is not usable; use New.
type Limiter struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter allowing every events per key on average with
// bursts of burst. At most maxKeys keys are tracked; beyond that the
// oldest-idle buckets are dropped by Sweep and new keys are refused until
// then, which fails closed under a flood of distinct keys.
func New(every time.Duration, burst, maxKeys int) *Limiter {
	return &Limiter{limit: rate.Every(every), burst: burst, max: maxKeys, buckets: map[string]*bucket{}}
}

// Allow reports whether an event for key may happen now and counts it.
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			return false
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// Sweep forgets keys idle for longer than idle; their buckets would be full
// again by now.
func (l *Limiter) Sweep(now time.Time, idle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.buckets {
		if now.Sub(b.seen) > idle {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of tracked keys.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Blocked reports whether key has used up its burst, without counting an
// event; for limits that count only failures.
func (l *Limiter) Blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return len(l.buckets) >= l.max
	}
	return b.lim.TokensAt(now) < 1
}
