package applinks

import (
	"testing"
	"time"
)

// TestActivityForgetsWhatIsOlderThanADay: a link's summary counts the
// last 24 hours only, so a burst of refusals yesterday does not read as
// today's, and links do not share counts.
func TestActivityForgetsWhatIsOlderThanADay(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	a := NewActivity(func() time.Time { return now })
	a.Issued("wiki")
	a.Refused("wiki")
	a.Refused("wiki")
	a.Issued("crm")
	if got := a.Link("wiki"); got.Issued != 1 || got.Refused != 2 {
		t.Fatalf("now: %+v, want 1 issued, 2 refused", got)
	}
	now = now.Add(23 * time.Hour) // 09:30 the next day: still in the window
	a.Issued("wiki")
	if got := a.Link("wiki"); got.Issued != 2 || got.Refused != 2 {
		t.Fatalf("23 h later: %+v, want 2 issued, 2 refused", got)
	}
	now = now.Add(time.Hour) // 10:30: the first hour's bucket has left the window
	if got := a.Link("wiki"); got.Issued != 1 || got.Refused != 0 {
		t.Fatalf("24 h later: %+v, want 1 issued, 0 refused", got)
	}
	a.Refused("wiki") // reuses the bucket of 10:00 the day before
	if got := a.Link("wiki"); got.Issued != 1 || got.Refused != 1 {
		t.Fatalf("after reusing a stale bucket: %+v, want 1 issued, 1 refused", got)
	}
	if got := a.Link("crm"); got.Issued != 0 {
		t.Fatalf("crm after a day: %+v, want nothing", got)
	}
	a.Forget("wiki")
	if got := a.Link("wiki"); got.Issued != 0 || got.Refused != 0 {
		t.Fatalf("after Forget: %+v", got)
	}
}
