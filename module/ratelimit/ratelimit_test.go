package ratelimit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/ratelimit"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestAllow(t *testing.T) {
	type step struct {
		key  string
		at   time.Duration // after t0
		want bool
	}
	tests := []struct {
		name  string
		every time.Duration
		burst int
		max   int
		steps []step
	}{
		{
			name: "burst then refusal", every: time.Second, burst: 3, max: 10,
			steps: []step{{"a", 0, true}, {"a", 0, true}, {"a", 0, true}, {"a", 0, false}, {"a", 0, false}},
		},
		{
			name: "keys are independent", every: time.Second, burst: 1, max: 10,
			steps: []step{{"a", 0, true}, {"a", 0, false}, {"b", 0, true}, {"b", 0, false}},
		},
		{
			name: "one event refills per interval", every: time.Second, burst: 2, max: 10,
			steps: []step{
				{"a", 0, true}, {"a", 0, true}, {"a", 0, false},
				{"a", 500 * time.Millisecond, false},
				{"a", time.Second, true}, {"a", time.Second, false},
				{"a", 2 * time.Second, true}, {"a", 2 * time.Second, false},
			},
		},
		{
			name: "refill stops at burst", every: time.Second, burst: 2, max: 10,
			steps: []step{
				{"a", 0, true}, {"a", 0, true}, {"a", 0, false},
				{"a", time.Hour, true}, {"a", time.Hour, true}, {"a", time.Hour, false},
			},
		},
		{
			name: "refused attempts do not count", every: time.Minute, burst: 1, max: 10,
			steps: []step{
				{"a", 0, true},
				{"a", 30 * time.Second, false}, {"a", 50 * time.Second, false},
				{"a", time.Minute, true},
			},
		},
		{
			name: "a new key evicts the least recently seen when full", every: time.Minute, burst: 1, max: 2,
			steps: []step{
				{"a", 0, true}, {"b", 0, true}, {"a", 0, false},
				// c evicts b (a was seen last), so c is let in ...
				{"c", 0, true},
				// ... a is still limited, and b starts afresh.
				{"a", 0, false}, {"b", 0, true},
			},
		},
		{
			name: "zero max refuses everything", every: time.Second, burst: 5, max: 0,
			steps: []step{{"a", 0, false}, {"a", time.Hour, false}},
		},
		{
			name: "zero burst refuses everything", every: time.Second, burst: 0, max: 10,
			steps: []step{{"a", 0, false}, {"a", time.Hour, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ratelimit.New(tt.every, tt.burst, tt.max)
			for i, s := range tt.steps {
				if got := l.Allow(s.key, t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d: Allow(%q, t0+%v) = %v, want %v", i, s.key, s.at, got, s.want)
				}
			}
		})
	}
}

func TestLenCountsKeys(t *testing.T) {
	l := ratelimit.New(time.Second, 1, 3)
	if n := l.Len(); n != 0 {
		t.Fatalf("Len of a new limiter = %d", n)
	}
	steps := []struct {
		key     string
		wantLen int
	}{{"a", 1}, {"b", 2}, {"a", 2}, {"c", 3}, {"d", 3}, {"e", 3}}
	for _, s := range steps {
		l.Allow(s.key, t0)
		if n := l.Len(); n != s.wantLen {
			t.Fatalf("after Allow(%q) Len = %d, want %d", s.key, n, s.wantLen)
		}
	}
}

func TestSweep(t *testing.T) {
	l := ratelimit.New(time.Second, 1, 2)
	l.Allow("old", t0)
	l.Allow("recent", t0.Add(50*time.Second))

	// Idle exactly for the limit: kept.
	l.Sweep(t0.Add(60*time.Second), 60*time.Second)
	if n := l.Len(); n != 2 {
		t.Fatalf("after sweeping at the idle limit Len = %d, want 2", n)
	}

	l.Sweep(t0.Add(61*time.Second), 60*time.Second)
	if n := l.Len(); n != 1 {
		t.Fatalf("after sweep Len = %d, want 1", n)
	}
	if l.Known("old") || !l.Known("recent") {
		t.Fatal("Sweep forgot the wrong key")
	}
	// "recent" was not forgotten: its bucket is still empty.
	if l.Allow("recent", t0.Add(50*time.Second)) {
		t.Fatal("Sweep reset the bucket of a recent key")
	}
}

func TestSweepRefusedKeyStaysTracked(t *testing.T) {
	// A key that keeps being refused is still active and must not be
	// swept (which would hand it a fresh burst).
	l := ratelimit.New(time.Hour, 1, 10)
	l.Allow("a", t0)
	l.Allow("a", t0.Add(59*time.Second)) // refused, but seen
	l.Sweep(t0.Add(61*time.Second), time.Minute)
	if l.Len() != 1 {
		t.Fatal("Sweep forgot a key that was refused recently")
	}
	if l.Allow("a", t0.Add(61*time.Second)) {
		t.Fatal("a refused key got a fresh burst")
	}
}

func TestBlocked(t *testing.T) {
	l := ratelimit.New(time.Minute, 2, 2)
	if l.Blocked("a", t0) {
		t.Fatal("unknown key blocked while there is room")
	}
	for range 5 {
		if l.Blocked("a", t0) {
			t.Fatal("Blocked consumed events")
		}
	}
	if l.Len() != 0 {
		t.Fatalf("Blocked started tracking a key: Len = %d", l.Len())
	}
	l.Allow("a", t0)
	if l.Blocked("a", t0) {
		t.Fatal("blocked after one of two events")
	}
	l.Allow("a", t0)
	if !l.Blocked("a", t0) {
		t.Fatal("not blocked after the whole burst")
	}
	if !l.Blocked("a", t0.Add(59*time.Second)) {
		t.Fatal("unblocked before one interval passed")
	}
	if l.Blocked("a", t0.Add(time.Minute)) {
		t.Fatal("still blocked after one interval")
	}
	// Blocked did not take the refilled token.
	if !l.Allow("a", t0.Add(time.Minute)) {
		t.Fatal("the refilled event was consumed by Blocked")
	}

	l.Allow("b", t0)
	if l.Blocked("c", t0) {
		t.Fatal("an unknown key is blocked because the limiter is full")
	}
	if l.Blocked("b", t0) {
		t.Fatal("a known key with room is blocked because the limiter is full")
	}
}

func TestConcurrentUse(t *testing.T) {
	l := ratelimit.New(time.Hour, 10, 1000)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if l.Allow("shared", t0) {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				l.Allow(fmt.Sprintf("k%d-%d", g, i), t0)
				l.Blocked("shared", t0)
				if i%10 == 0 {
					l.Sweep(t0, time.Hour)
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 10 {
		t.Fatalf("%d events allowed for one key under concurrency, want the burst of 10", allowed)
	}
}
