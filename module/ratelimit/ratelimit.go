// Package ratelimit keeps token-bucket limiters per key (a client address,
// a user name, a client id) with bounded memory, and a gate bounding
// concurrent expensive work.
package ratelimit

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter limits events per key. The zero value is not usable; use New.
//
// A limiter tracks at most a fixed number of keys. When it is full, a new
// key evicts the least recently seen one instead of being refused, so a
// flood of distinct keys (many source addresses) never locks out a client
// it has not seen: it can only make the limiter forget keys, whose next
// event then starts from a full burst.
type Limiter struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*list.Element
	// recent orders the buckets by when they were last seen, most recent
	// first.
	recent *list.List
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter allowing every events per key on average with
// bursts of burst. At most maxKeys keys are tracked; beyond that the least
// recently seen key is forgotten. A maxKeys or burst of zero refuses every
// event.
func New(every time.Duration, burst, maxKeys int) *Limiter {
	return &Limiter{limit: rate.Every(every), burst: burst, max: maxKeys, buckets: map[string]*list.Element{}, recent: list.New()}
}

// Allow reports whether an event for key may happen now and counts it.
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.touch(key, now)
	if b == nil {
		return false
	}
	return b.lim.AllowN(now, 1)
}

// Remember tracks key as seen now without counting an event, for a set of
// recently seen keys (see Known).
func (l *Limiter) Remember(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.touch(key, now)
}

// Known reports whether key is tracked: seen by Allow or Remember and not
// yet swept or evicted.
func (l *Limiter) Known(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.buckets[boundKey(key)]
	return ok
}

// maxKeyLen bounds the memory a key takes: longer keys (a user name or
// client id of a request) are kept as their SHA-256.
const maxKeyLen = 64

// boundKey returns key, or its SHA-256 when it is longer than maxKeyLen,
// so a table of maxKeys keys takes bounded memory whatever clients send.
func boundKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "\x00sha256:" + string(sum[:])
}

// touch returns the bucket of key marked as seen now, creating it (and
// evicting the least recently seen bucket when full); nil when the
// limiter tracks no keys at all.
func (l *Limiter) touch(key string, now time.Time) *bucket {
	key = boundKey(key)
	if e, ok := l.buckets[key]; ok {
		b := e.Value.(*bucket)
		b.seen = now
		l.recent.MoveToFront(e)
		return b
	}
	if l.max <= 0 {
		return nil
	}
	for l.recent.Len() >= l.max {
		oldest := l.recent.Back()
		delete(l.buckets, oldest.Value.(*bucket).key)
		l.recent.Remove(oldest)
	}
	b := &bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst), seen: now}
	l.buckets[key] = l.recent.PushFront(b)
	return b
}

// Sweep forgets keys idle for longer than idle; their buckets would be full
// again by now.
func (l *Limiter) Sweep(now time.Time, idle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for e := l.recent.Back(); e != nil; {
		prev := e.Prev()
		if b := e.Value.(*bucket); now.Sub(b.seen) > idle {
			delete(l.buckets, b.key)
			l.recent.Remove(e)
		}
		e = prev
	}
}

// Len returns the number of tracked keys.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Blocked reports whether key has used up its burst, without counting an
// event; for limits that count only failures. An unknown key is not
// blocked (it would get a bucket of its own), unless the limiter refuses
// everything.
func (l *Limiter) Blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[boundKey(key)]
	if !ok {
		return l.max <= 0 || l.burst <= 0
	}
	return e.Value.(*bucket).lim.TokensAt(now) < 1
}
