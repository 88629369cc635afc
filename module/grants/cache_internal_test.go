package grants

import (
	"testing"
	"time"
)

func key(i int) [32]byte {
	var k [32]byte
	k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
	return k
}

func entry(exp time.Time) *cached { return &cached{access: Access{ExpiresAt: exp}} }

// TestCacheBound: the cache never holds more than its bound, whatever is put.
func TestCacheBound(t *testing.T) {
	now := time.Now()
	c := newCache(cacheShards * 4)
	for i := range 10_000 {
		k := key(i)
		c.put(k, entry(now.Add(time.Hour)), c.forgets(k), now)
	}
	if n := c.len(); n > cacheShards*4 {
		t.Fatalf("cache holds %d entries, bound %d", n, cacheShards*4)
	}
}

// TestCacheExpiry: an expired entry is not returned, and is the first to go
// when a shard is full.
func TestCacheExpiry(t *testing.T) {
	now := time.Now()
	c := newCache(cacheShards)
	k := key(1)
	c.put(k, entry(now.Add(time.Second)), c.forgets(k), now)
	if _, ok := c.get(k, now); !ok {
		t.Fatal("fresh entry not found")
	}
	if _, ok := c.get(k, now.Add(time.Second)); ok {
		t.Fatal("expired entry returned")
	}
	// Same shard (key[0] equal), full: the expired one makes room.
	k2 := key(1 + 256)
	c.put(k2, entry(now.Add(time.Hour)), c.forgets(k2), now.Add(2*time.Second))
	if _, ok := c.get(k2, now.Add(2*time.Second)); !ok || c.len() != 1 {
		t.Fatalf("full shard did not make room: %d entries", c.len())
	}
}

// TestCacheForgetWinsOverRacingPut: a validation that read the store before
// a token was forgotten must not cache it afterwards.
func TestCacheForgetWinsOverRacingPut(t *testing.T) {
	now := time.Now()
	c := newCache(1000)
	k := key(7)
	seen := c.forgets(k) // validation starts, reads the store...
	c.forget(k)          // ...the token is replaced by a refresh...
	c.put(k, entry(now.Add(time.Hour)), seen, now)
	if _, ok := c.get(k, now); ok {
		t.Fatal("a stale validation was cached after forget")
	}
	c.put(k, entry(now.Add(time.Hour)), c.forgets(k), now)
	if _, ok := c.get(k, now); !ok {
		t.Fatal("a validation after forget was not cached")
	}
}
