package scope

import "testing"

// TestLabelIsOneVocabulary: every scope has one label for people, and
// it is never the wire name (pages said both "System admin" and
// SYSTEM_ADMIN for one role).
func TestLabelIsOneVocabulary(t *testing.T) {
	want := map[Scope]string{None: "No access", Read: "Read", Write: "Write", Admin: "Admin", SystemAdmin: "System admin"}
	for s, label := range want {
		if got := s.Label(); got != label {
			t.Errorf("%v.Label() = %q, want %q", s, got, label)
		}
	}
}
