package users

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/scope"
)

// deadIssuer is a loopback URL nothing answers on: a discovery fails at
// once.
const deadIssuer = "http://127.0.0.1:1"

// newTestOIDCLogin builds an OIDCLogin with no directory, sessions,
// keys or pages: enough for configuration checks and claim mapping.
func newTestOIDCLogin(t testing.TB, cfgs ...OIDCConfig) (*OIDCLogin, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return NewOIDCLogin(ctx, cfgs, nil, nil, nil, nil, zap.NewNop(), func() {}, nil, func(string) *http.Client { return &http.Client{Timeout: time.Second} }, time.Now)
}

// testProvider returns the single provider of a valid configuration.
func testProvider(t testing.TB, c OIDCConfig) *oidcProvider {
	t.Helper()
	if c.Issuer == "" {
		c.Issuer = deadIssuer
	}
	if c.ClientID == "" {
		c.ClientID = "gw"
	}
	l, err := newTestOIDCLogin(t, c)
	if err != nil {
		t.Fatalf("NewOIDCLogin: %v", err)
	}
	if len(l.providers) != 1 {
		t.Fatalf("%d providers, want 1", len(l.providers))
	}
	return l.providers[0]
}

func TestOIDCProviderRole(t *testing.T) {
	mapped := OIDCConfig{
		RoleClaim: "groups",
		Roles:     map[string]string{"readers": "READ", "writers": "WRITE", "admins": "ADMIN", "root": "SYSTEM_ADMIN"},
	}
	withDefault := func(c OIDCConfig, d string) OIDCConfig { c.DefaultRole = d; return c }
	tests := []struct {
		name   string
		cfg    OIDCConfig
		claims map[string]any
		want   scope.Scope
	}{
		{"string claim", mapped, map[string]any{"groups": "writers"}, scope.Write},
		{"list claim", mapped, map[string]any{"groups": []any{"admins"}}, scope.Admin},
		{"highest match wins", mapped, map[string]any{"groups": []any{"writers", "root", "readers", "admins"}}, scope.SystemAdmin},
		{"highest match wins, order does not matter", mapped, map[string]any{"groups": []any{"admins", "writers"}}, scope.Admin},
		{"unmapped values are ignored", mapped, map[string]any{"groups": []any{"staff", "writers", 7}}, scope.Write},
		{"no match, implicit default READ", mapped, map[string]any{"groups": []any{"staff"}}, scope.Read},
		{"no match, default WRITE", withDefault(mapped, "WRITE"), map[string]any{"groups": []any{"staff"}}, scope.Write},
		{"no match, default NONE", withDefault(mapped, "NONE"), map[string]any{"groups": []any{"staff"}}, scope.None},
		{"match beats default NONE", withDefault(mapped, "NONE"), map[string]any{"groups": "readers"}, scope.Read},
		{"match below default keeps the match", withDefault(mapped, "ADMIN"), map[string]any{"groups": "readers"}, scope.Read},
		{"claim missing", mapped, map[string]any{"sub": "x"}, scope.Read},
		{"claim missing, default NONE", withDefault(mapped, "NONE"), map[string]any{}, scope.None},
		{"claim of another type", withDefault(mapped, "NONE"), map[string]any{"groups": map[string]any{"admins": true}}, scope.None},
		{"empty list", withDefault(mapped, "NONE"), map[string]any{"groups": []any{}}, scope.None},
		{"values are case-sensitive", withDefault(mapped, "NONE"), map[string]any{"groups": "Admins"}, scope.None},
		{"no role_claim configured", OIDCConfig{DefaultRole: "WRITE"}, map[string]any{"groups": "admins"}, scope.Write},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProvider(t, tt.cfg)
			if got := p.role(tt.claims); got != tt.want {
				t.Fatalf("role(%v) = %v, want %v", tt.claims, got, tt.want)
			}
		})
	}
}

