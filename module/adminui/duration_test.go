package adminui

import (
	"testing"
	"time"
)

// TestHumanDurationIsNotGoSyntax: the overlap of a rotated secret reads
// "24 hours", never Go's "24h0m0s".
func TestHumanDurationIsNotGoSyntax(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "no time"},
		{time.Second, "1 second"},
		{90 * time.Second, "1 minute 30 seconds"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{24 * time.Hour, "24 hours"},
		{36 * time.Hour, "36 hours"},
		{48 * time.Hour, "2 days"},
		{7 * 24 * time.Hour, "7 days"},
		{49 * time.Hour, "49 hours"},
		{1500 * time.Millisecond, "1 second"},
	} {
		if got := humanDuration(tc.in); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
