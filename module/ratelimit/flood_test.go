package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/ratelimit"
)

// TestFloodOfDistinctKeysDoesNotLockOutClients: an attacker sending from
// more addresses than the limiter tracks cannot make it refuse a client it
// has never seen, nor one that keeps within its limit.
func TestFloodOfDistinctKeysDoesNotLockOutClients(t *testing.T) {
	const maxKeys = 1000
	l := ratelimit.New(6*time.Second, 20, maxKeys)
	now := t0
	for round := range 20 {
		for i := range 10 * maxKeys {
			l.Allow(fmt.Sprintf("2001:db8:%d::%d", round, i), now)
		}
		if n := l.Len(); n > maxKeys {
			t.Fatalf("the limiter tracks %d keys, more than its bound %d", n, maxKeys)
		}
		// A client that was never seen is let in in the middle of the flood.
		if !l.Allow(fmt.Sprintf("198.51.100.%d", round), now) {
			t.Fatalf("round %d: a new client was refused because the limiter is full", round)
		}
		// A well-behaved client, one event per interval, always passes.
		if !l.Allow("203.0.113.7", now) {
			t.Fatalf("round %d: a well-behaved client was refused during a flood", round)
		}
		now = now.Add(6 * time.Second)
	}
	if l.Blocked("192.0.2.1", now) {
		t.Fatal("an unknown key is blocked after a flood")
	}
}

// TestFloodKeepsActiveKeysLimited: a key that keeps being used stays
// tracked through a flood of others, so an attacker at its limit cannot
// get a fresh burst by flooding fewer keys than the limiter holds.
func TestFloodKeepsActiveKeysLimited(t *testing.T) {
	l := ratelimit.New(time.Hour, 1, 100)
	l.Allow("attacker", t0)
	for i := range 99 {
		l.Allow(fmt.Sprint(i), t0)
		if l.Allow("attacker", t0) {
			t.Fatalf("after %d other keys the limited key got a fresh burst", i+1)
		}
	}
}

// TestIPv6SlashSixtyFourIsOneKey: a host holding an IPv6 /64 cannot
// present each of its addresses as a separate client to the limiter.
func TestIPv6SlashSixtyFourIsOneKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:99"},
		{"fe80::1%eth0", "fe80::2"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
	} {
		if ka, kb := ratelimit.AddressKey(tc.a), ratelimit.AddressKey(tc.b); ka != kb {
			t.Errorf("AddressKey(%q) = %q, AddressKey(%q) = %q; want one key", tc.a, ka, tc.b, kb)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
		{"not an address", "another"},
	} {
		if ka, kb := ratelimit.AddressKey(tc.a), ratelimit.AddressKey(tc.b); ka == kb {
			t.Errorf("AddressKey(%q) = AddressKey(%q) = %q; want two keys", tc.a, tc.b, ka)
		}
	}
}

// TestGateBoundsConcurrencyAndQueue: a flood of password checks gets at
// most n at once and a bounded queue; the rest are refused at once, and a
// waiter gives up when its request ends.
func TestGateBoundsConcurrencyAndQueue(t *testing.T) {
	g := ratelimit.NewGate(2, 1, time.Hour)
	ctx := context.Background()
	r1, err := g.Enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := g.Enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The one queue place: a waiter that gives up with its context. It
	// tries again while a probe below holds the place for an instant.
	wctx, cancel := context.WithCancel(ctx)
	waiting := make(chan error)
	go func() {
		for {
			_, err := g.Enter(wctx)
			if !errors.Is(err, ratelimit.ErrBusy) {
				waiting <- err
				return
			}
		}
	}()
	// While it waits, the queue is full: others are refused at once. A
	// probe whose request has already ended holds the place only for an
	// instant when it gets it before the waiter does.
	gone, goneCancel := context.WithCancel(ctx)
	goneCancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := g.Enter(gone)
		if errors.Is(err, ratelimit.ErrBusy) {
			break
		}
		if !errors.Is(err, context.Canceled) || time.Now().After(deadline) {
			t.Fatalf("Enter with every slot and the queue taken: %v, want ErrBusy", err)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter whose request ended: %v, want context.Canceled", err)
	}
	r1()
	r3, err := g.Enter(ctx)
	if err != nil {
		t.Fatalf("Enter after a release: %v", err)
	}
	r2()
	r3()

	short := ratelimit.NewGate(1, 5, 20*time.Millisecond)
	r, _ := short.Enter(ctx)
	if _, err := short.Enter(ctx); !errors.Is(err, ratelimit.ErrBusy) {
		t.Fatalf("Enter past maxWait: %v, want ErrBusy", err)
	}
	r()
}

// TestLongKeysTakeBoundedMemory: a flood of huge distinct user names or
// client ids cannot make a full table hold gigabytes; long keys are kept
// hashed and still limited one by one.
func TestLongKeysTakeBoundedMemory(t *testing.T) {
	l := ratelimit.New(time.Hour, 1, 10)
	long := func(c byte) string { return strings.Repeat(string(c), 16<<10) }
	if !l.Allow(long('a'), t0) || l.Allow(long('a'), t0) {
		t.Fatal("a long key is not limited")
	}
	if !l.Allow(long('b'), t0) {
		t.Fatal("two long keys share a bucket")
	}
	if !l.Blocked(long('a'), t0) || !l.Known(long('a')) {
		t.Fatal("Blocked or Known does not find a long key")
	}
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	before := m.HeapAlloc
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = long(byte(i)) + fmt.Sprint(i)
	}
	big := ratelimit.New(time.Hour, 1, len(keys))
	for _, k := range keys {
		big.Allow(k, t0)
	}
	keys = nil
	runtime.GC()
	runtime.ReadMemStats(&m)
	if grown := int64(m.HeapAlloc) - int64(before); grown > 4<<20 {
		t.Fatalf("1000 keys of 16 KiB take %d bytes in the limiter, want the hashes only", grown)
	}
	runtime.KeepAlive(big)
}
