package adminui

import (
	"fmt"
	"strings"
	"time"
)

// humanDuration writes d for a person: "24 hours", "7 days",
// "1 hour 30 minutes", "no time" for zero. Units below a second are
// dropped.
func humanDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "no time"
	}
	const day = 24 * time.Hour
	units := []struct {
		size time.Duration
		name string
	}{{day, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	// Whole days read better from two days on; "24 hours" stays hours.
	if d < 2*day || d%day != 0 {
		units = units[1:]
	}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 {
			parts = append(parts, plural(int(n), u.name))
			d -= n * u.size
		}
	}
	return strings.Join(parts, " ")
}

// overlapChoice is the label of a rotation keeping the old secret for d.
func overlapChoice(d time.Duration) string {
	if d <= 0 {
		return "Rotate and revoke the old secret now"
	}
	return fmt.Sprintf("Rotate, keep the old secret for %s", humanDuration(d))
}
