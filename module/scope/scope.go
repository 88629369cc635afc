// Package scope defines the permission ladder READ ⊂ WRITE ⊂ ADMIN ⊂
// SYSTEM_ADMIN shared by incoming links, users and the guard.
package scope

import (
	"fmt"
	"strings"

	"github.com/applinks/caddy-applinks/internal/nearest"
)

// Scope is one rung of the permission ladder; a higher value includes every
// lower one. The zero value is None, which grants nothing.
type Scope int

// The permission ladder, lowest first.
const (
	None Scope = iota
	Read
	Write
	Admin
	SystemAdmin
)

var names = [...]string{None: "", Read: "READ", Write: "WRITE", Admin: "ADMIN", SystemAdmin: "SYSTEM_ADMIN"}

// String returns the scope's wire name, e.g. "WRITE"; None is "".
func (s Scope) String() string {
	if s < None || s > SystemAdmin {
		return fmt.Sprintf("Scope(%d)", int(s))
	}
	return names[s]
}

var labels = [...]string{None: "No access", Read: "Read", Write: "Write", Admin: "Admin", SystemAdmin: "System admin"}

// Label returns the scope as pages show it to people, e.g. "System admin"
// for SYSTEM_ADMIN; configuration and the API keep String's wire name.
func (s Scope) Label() string {
	if s < None || s > SystemAdmin {
		return s.String()
	}
	return labels[s]
}

// Includes reports whether s grants at least need.
func (s Scope) Includes(need Scope) bool { return s >= need }

// Parse returns the scope with the given case-sensitive wire name; the
// error for an unknown one suggests the nearest name.
func Parse(name string) (Scope, error) {
	if s, ok := lookup(name); ok {
		return s, nil
	}
	return None, fmt.Errorf("unknown scope %q: want READ, WRITE, ADMIN or SYSTEM_ADMIN%s", name, nearest.Suggest(name, names[Read:SystemAdmin+1]))
}

func lookup(name string) (Scope, bool) {
	for s := Read; s <= SystemAdmin; s++ {
		if names[s] == name {
			return s, true
		}
	}
	return None, false
}

// ParseList parses a space-separated scope parameter (RFC 6749 §3.3) and
// returns the highest scope it names, with the tokens it did not recognise
// (such as OpenID Connect scopes) in order. An empty list gives None.
// Only the ASCII space separates tokens, as in the RFC: "READ\tADMIN" or
// one with a no-break space is one unknown token, not two scopes that a
// client, a log or another server would read differently.
func ParseList(list string) (highest Scope, other []string) {
	for _, f := range strings.Split(list, " ") {
		if f == "" {
			continue
		}
		s, ok := lookup(f)
		if !ok {
			other = append(other, f)
			continue
		}
		highest = max(highest, s)
	}
	return highest, other
}

// Min returns the lowest of the scopes given.
func Min(s Scope, more ...Scope) Scope {
	for _, m := range more {
		s = min(s, m)
	}
	return s
}

// MarshalText encodes the scope as its wire name.
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a wire name; the empty string is None.
func (s *Scope) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = None
		return nil
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