func TestOIDCProviderUserName(t *testing.T) {
	plain := OIDCConfig{Issuer: "https://login.example.com/tenant"}
	domains := OIDCConfig{Issuer: "https://login.example.com/tenant", AllowedDomains: []string{"example.com", "example.org"}}
	untrusted := OIDCConfig{Issuer: "https://login.example.com/tenant", TrustedEmail: flag(false)}
	untrustedDomains := OIDCConfig{Issuer: "https://login.example.com/tenant", AllowedDomains: []string{"example.com"}, TrustedEmail: flag(false)}
	tests := []struct {
		name    string
		cfg     OIDCConfig
		sub     string
		claims  map[string]any
		want    string
		refused bool
	}{
		{"verified e-mail, lowercased", plain, "u1", map[string]any{"email": "Alice@Example.COM", "email_verified": true}, "alice@example.com", false},
		{"unverified e-mail", plain, "u1", map[string]any{"email": "alice@example.com", "email_verified": false}, "u1@login.example.com", false},
		{"e-mail without email_verified", plain, "u1", map[string]any{"email": "alice@example.com"}, "u1@login.example.com", false},
		{"email_verified as a string is not verified", plain, "u1", map[string]any{"email": "alice@example.com", "email_verified": "true"}, "u1@login.example.com", false},
		{"no e-mail", plain, "u1", map[string]any{}, "u1@login.example.com", false},
		{"no e-mail, no subject", plain, "", map[string]any{}, "", true},
		{"allowed domain", domains, "u1", map[string]any{"email": "Bob@Example.org", "email_verified": true}, "bob@example.org", false},
		{"other domain", domains, "u1", map[string]any{"email": "bob@evil.example", "email_verified": true}, "", true},
		{"subdomain is another domain", domains, "u1", map[string]any{"email": "bob@mail.example.com", "email_verified": true}, "", true},
		{"suffix trick", domains, "u1", map[string]any{"email": "bob@example.com@evil.example", "email_verified": true}, "", true},
		{"allowed domain but unverified", domains, "u1", map[string]any{"email": "bob@example.com", "email_verified": false}, "", true},
		{"allowed domain, email_verified missing", domains, "u1", map[string]any{"email": "bob@example.com"}, "", true},
		{"e-mail missing", domains, "u1", map[string]any{"email_verified": true}, "", true},
		{"e-mail without domain", domains, "u1", map[string]any{"email": "bob", "email_verified": true}, "", true},
		{"untrusted provider's verified e-mail does not name", untrusted, "u1", map[string]any{"email": "alice@example.com", "email_verified": true}, "u1@login.example.com", false},
		{"untrusted provider, allowed domain still checked", untrustedDomains, "u1", map[string]any{"email": "bob@evil.example", "email_verified": true}, "", true},
		{"untrusted provider, allowed domain", untrustedDomains, "u1", map[string]any{"email": "bob@example.com", "email_verified": true}, "u1@login.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProvider(t, tt.cfg)
			got, err := p.userName(tt.sub, tt.claims)
			if tt.refused {
				var r refusal
				if err == nil || !errors.As(err, &r) {
					t.Fatalf("userName = %q, %v; want a refusal", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("userName = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestOIDCClaimValues(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want []string
	}{
		{"string", "admins", []string{"admins"}},
		{"empty string", "", []string{""}},
		{"list", []any{"a", "b"}, []string{"a", "b"}},
		{"list with other types", []any{"a", 1.0, true, nil, []any{"x"}, "b"}, []string{"a", "b"}},
		{"empty list", []any{}, []string{}},
		{"missing", nil, nil},
		{"number", 3.0, nil},
		{"bool", true, nil},
		{"object", map[string]any{"a": "b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := claimValues(tt.in)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("claimValues(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewOIDCLoginRefuses(t *testing.T) {
	good := func() OIDCConfig { return OIDCConfig{Issuer: deadIssuer, ClientID: "gw", TrustedEmail: flag(true)} }
	tests := []struct {
		name string
		cfgs []OIDCConfig
		want string // in the error
	}{
		{"not a URL", []OIDCConfig{{Issuer: "login.example.com", ClientID: "gw"}}, "not an absolute http(s) URL"},
		{"unparsable", []OIDCConfig{{Issuer: "https://[::1", ClientID: "gw"}}, "not an absolute http(s) URL"},
		{"empty issuer", []OIDCConfig{{ClientID: "gw"}}, "not an absolute http(s) URL"},
		{"other scheme", []OIDCConfig{{Issuer: "ftp://login.example.com", ClientID: "gw"}}, "not an absolute http(s) URL"},
		{"http on a public host", []OIDCConfig{{Issuer: "http://login.example.com", ClientID: "gw"}}, "must use https"},
		{"http on a private address", []OIDCConfig{{Issuer: "http://10.0.0.1:8080", ClientID: "gw"}}, "must use https"},
		{"missing client_id", []OIDCConfig{{Issuer: deadIssuer}}, "client_id is required"},
		{"bad role", []OIDCConfig{{Issuer: deadIssuer, ClientID: "gw", RoleClaim: "groups", Roles: map[string]string{"admins": "admin"}}}, `role for "admins"`},
		{"role NONE", []OIDCConfig{{Issuer: deadIssuer, ClientID: "gw", RoleClaim: "groups", Roles: map[string]string{"nobody": "NONE"}}}, `role for "nobody"`},
		{"bad default_role", []OIDCConfig{{Issuer: deadIssuer, ClientID: "gw", DefaultRole: "OWNER"}}, "default_role"},
		{"lowercase none", []OIDCConfig{{Issuer: deadIssuer, ClientID: "gw", DefaultRole: "none"}}, "default_role"},
		{"same name", []OIDCConfig{
			{Issuer: deadIssuer, ClientID: "gw", Name: "Corp", TrustedEmail: flag(true)},
			{Issuer: "http://localhost:2", ClientID: "gw", Name: "Corp", TrustedEmail: flag(false)},
		}, `two providers are named "Corp"`},
		{"same default name", []OIDCConfig{good(), good()}, `two providers are named "127.0.0.1:1"`},
		{"several providers, one silent on trusted_email", []OIDCConfig{
			{Issuer: deadIssuer, ClientID: "gw", TrustedEmail: flag(true)},
			{Issuer: "http://localhost:2", ClientID: "gw"},
		}, "trusted_email on|off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := newTestOIDCLogin(t, tt.cfgs...)
			if err == nil {
				t.Fatalf("accepted: %+v", l)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestNewOIDCLoginDefaults(t *testing.T) {
	l, err := newTestOIDCLogin(t,
		OIDCConfig{Issuer: deadIssuer, ClientID: "gw", TrustedEmail: flag(true)},
		OIDCConfig{Issuer: "http://localhost:2/realms/x", ClientID: "gw", Name: "Corp", Scopes: []string{"email", "groups"}, TrustedEmail: flag(false)},
		OIDCConfig{Issuer: "http://[::1]:3", ClientID: "gw", Scopes: []string{"groups", "openid"}, DefaultRole: "NONE", TrustedEmail: flag(true)},
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.providers) != 3 {
		t.Fatalf("%d providers", len(l.providers))
	}
	p0, p1, p2 := l.providers[0], l.providers[1], l.providers[2]
	if !p0.trustedEmail || p1.trustedEmail || !p2.trustedEmail {
		t.Errorf("trusted_email: %v %v %v, want true false true", p0.trustedEmail, p1.trustedEmail, p2.trustedEmail)
	}
	if p0.cfg.Name != "127.0.0.1:1" || p0.host != "127.0.0.1" || p0.defaultRole != scope.Read {
		t.Errorf("provider 0: name %q host %q default %v", p0.cfg.Name, p0.host, p0.defaultRole)
	}
	if !slices.Equal(p0.cfg.Scopes, []string{"openid", "profile", "email"}) {
		t.Errorf("default scopes %v", p0.cfg.Scopes)
	}
	if p1.cfg.Name != "Corp" || p1.host != "localhost" || !slices.Equal(p1.cfg.Scopes, []string{"openid", "email", "groups"}) {
		t.Errorf("provider 1: name %q host %q scopes %v", p1.cfg.Name, p1.host, p1.cfg.Scopes)
	}
	if p2.cfg.Name != "[::1]:3" || p2.host != "::1" || p2.defaultRole != scope.None || !slices.Equal(p2.cfg.Scopes, []string{"groups", "openid"}) {
		t.Errorf("provider 2: name %q host %q default %v scopes %v", p2.cfg.Name, p2.host, p2.defaultRole, p2.cfg.Scopes)
	}
	// https issuers on any host are fine, and a single provider is trusted
	// with e-mail addresses unless told otherwise; no providers at all is
	// fine.
	if l, err := newTestOIDCLogin(t, OIDCConfig{Issuer: "https://login.example.com", ClientID: "gw"}); err != nil || !l.providers[0].trustedEmail {
		t.Errorf("https issuer refused or single provider not trusted: %v", err)
	}
	if l, err := newTestOIDCLogin(t); err != nil || len(l.Buttons("/x")) != 0 {
		t.Errorf("no providers: %v", err)
	}
}

func TestOIDCButtons(t *testing.T) {
	var none *OIDCLogin
	if b := none.Buttons("/x"); b != nil {
		t.Fatalf("nil login has buttons %v", b)
	}
	l, err := newTestOIDCLogin(t,
		OIDCConfig{Issuer: deadIssuer, ClientID: "gw", Name: "Corp & Co", TrustedEmail: flag(true)},
		OIDCConfig{Issuer: "http://localhost:2", ClientID: "gw", TrustedEmail: flag(true)},
	)
	if err != nil {
		t.Fatal(err)
	}
	b := l.Buttons("/page?a=1&b=2")
	if len(b) != 2 || b[0].Name != "Corp & Co" || b[1].Name != "localhost:2" {
		t.Fatalf("buttons %+v", b)
	}
	for i, want := range []string{"Corp & Co", "localhost:2"} {
		u, err := url.Parse(b[i].URL)
		if err != nil || u.Path != OIDCStartPath || u.Query().Get("provider") != want || u.Query().Get("return_to") != "/page?a=1&b=2" {
			t.Errorf("button %d URL %q", i, b[i].URL)
		}
	}
	if u, _ := url.Parse(l.Buttons("")[0].URL); u.Query().Has("return_to") {
		t.Errorf("button without return_to: %s", u)
	}
}

// flag returns a pointer to b, for optional settings.
func flag(b bool) *bool { return &b }
