package users

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/applinks/caddy-applinks/module/scope"
)

// FuzzIDTokenClaims: whatever subject and claims an OpenID provider puts
// in an ID token, sign-in either refuses them or names the user by the
// verified e-mail address (in an allowed domain, compared without Unicode
// case folding) or by subject@host, a plain name that maps back to what the
// token said, with a role that the role claim's values or the default give.
func FuzzIDTokenClaims(f *testing.F) {
	for _, s := range [][2]string{
		{"u1", `{"email":"Alice@Example.COM","email_verified":true,"groups":["admins","writers"]}`},
		{"u1", `{"email":"bob@example.com@evil.example","email_verified":true}`},
		{"u1", `{"email":"bob@\u212Aontoso.example","email_verified":true}`},
		{"u1", `{"email":"bob@EXAMPLE.com","email_verified":"true","groups":"readers"}`},
		{"", `{"email":"bob@example.com","email_verified":false}`},
		{"a\nb", `{"groups":[1,"root",null]}`},
		{"u\u0000", `{"email":"x\u0000@example.com","email_verified":true}`},
		{"u1", `{"groups":{"admins":true}}`},
		{"u1", `[]`},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	roles := map[string]string{"readers": "READ", "writers": "WRITE", "admins": "ADMIN", "root": "SYSTEM_ADMIN"}
	trusted := testProvider(f, OIDCConfig{Issuer: "https://login.example.com/tenant", AllowedDomains: []string{"example.com", "kontoso.example"}, RoleClaim: "groups", Roles: roles, DefaultRole: "READ"})
	untrusted := testProvider(f, OIDCConfig{Issuer: "https://login.example.com/tenant", TrustedEmail: flag(false), RoleClaim: "groups", Roles: roles})
	f.Fuzz(func(t *testing.T, sub string, raw []byte) {
		var claims map[string]any
		if json.Unmarshal(raw, &claims) != nil {
			return // the ID token's claims could not be read
		}
		for _, p := range []*oidcProvider{trusted, untrusted} {
			name, err := p.userName(sub, claims)
			if err != nil {
				if _, ok := err.(refusal); !ok {
					t.Fatalf("userName(%q, %s) = %v, not a refusal", sub, raw, err)
				}
			} else {
				checkClaimName(t, p, sub, claims, name)
			}
			role := p.role(claims)
			if want := expectedRole(p, claims); role != want {
				t.Fatalf("role(%s) = %v, want %v", raw, role, want)
			}
		}
	})
}

// checkClaimName asserts what an accepted user name must be.
func checkClaimName(t *testing.T, p *oidcProvider, sub string, claims map[string]any, name string) {
	t.Helper()
	if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 || len(name) > maxClaimName {
		t.Fatalf("accepted user name %q", name)
	}
	email, _ := claims["email"].(string)
	verified, _ := claims["email_verified"].(bool)
	if len(p.cfg.AllowedDomains) > 0 {
		if !verified || strings.Count(email, "@") != 1 {
			t.Fatalf("accepted %q (verified %v) for allowed domains", email, verified)
		}
		_, domain, _ := strings.Cut(email, "@")
		ok := false
		for _, d := range p.cfg.AllowedDomains {
			ok = ok || asciiEqualFold(domain, d)
		}
		if !ok {
			t.Fatalf("accepted %q outside the allowed domains %q", email, p.cfg.AllowedDomains)
		}
	}
	if p.trustedEmail && verified && email != "" {
		if !asciiEqualFold(name, email) || strings.ContainsAny(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("e-mail %q named %q", email, name)
		}
		return
	}
	if name != sub+"@"+p.host {
		t.Fatalf("subject %q at %s named %q", sub, p.host, name)
	}
}

// asciiEqualFold compares a and b ignoring the case of ASCII letters only.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// expectedRole is the role mapping read independently: the highest role
// among the string values of the claim, else the default.
func expectedRole(p *oidcProvider, claims map[string]any) scope.Scope {
	var values []string
	switch v := claims[p.cfg.RoleClaim].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				values = append(values, s)
			}
		}
	}
	best := scope.None
	for _, v := range values {
		if r, ok := p.cfg.Roles[v]; ok {
			s, _ := scope.Parse(r)
			best = max(best, s)
		}
	}
	if best == scope.None {
		return p.defaultRole
	}
	return best
}

// TestEmailWithUnicodeLookalikeIsNotInAllowedDomain: a verified address at
// a look-alike domain spelled with the Kelvin sign (ᴋ, U+212A, which
// Unicode lower-cases to "k") neither passes allowed_domains nor takes the
// user name of the ASCII address.
func TestEmailWithUnicodeLookalikeIsNotInAllowedDomain(t *testing.T) {
	domains := testProvider(t, OIDCConfig{Issuer: "https://login.example.com/tenant", AllowedDomains: []string{"kontoso.example"}})
	if name, err := domains.userName("u1", map[string]any{"email": "bob@\u212Aontoso.example", "email_verified": true}); err == nil {
		t.Fatalf("allowed as %q", name)
	}
	plain := testProvider(t, OIDCConfig{Issuer: "https://login.example.com/tenant"})
	name, err := plain.userName("u1", map[string]any{"email": "\u212Aate@example.com", "email_verified": true})
	if err != nil || name == "kate@example.com" {
		t.Fatalf("named %q, %v; want a name other than kate@example.com", name, err)
	}
}

// TestClaimsWithControlCharactersDoNotNameAUser: a provider cannot make a
// user name holding a line break or NUL, which would forge log lines and
// break the headers and keys the name goes into.
func TestClaimsWithControlCharactersDoNotNameAUser(t *testing.T) {
	p := testProvider(t, OIDCConfig{Issuer: "https://login.example.com/tenant"})
	for _, tt := range []struct {
		sub    string
		claims map[string]any
	}{
		{"u1\nuser=admin", map[string]any{}},
		{"u1\x00", map[string]any{}},
		{"u1", map[string]any{"email": "a\r\nb@example.com", "email_verified": true}},
	} {
		if name, err := p.userName(tt.sub, tt.claims); err == nil {
			t.Errorf("subject %q, claims %v: named %q", tt.sub, tt.claims, name)
		}
	}
}
