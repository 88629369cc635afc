package scope

import (
	"slices"
	"testing"
)

// TestScopeListWithOtherWhitespaceIsOneUnknownToken: a client cannot ask
// for ADMIN by joining scopes with a tab, a line break or a no-break
// space, which RFC 6749 §3.3 does not separate tokens with and other
// readers of the same parameter would take for one token.
func TestScopeListWithOtherWhitespaceIsOneUnknownToken(t *testing.T) {
	for _, list := range []string{"READ\tADMIN", "READ\nADMIN", "READ\u00a0ADMIN", "READ\u2003ADMIN", "READ\u0085ADMIN"} {
		highest, other := ParseList(list)
		if highest != None || !slices.Equal(other, []string{list}) {
			t.Errorf("ParseList(%q) = %v, %q; want None and the whole list as one unknown token", list, highest, other)
		}
	}
	if highest, other := ParseList("  READ  WRITE openid "); highest != Write || !slices.Equal(other, []string{"openid"}) {
		t.Errorf("repeated spaces: %v, %q", highest, other)
	}
}
