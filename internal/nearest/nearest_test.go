package nearest_test

import (
	"testing"

	"github.com/applinks/caddy-applinks/internal/nearest"
)

// TestWordSuggestsOnlyLikelyTypos: a suggestion far from what was typed
// would send the operator the wrong way; only near words are suggested.
func TestWordSuggestsOnlyLikelyTypos(t *testing.T) {
	valid := []string{"READ", "WRITE", "ADMIN", "SYSTEM_ADMIN"}
	for _, tc := range []struct{ word, want string }{
		{"WRTIE", "WRITE"}, // swapped neighbours
		{"write", "WRITE"}, // case
		{"ADMN", "ADMIN"},  // dropped letter
		{"SYSADMIN", ""},   // too far
		{"OWNER", ""},      // nothing like it
		{"REDA", "READ"},   // swap in a short word
		{"SYSTEM_ADMN", "SYSTEM_ADMIN"},
		{"", ""},
	} {
		if got := nearest.Word(tc.word, valid); got != tc.want {
			t.Errorf("Word(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
	if got := nearest.Suggest("WRTIE", valid); got != ` (did you mean "WRITE"?)` {
		t.Errorf("Suggest = %q", got)
	}
	if got := nearest.Suggest("OWNER", valid); got != "" {
		t.Errorf("Suggest of a far word = %q, want nothing", got)
	}
}
