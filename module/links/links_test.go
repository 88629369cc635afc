package links_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/token"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable time source for the registry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type fixture struct {
	reg     *links.Registry
	st      store.Store
	clock   *clock
	changed int
}

func testKeys(t *testing.T) *secret.Keys {
	t.Helper()
	k, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t *testing.T, declared ...links.ConfigLink) *fixture {
	t.Helper()
	f := &fixture{st: badgertest.Open(t), clock: &clock{now: t0}}
	reg, err := links.New(f.st, testKeys(t), declared, f.clock.Now, zap.NewNop(), func() { f.changed++ })
	if err != nil {
		t.Fatalf("links.New: %v", err)
	}
	f.reg = reg
	return f
}

func (f *fixture) create(t *testing.T, name string) (links.Link, string) {
	t.Helper()
	l, sec, err := f.reg.Create(context.Background(), links.NewLink{
		Name:         name,
		RedirectURIs: []string{"https://app.example.com/callback"},
		Ceiling:      scope.Write,
		CreatedBy:    "admin",
	})
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return l, sec
}

func TestValidateRedirectURIs(t *testing.T) {
	tests := []struct {
		name string
		uris []string
		ok   bool
	}{
		{"https", []string{"https://app.example.com/cb"}, true},
		{"https with port and query", []string{"https://app.example.com:8443/cb?x=1"}, true},
		{"upper-case scheme", []string{"HTTPS://app.example.com/cb"}, true},
		{"http localhost", []string{"http://localhost/cb"}, true},
		{"http localhost with port", []string{"http://localhost:8080/cb"}, true},
		{"http sub.localhost", []string{"http://app.localhost:3000/cb"}, true},
		{"http 127.0.0.1", []string{"http://127.0.0.1:51004/cb"}, true},
		{"http 127.5.6.7", []string{"http://127.5.6.7/cb"}, true},
		{"http [::1]", []string{"http://[::1]:8080/cb"}, true},
		{"private-use scheme", []string{"com.example.app:/cb"}, true},
		{"private-use scheme with authority", []string{"com.example.app://cb"}, true},
		{"several valid", []string{"https://a.example/cb", "http://localhost/cb"}, true},

		{"none", nil, false},
		{"empty list", []string{}, false},
		{"empty string", []string{""}, false},
		{"relative", []string{"/callback"}, false},
		{"scheme-relative", []string{"//app.example.com/cb"}, false},
		{"no scheme host only", []string{"app.example.com/cb"}, false},
		{"fragment", []string{"https://app.example.com/cb#frag"}, false},
		{"empty fragment", []string{"https://app.example.com/cb#"}, false},
		{"http public host", []string{"http://app.example.com/cb"}, false},
		{"http private address", []string{"http://192.168.1.10/cb"}, false},
		{"http localhost lookalike", []string{"http://localhost.evil.com/cb"}, false},
		{"http userinfo localhost", []string{"http://localhost@evil.com/cb"}, false},
		{"http 0.0.0.0", []string{"http://0.0.0.0/cb"}, false},
		{"https without host", []string{"https:///cb"}, false},
		{"https opaque", []string{"https:app.example.com"}, false},
		{"custom scheme without dot", []string{"myapp://cb"}, false},
		{"javascript", []string{"javascript:alert(1)"}, false},
		{"data", []string{"data:text/html,hi"}, false},
		{"control character", []string{"https://app.example.com/c\nb"}, false},
		{"one bad among good", []string{"https://a.example/cb", "http://evil.example/cb"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := links.ValidateRedirectURIs(tt.uris)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateRedirectURIs(%q) = %v, want ok %v", tt.uris, err, tt.ok)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"a.localhost", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"localhost.example", false},
		{"mylocalhost", false},
		{"10.0.0.1", false},
		{"::", false},
		{"", false},
		{"example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := links.IsLoopback(tt.host); got != tt.want {
				t.Fatalf("IsLoopback(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

func TestConfigLinks(t *testing.T) {
	f := newFixture(t,
		links.ConfigLink{Name: "zeta", RedirectURIs: []string{"https://z.example/cb"}, ClientSecret: "zeta-secret"},
		links.ConfigLink{Name: "alpha", RedirectURIs: []string{"https://a.example/cb", "http://localhost/cb"}, ClientID: "alpha-client", Scope: "ADMIN", ClientSecret: "alpha-secret", RequirePKCE: true},
	)
	ctx := context.Background()

	tests := []struct {
		name         string
		clientID     string
		wantID       string
		wantCeiling  scope.Scope
		wantPKCE     bool
		wantRedirect string
	}{
		{"defaults", "zeta", "cfg-zeta", scope.Read, false, "https://z.example/cb"},
		{"explicit", "alpha-client", "cfg-alpha", scope.Admin, true, "http://localhost/cb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := f.reg.ByClientID(ctx, tt.clientID)
			if err != nil {
				t.Fatalf("ByClientID(%q): %v", tt.clientID, err)
			}
			if l.ID != tt.wantID || l.ID != links.ConfigID(l.Name) {
				t.Errorf("ID = %q, want %q", l.ID, tt.wantID)
			}
			if l.Source != links.SourceConfig {
				t.Errorf("Source = %q, want %q", l.Source, links.SourceConfig)
			}
			if l.Ceiling != tt.wantCeiling || l.Link.Ceiling != tt.wantCeiling.String() {
				t.Errorf("Ceiling = %v / %q, want %v", l.Ceiling, l.Link.Ceiling, tt.wantCeiling)
			}
			if l.RequirePKCE != tt.wantPKCE {
				t.Errorf("RequirePKCE = %v, want %v", l.RequirePKCE, tt.wantPKCE)
			}
			if !l.AllowsRedirect(tt.wantRedirect) {
				t.Errorf("AllowsRedirect(%q) = false", tt.wantRedirect)
			}
			byID, err := f.reg.Get(ctx, tt.wantID)
			if err != nil {
				t.Fatalf("Get(%q): %v", tt.wantID, err)
			}
			if byID.ClientID != tt.clientID {
				t.Errorf("Get(%q).ClientID = %q, want %q", tt.wantID, byID.ClientID, tt.clientID)
			}
			if c, err := f.reg.Ceiling(ctx, tt.wantID); err != nil || c != tt.wantCeiling {
				t.Errorf("Ceiling(%q) = %v, %v; want %v", tt.wantID, c, err, tt.wantCeiling)
			}
		})
	}

	t.Run("secret sealed, readable", func(t *testing.T) {
		l, err := f.reg.Get(ctx, "cfg-alpha")
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Secrets) != 1 || strings.Contains(string(l.Secrets[0].Sealed), "alpha-secret") {
			t.Fatalf("config secret is not sealed: %q", l.Secrets)
		}
		if sec, err := f.reg.Secret(l); err != nil || sec != "alpha-secret" {
			t.Fatalf("Secret = %q, %v; want alpha-secret", sec, err)
		}
	})

	t.Run("List orders config links by name, then runtime links", func(t *testing.T) {
		f.create(t, "beta")
		ls, err := f.reg.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range ls {
			got = append(got, l.Source+":"+l.Name)
		}
		want := "config:alpha config:zeta runtime:beta"
		if strings.Join(got, " ") != want {
			t.Fatalf("List = %q, want %q", got, want)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		if _, err := f.reg.Get(ctx, "cfg-nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(unknown) error = %v, want ErrNotFound", err)
		}
		if _, err := f.reg.ByClientID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ByClientID(unknown) error = %v, want ErrNotFound", err)
		}
		if c, err := f.reg.Ceiling(ctx, "nope"); !errors.Is(err, store.ErrNotFound) || c != scope.None {
			t.Errorf("Ceiling(unknown) = %v, %v; want None, ErrNotFound", c, err)
		}
	})
}

func TestNewRefuses(t *testing.T) {
	good := func(name string) links.ConfigLink {
		return links.ConfigLink{Name: name, RedirectURIs: []string{"https://app.example/cb"}, ClientSecret: "s3cret"}
	}
	with := func(c links.ConfigLink, fn func(*links.ConfigLink)) links.ConfigLink {
		fn(&c)
		return c
	}
	tests := []struct {
		name     string
		declared []links.ConfigLink
	}{
		{"duplicate name", []links.ConfigLink{good("a"), good("a")}},
		{"duplicate client id", []links.ConfigLink{good("a"), with(good("b"), func(c *links.ConfigLink) { c.ClientID = "a" })}},
		{"duplicate explicit client id", []links.ConfigLink{
			with(good("a"), func(c *links.ConfigLink) { c.ClientID = "x" }),
			with(good("b"), func(c *links.ConfigLink) { c.ClientID = "x" }),
		}},
		{"lower-case scope", []links.ConfigLink{with(good("a"), func(c *links.ConfigLink) { c.Scope = "read" })}},
		{"unknown scope", []links.ConfigLink{with(good("a"), func(c *links.ConfigLink) { c.Scope = "OWNER" })}},
		{"missing secret", []links.ConfigLink{with(good("a"), func(c *links.ConfigLink) { c.ClientSecret = "" })}},
		{"missing redirect", []links.ConfigLink{with(good("a"), func(c *links.ConfigLink) { c.RedirectURIs = nil })}},
		{"bad redirect", []links.ConfigLink{with(good("a"), func(c *links.ConfigLink) { c.RedirectURIs = []string{"http://example.com/cb"} })}},
		{"empty name", []links.ConfigLink{good("")}},
		{"blank name", []links.ConfigLink{good("  ")}},
		{"control character in name", []links.ConfigLink{good("a\nb")}},
		{"name too long", []links.ConfigLink{good(strings.Repeat("n", 101))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := links.New(nil, testKeys(t), tt.declared, time.Now, zap.NewNop(), func() {})
			if err == nil {
				t.Fatalf("New accepted %+v", tt.declared)
			}
			if reg != nil {
				t.Fatal("New returned a registry with an error")
			}
		})
	}
	t.Run("100-character name is fine", func(t *testing.T) {
		if _, err := links.New(nil, testKeys(t), []links.ConfigLink{good(strings.Repeat("n", 100))}, time.Now, zap.NewNop(), func() {}); err != nil {
			t.Fatal(err)
		}
	})
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestCreate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, sec, err := f.reg.Create(ctx, links.NewLink{
		Name:         "Jira",
		RedirectURIs: []string{"https://jira.example.com/plugins/servlet/oauth2/callback"},
		Ceiling:      scope.Admin,
		RequirePKCE:  true,
		CreatedBy:    "alice",
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Source != links.SourceRuntime || l.Ceiling != scope.Admin || l.Link.Ceiling != "ADMIN" || !l.RequirePKCE || l.CreatedBy != "alice" {
		t.Errorf("Create returned %+v", l)
	}
	if !hex32.MatchString(l.ID) || !hex32.MatchString(l.ClientID) || l.ID == l.ClientID {
		t.Errorf("id %q / client id %q are not distinct random hex", l.ID, l.ClientID)
	}
	if !l.CreatedAt.Equal(t0) || !l.UpdatedAt.Equal(t0) {
		t.Errorf("CreatedAt %v / UpdatedAt %v, want %v", l.CreatedAt, l.UpdatedAt, t0)
	}
	if token.Kind(sec) != token.ClientSecret {
		t.Errorf("secret %q is not a client-secret token", sec)
	}

	got, err := f.reg.Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Jira" || got.ClientID != l.ClientID || got.Source != links.SourceRuntime || got.Ceiling != scope.Admin {
		t.Errorf("Get after Create = %+v", got)
	}
	if s, err := f.reg.Secret(got); err != nil || s != sec {
		t.Errorf("Secret = %q, %v; want %q", s, err, sec)
	}
	if byClient, err := f.reg.ByClientID(ctx, l.ClientID); err != nil || byClient.ID != l.ID {
		t.Errorf("ByClientID = %+v, %v", byClient, err)
	}
	if a, err := f.reg.Authenticate(ctx, l.ClientID, sec); err != nil || a.ID != l.ID {
		t.Errorf("Authenticate with the new secret: %v", err)
	}

	_, sec2, err := f.reg.Create(ctx, links.NewLink{Name: "Confluence", RedirectURIs: []string{"https://c.example/cb"}, Ceiling: scope.Read})
	if err != nil {
		t.Fatal(err)
	}
	if sec2 == sec {
		t.Error("two links got the same secret")
	}
}

func TestCreateRefuses(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "declared", RedirectURIs: []string{"https://d.example/cb"}, ClientSecret: "x"})
	f.create(t, "runtime")
	ok := links.NewLink{Name: "fresh", RedirectURIs: []string{"https://app.example/cb"}, Ceiling: scope.Read}
	with := func(fn func(*links.NewLink)) links.NewLink {
		l := ok
		fn(&l)
		return l
	}
	tests := []struct {
		name   string
		in     links.NewLink
		exists bool
	}{
		{"name of a config link", with(func(l *links.NewLink) { l.Name = "declared" }), true},
		{"name of a runtime link", with(func(l *links.NewLink) { l.Name = "runtime" }), true},
		{"no permission", with(func(l *links.NewLink) { l.Ceiling = scope.None }), false},
		{"no redirect", with(func(l *links.NewLink) { l.RedirectURIs = nil }), false},
		{"http redirect", with(func(l *links.NewLink) { l.RedirectURIs = []string{"http://app.example/cb"} }), false},
		{"fragment redirect", with(func(l *links.NewLink) { l.RedirectURIs = []string{"https://app.example/cb#x"} }), false},
		{"empty name", with(func(l *links.NewLink) { l.Name = "" }), false},
		{"blank name", with(func(l *links.NewLink) { l.Name = " \t" }), false},
		{"control character", with(func(l *links.NewLink) { l.Name = "a\x7fb" }), false},
		{"long name", with(func(l *links.NewLink) { l.Name = strings.Repeat("x", 101) }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sec, err := f.reg.Create(context.Background(), tt.in)
			if err == nil {
				t.Fatalf("Create(%+v) succeeded", tt.in)
			}
			if sec != "" {
				t.Errorf("failed Create returned secret %q", sec)
			}
			if got := errors.Is(err, store.ErrAlreadyExists); got != tt.exists {
				t.Errorf("Create error %v: errors.Is(ErrAlreadyExists) = %v, want %v", err, got, tt.exists)
			}
		})
	}
	ls, err := f.reg.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Fatalf("refused creations left links behind: %d links", len(ls))
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t,
		links.ConfigLink{Name: "declared", RedirectURIs: []string{"https://d.example/cb"}, ClientSecret: "declared-secret"},
	)
	rt, rtSecret := f.create(t, "runtime")
	other, otherSecret := f.create(t, "other")
	ctx := context.Background()
	tests := []struct {
		name, clientID, secret string
		wantID                 string // "" means ErrBadClient
	}{
		{"config link", "declared", "declared-secret", "cfg-declared"},
		{"config link wrong secret", "declared", "declared-secreT", ""},
		{"config link empty secret", "declared", "", ""},
		{"config link secret prefix", "declared", "declared", ""},
		{"runtime link", rt.ClientID, rtSecret, rt.ID},
		{"runtime link wrong secret", rt.ClientID, token.New(token.ClientSecret), ""},
		{"runtime link other link's secret", rt.ClientID, otherSecret, ""},
		{"other link", other.ClientID, otherSecret, other.ID},
		{"unknown client", "nobody", "declared-secret", ""},
		{"empty client", "", "", ""},
		{"client id by name", "runtime", rtSecret, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := f.reg.Authenticate(ctx, tt.clientID, tt.secret)
			if tt.wantID == "" {
				if !errors.Is(err, links.ErrBadClient) {
					t.Fatalf("Authenticate = %+v, %v; want ErrBadClient", l, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if l.ID != tt.wantID {
				t.Fatalf("Authenticate gave link %q, want %q", l.ID, tt.wantID)
			}
		})
	}
}

func TestRotateSecret(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, old := f.create(t, "app")

	rotatedAt := t0.Add(time.Hour)
	f.clock.Set(rotatedAt)
	cur, err := f.reg.RotateSecret(ctx, l.ID, links.DefaultSecretOverlap, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if cur == old || token.Kind(cur) != token.ClientSecret {
		t.Fatalf("RotateSecret returned %q (old %q)", cur, old)
	}
	got, err := f.reg.Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := f.reg.Secret(got); err != nil || s != cur {
		t.Fatalf("Secret after rotation = %q, %v; want the new %q", s, err, cur)
	}
	if !got.UpdatedAt.Equal(rotatedAt) {
		t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, rotatedAt)
	}

	end := rotatedAt.Add(links.DefaultSecretOverlap)
	tests := []struct {
		name    string
		at      time.Time
		secret  string
		wantErr error
	}{
		{"new secret right away", rotatedAt, cur, nil},
		{"old secret right away", rotatedAt, old, nil},
		{"old secret just before the end of the overlap", end.Add(-time.Nanosecond), old, nil},
		{"old secret at the end of the overlap", end, old, links.ErrBadClient},
		{"old secret after the overlap", end.Add(time.Hour), old, links.ErrBadClient},
		{"new secret after the overlap", end.Add(time.Hour), cur, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Set(tt.at)
			_, err := f.reg.Authenticate(ctx, l.ClientID, tt.secret)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate at %v = %v, want %v", tt.at, err, tt.wantErr)
			}
		})
	}
}

func TestRotateSecretTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, s0 := f.create(t, "app")

	f.clock.Set(t0)
	s1, err := f.reg.RotateSecret(ctx, l.ID, 24*time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// A second rotation with a longer overlap does not extend s0; one with
	// a shorter overlap would cut it.
	r2 := t0.Add(time.Hour)
	f.clock.Set(r2)
	s2, err := f.reg.RotateSecret(ctx, l.ID, 48*time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	check := func(at time.Time, sec string, want bool) {
		t.Helper()
		f.clock.Set(at)
		_, err := f.reg.Authenticate(ctx, l.ClientID, sec)
		if (err == nil) != want {
			t.Errorf("Authenticate at t0+%v: err = %v, want accepted %v", at.Sub(t0), err, want)
		}
	}
	check(t0.Add(24*time.Hour-time.Second), s0, true)
	check(t0.Add(24*time.Hour), s0, false)
	check(t0.Add(24*time.Hour), s1, true)
	check(r2.Add(48*time.Hour-time.Second), s1, true)
	check(r2.Add(48*time.Hour), s1, false)
	check(r2.Add(48*time.Hour), s2, true)

	// Rotating with no overlap drops every older secret at once.
	r3 := t0.Add(2 * time.Hour)
	f.clock.Set(r3)
	s3, err := f.reg.RotateSecret(ctx, l.ID, 0, "admin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.reg.Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 1 {
		t.Fatalf("after a rotation without overlap the link keeps %d secrets, want 1", len(got.Secrets))
	}
	for _, s := range []string{s0, s1, s2} {
		check(r3, s, false)
	}
	check(r3, s3, true)
}

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, sec := f.create(t, "app")
	other, _ := f.create(t, "other")
	audit, logs := observer.New(zap.InfoLevel)
	reg, err := links.New(f.st, testKeys(t), nil, f.clock.Now, zap.New(audit), func() { f.changed++ })
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(t0.Add(time.Hour))
	uris := []string{"https://app.example.com/new", "http://localhost:8080/cb"}
	got, err := reg.Update(ctx, l.ID, links.Edit{RedirectURIs: uris, Ceiling: scope.Read, RequirePKCE: true}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if f.changed != 1 {
		t.Errorf("changed callback called %d times, want 1", f.changed)
	}
	check := func(what string, got links.Link) {
		t.Helper()
		if got.ID != l.ID || got.Name != "app" || got.ClientID != l.ClientID || got.Source != links.SourceRuntime || got.CreatedBy != "admin" {
			t.Errorf("%s: identity changed: %+v", what, got)
		}
		if got.Ceiling != scope.Read || got.Link.Ceiling != "READ" || !got.RequirePKCE || strings.Join(got.RedirectURIs, " ") != strings.Join(uris, " ") {
			t.Errorf("%s: ceiling %v / %q, PKCE %v, redirects %v", what, got.Ceiling, got.Link.Ceiling, got.RequirePKCE, got.RedirectURIs)
		}
		if !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("%s: CreatedAt %v / UpdatedAt %v", what, got.CreatedAt, got.UpdatedAt)
		}
		if len(got.Secrets) != 1 || string(got.Secrets[0].Sealed) != string(l.Secrets[0].Sealed) {
			t.Errorf("%s: secrets changed", what)
		}
	}
	check("Update", got)
	stored, err := f.reg.Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("Get after Update", stored)
	if c, err := f.reg.Ceiling(ctx, l.ID); err != nil || c != scope.Read {
		t.Errorf("Ceiling after Update = %v, %v; want READ", c, err)
	}
	if _, err := f.reg.Authenticate(ctx, l.ClientID, sec); err != nil {
		t.Errorf("the secret no longer authenticates after Update: %v", err)
	}
	if o, err := f.reg.Get(ctx, other.ID); err != nil || o.Ceiling != scope.Write || o.AllowsRedirect(uris[0]) {
		t.Errorf("Update of one link changed another: %+v, %v", o, err)
	}

	entries := logs.FilterMessage("link updated").All()
	if len(entries) != 1 {
		t.Fatalf("%d \"link updated\" audit entries, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	if fields["link_id"] != l.ID || fields["by"] != "bob" || fields["scope"] != "READ" {
		t.Errorf("audit fields %v", fields)
	}
	for k, v := range fields {
		if s, ok := v.(string); ok && (s == sec || strings.Contains(s, string(token.ClientSecret))) {
			t.Errorf("audit field %s holds a secret", k)
		}
	}

	if _, err := reg.Update(ctx, "nope", links.Edit{RedirectURIs: uris, Ceiling: scope.Read}, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of an unknown link = %v, want ErrNotFound", err)
	}
	if f.changed != 1 {
		t.Errorf("changed callback called for a missing link (%d calls)", f.changed)
	}
}

// TestUpdateRefuses: an edit Create would refuse is refused with Create's
// message, nothing is written and nobody is told of a change; config links
// are read-only.
func TestUpdateRefuses(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "declared", RedirectURIs: []string{"https://d.example/cb"}, ClientSecret: "x"})
	ctx := context.Background()
	l, _ := f.create(t, "app")
	ok := links.Edit{RedirectURIs: []string{"https://app.example/cb"}, Ceiling: scope.Read}
	with := func(fn func(*links.Edit)) links.Edit {
		e := ok
		fn(&e)
		return e
	}
	tests := []struct {
		name string
		in   links.Edit
	}{
		{"no permission", with(func(e *links.Edit) { e.Ceiling = scope.None })},
		{"permission above the ladder", with(func(e *links.Edit) { e.Ceiling = scope.SystemAdmin + 1 })},
		{"no redirect", with(func(e *links.Edit) { e.RedirectURIs = nil })},
		{"http redirect", with(func(e *links.Edit) { e.RedirectURIs = []string{"http://app.example/cb"} })},
		{"fragment redirect", with(func(e *links.Edit) { e.RedirectURIs = []string{"https://app.example/cb#x"} })},
		{"one bad among good", with(func(e *links.Edit) { e.RedirectURIs = []string{"https://app.example/cb", "myapp://cb"} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.reg.Update(ctx, l.ID, tt.in, "admin")
			if err == nil {
				t.Fatalf("Update(%+v) succeeded", tt.in)
			}
			_, _, cerr := f.reg.Create(ctx, links.NewLink{Name: "fresh", RedirectURIs: tt.in.RedirectURIs, Ceiling: tt.in.Ceiling})
			if cerr == nil || err.Error() != cerr.Error() {
				t.Errorf("Update error %q, Create error %q: want the same", err, cerr)
			}
		})
	}
	got, err := f.reg.Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ceiling != scope.Write || !got.AllowsRedirect("https://app.example.com/callback") || len(got.RedirectURIs) != 1 || !got.UpdatedAt.Equal(t0) {
		t.Errorf("refused updates changed the link: %+v", got)
	}
	if _, err := f.reg.Update(ctx, "cfg-declared", ok, "admin"); !errors.Is(err, links.ErrReadOnly) {
		t.Errorf("Update of a config link = %v, want ErrReadOnly", err)
	}
	if c, err := f.reg.Ceiling(ctx, "cfg-declared"); err != nil || c != scope.Read {
		t.Errorf("config link's ceiling after a refused Update = %v, %v", c, err)
	}
	if f.changed != 0 {
		t.Errorf("changed callback called %d times for refused updates", f.changed)
	}
}

func TestRotateSecretDropsExpired(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, _ := f.create(t, "app")
	for i := range 5 {
		f.clock.Set(t0.Add(time.Duration(i) * 2 * time.Hour))
		if _, err := f.reg.RotateSecret(ctx, l.ID, time.Hour, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.reg.Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Only the current secret and the one rotated out last remain.
	if len(got.Secrets) != 2 {
		t.Fatalf("link keeps %d secrets, want 2", len(got.Secrets))
	}
	if !got.Secrets[0].ExpiresAt.IsZero() {
		t.Errorf("current secret expires at %v", got.Secrets[0].ExpiresAt)
	}
	if want := t0.Add(9 * time.Hour); !got.Secrets[1].ExpiresAt.Equal(want) {
		t.Errorf("previous secret expires at %v, want %v", got.Secrets[1].ExpiresAt, want)
	}
}

func TestReadOnlyConfigLinks(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "declared", RedirectURIs: []string{"https://d.example/cb"}, ClientSecret: "x"})
	ctx := context.Background()
	if err := f.reg.Delete(ctx, "cfg-declared", "admin"); !errors.Is(err, links.ErrReadOnly) {
		t.Errorf("Delete of a config link = %v, want ErrReadOnly", err)
	}
	if f.changed != 0 {
		t.Errorf("changed callback called %d times for a refused Delete", f.changed)
	}
	if sec, err := f.reg.RotateSecret(ctx, "cfg-declared", time.Hour, "admin"); !errors.Is(err, links.ErrReadOnly) || sec != "" {
		t.Errorf("RotateSecret of a config link = %q, %v; want ErrReadOnly", sec, err)
	}
	if _, err := f.reg.Authenticate(ctx, "declared", "x"); err != nil {
		t.Errorf("config link no longer authenticates: %v", err)
	}
}

func TestDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, sec := f.create(t, "app")
	keep, keepSec := f.create(t, "keep")

	if err := f.reg.Delete(ctx, l.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if f.changed != 1 {
		t.Fatalf("changed callback called %d times, want 1", f.changed)
	}
	if _, err := f.reg.Get(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if _, err := f.reg.Authenticate(ctx, l.ClientID, sec); !errors.Is(err, links.ErrBadClient) {
		t.Errorf("Authenticate after Delete = %v, want ErrBadClient", err)
	}
	if _, err := f.reg.Authenticate(ctx, keep.ClientID, keepSec); err != nil {
		t.Errorf("Delete of one link broke another: %v", err)
	}
	if err := f.reg.Delete(ctx, l.ID, "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if f.changed != 1 {
		t.Errorf("changed callback called for a missing link (%d calls)", f.changed)
	}
	if _, err := f.reg.RotateSecret(ctx, l.ID, time.Hour, "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateSecret of a deleted link = %v, want ErrNotFound", err)
	}
	// The name is free again.
	f.create(t, "app")
}

func TestAllowsRedirect(t *testing.T) {
	l := links.Link{Link: store.Link{RedirectURIs: []string{"https://app.example/cb", "http://localhost:8080/cb"}}}
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://app.example/cb", true},
		{"http://localhost:8080/cb", true},
		{"https://app.example/cb/", false},
		{"https://app.example/cb?x=1", false},
		{"https://APP.example/cb", false},
		{"http://localhost:9090/cb", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			if got := l.AllowsRedirect(tt.uri); got != tt.want {
				t.Fatalf("AllowsRedirect(%q) = %v, want %v", tt.uri, got, tt.want)
			}
		})
	}
}
