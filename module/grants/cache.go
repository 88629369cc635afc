package grants

import (
	"sync"
	"time"
)

const cacheShards = 64

// cache holds validation results by token hash: sharded maps with a bound
// on entries, entries dropped when they expire or when full (an arbitrary
// one makes room). Each shard counts the tokens it was told to forget, so a
// validation that raced with a forget does not store a stale result.
type cache struct {
	perShard int
	shards   [cacheShards]shard
}

type shard struct {
	mu     sync.RWMutex
	m      map[[32]byte]*cached
	forgot uint64
}

func newCache(entries int) *cache {
	c := &cache{perShard: max(1, entries/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*cached)
	}
	return c
}

func (c *cache) shard(key [32]byte) *shard { return &c.shards[key[0]%cacheShards] }

// get returns the live entry for key.
func (c *cache) get(key [32]byte, now time.Time) (*cached, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || !now.Before(e.access.ExpiresAt) {
		return nil, false
	}
	return e, true
}

// forgets returns the shard's forget count, to pass to put.
func (c *cache) forgets(key [32]byte) uint64 {
	s := c.shard(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.forgot
}

// put stores e unless a token of the shard was forgotten since forgets
// returned seen.
func (c *cache) put(key [32]byte, e *cached, seen uint64, now time.Time) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forgot != seen {
		return
	}
	if len(s.m) >= c.perShard {
		evicted := false
		for k, old := range s.m {
			if !now.Before(old.access.ExpiresAt) {
				delete(s.m, k)
				evicted = true
			}
		}
		if !evicted {
			for k := range s.m {
				delete(s.m, k)
				break
			}
		}
	}
	s.m[key] = e
}

// forget drops key.
func (c *cache) forget(key [32]byte) {
	s := c.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.forgot++
	s.mu.Unlock()
}

// len counts the entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
