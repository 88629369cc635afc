package applinks

import (
	"sync"
	"time"
)

// activityHours is how far back Activity counts: the last day, in hourly
// buckets.
const activityHours = 24

// Activity counts, per incoming link and in memory only, the token pairs
// issued and the token requests refused over the last 24 hours, for the
// administration UI. It is fed by the token service's observer: nothing is
// written to the store, and the guard's path is untouched. Counts are per
// process and start again at zero when Caddy restarts; a reload keeps
// them only if the app is not provisioned anew.
type Activity struct {
	mu    sync.Mutex
	now   func() time.Time
	links map[string]*activityRing
}

// activityRing is one link's hourly buckets, indexed by hour modulo
// activityHours; a bucket whose hour is not the one asked for is stale.
type activityRing [activityHours]activityBucket

type activityBucket struct {
	hour            int64
	issued, refused int
}

// LinkActivity is what a link did over the last 24 hours.
type LinkActivity struct {
	Issued, Refused int
	// Since is when counting began: the start of the window, or when the
	// process started if that is later.
	Since time.Time
}

// NewActivity returns empty counters; now is the clock.
func NewActivity(now func() time.Time) *Activity {
	return &Activity{now: now, links: map[string]*activityRing{}}
}

// Issued counts a token pair issued to the link linkID.
func (a *Activity) Issued(linkID string) { a.add(linkID, 1, 0) }

// Refused counts a refused token request of the link linkID.
func (a *Activity) Refused(linkID string) { a.add(linkID, 0, 1) }

// Forget drops a deleted link's counters.
func (a *Activity) Forget(linkID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.links, linkID)
}

func (a *Activity) add(linkID string, issued, refused int) {
	if linkID == "" {
		return
	}
	hour := a.now().Unix() / 3600
	a.mu.Lock()
	defer a.mu.Unlock()
	ring, ok := a.links[linkID]
	if !ok {
		ring = new(activityRing)
		a.links[linkID] = ring
	}
	b := &ring[hour%activityHours]
	if b.hour != hour {
		*b = activityBucket{hour: hour}
	}
	b.issued += issued
	b.refused += refused
}

// Link returns the link's counts over the last 24 hours (the current hour
// and the 23 before it).
func (a *Activity) Link(linkID string) LinkActivity {
	now := a.now()
	hour := now.Unix() / 3600
	out := LinkActivity{Since: time.Unix((hour-activityHours+1)*3600, 0)}
	a.mu.Lock()
	defer a.mu.Unlock()
	ring, ok := a.links[linkID]
	if !ok {
		return out
	}
	for _, b := range ring {
		if b.hour > hour-activityHours && b.hour <= hour {
			out.Issued += b.issued
			out.Refused += b.refused
		}
	}
	return out
}
