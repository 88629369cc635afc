package scope_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/applinks/caddy-applinks/module/scope"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    scope.Scope
		wantErr bool
	}{
		{"READ", scope.Read, false},
		{"WRITE", scope.Write, false},
		{"ADMIN", scope.Admin, false},
		{"SYSTEM_ADMIN", scope.SystemAdmin, false},
		{"read", scope.None, true},
		{"Write", scope.None, true},
		{"system_admin", scope.None, true},
		{"SYSTEM-ADMIN", scope.None, true},
		{" READ", scope.None, true},
		{"READ ", scope.None, true},
		{"", scope.None, true},
		{"NONE", scope.None, true},
		{"openid", scope.None, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := scope.Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      scope.Scope
		wantOther []string
	}{
		{"empty", "", scope.None, nil},
		{"blanks", "   ", scope.None, nil},
		{"one", "WRITE", scope.Write, nil},
		{"highest wins", "READ ADMIN WRITE", scope.Admin, nil},
		{"order does not matter", "SYSTEM_ADMIN READ", scope.SystemAdmin, nil},
		{"unknown kept in order", "openid READ profile email", scope.Read, []string{"openid", "profile", "email"}},
		{"only unknown", "openid offline_access", scope.None, []string{"openid", "offline_access"}},
		{"lower case is unknown", "read WRITE", scope.Write, []string{"read"}},
		{"extra spaces", "  READ   openid  ", scope.Read, []string{"openid"}},
		{"duplicates", "READ READ x x", scope.Read, []string{"x", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, other := scope.ParseList(tt.in)
			if got != tt.want {
				t.Errorf("ParseList(%q) highest = %v, want %v", tt.in, got, tt.want)
			}
			if !slices.Equal(other, tt.wantOther) {
				t.Errorf("ParseList(%q) other = %q, want %q", tt.in, other, tt.wantOther)
			}
		})
	}
}

func TestLadder(t *testing.T) {
	ladder := []scope.Scope{scope.None, scope.Read, scope.Write, scope.Admin, scope.SystemAdmin}
	for i, a := range ladder {
		for j, b := range ladder {
			if got, want := a.Includes(b), i >= j; got != want {
				t.Errorf("%v.Includes(%v) = %v, want %v", a, b, got, want)
			}
			want := a
			if j < i {
				want = b
			}
			if got := scope.Min(a, b); got != want {
				t.Errorf("Min(%v, %v) = %v, want %v", a, b, got, want)
			}
			if got := scope.Min(scope.SystemAdmin, a, b); got != want {
				t.Errorf("Min(SYSTEM_ADMIN, %v, %v) = %v, want %v", a, b, got, want)
			}
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in   scope.Scope
		want string
	}{
		{scope.None, ""},
		{scope.Read, "READ"},
		{scope.Write, "WRITE"},
		{scope.Admin, "ADMIN"},
		{scope.SystemAdmin, "SYSTEM_ADMIN"},
		{scope.Scope(-1), "Scope(-1)"},
		{scope.SystemAdmin + 1, "Scope(5)"},
		{scope.Scope(42), "Scope(42)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("Scope(%d).String() = %q, want %q", int(tt.in), got, tt.want)
			}
		})
	}
}

func TestTextRoundTrip(t *testing.T) {
	for _, s := range []scope.Scope{scope.None, scope.Read, scope.Write, scope.Admin, scope.SystemAdmin} {
		t.Run(s.String(), func(t *testing.T) {
			b, err := s.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != s.String() {
				t.Fatalf("MarshalText = %q, want %q", b, s.String())
			}
			got := scope.Scope(99)
			if err := got.UnmarshalText(b); err != nil {
				t.Fatalf("UnmarshalText(%q): %v", b, err)
			}
			if got != s {
				t.Fatalf("round trip of %v gave %v", s, got)
			}
		})
	}
}

func TestUnmarshalTextRefusesUnknown(t *testing.T) {
	for _, in := range []string{"read", "OWNER", " ", "Scope(5)"} {
		t.Run(in, func(t *testing.T) {
			s := scope.Write
			if err := s.UnmarshalText([]byte(in)); err == nil {
				t.Fatalf("UnmarshalText(%q) succeeded with %v", in, s)
			}
			if s != scope.Write {
				t.Fatalf("failed UnmarshalText(%q) changed the value to %v", in, s)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	type doc struct {
		Scope scope.Scope `json:"scope"`
	}
	b, err := json.Marshal(doc{scope.Admin})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"scope":"ADMIN"}` {
		t.Fatalf("json.Marshal = %s", b)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"scope":"SYSTEM_ADMIN"}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.Scope != scope.SystemAdmin {
		t.Fatalf("json.Unmarshal gave %v", d.Scope)
	}
	if err := json.Unmarshal([]byte(`{"scope":"admin"}`), &d); err == nil {
		t.Fatal(`json.Unmarshal accepted "admin"`)
	}
}
