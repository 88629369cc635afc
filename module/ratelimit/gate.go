package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrBusy means a gate had no room within the wait it allows.
var ErrBusy = errors.New("too many concurrent requests")

// Gate bounds how many callers do expensive work (a password hash) at
// once. Callers beyond that wait, but only a bounded number of them and
// only for a bounded time: a flood is answered with ErrBusy instead of
// piling up, and never takes more than its share of the CPU from other
// work.
type Gate struct {
	slots   chan struct{}
	waiters chan struct{}
	maxWait time.Duration
}

// NewGate returns a gate letting n callers in at once, with up to waiting
// more queued for at most maxWait each. n is at least 1.
func NewGate(n, waiting int, maxWait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(1, n)), waiters: make(chan struct{}, max(0, waiting)), maxWait: maxWait}
}

// Enter waits for room and returns the function that gives it back. It
// fails with ErrBusy when the queue is full or maxWait passes, and with
// the context's error when ctx ends first.
func (g *Gate) Enter(ctx context.Context) (release func(), err error) {
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	select {
	case g.waiters <- struct{}{}:
		defer func() { <-g.waiters }()
	default:
		return nil, ErrBusy
	}
	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free slot: %w", ctx.Err())
	}
}
