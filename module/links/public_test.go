package links_test

import (
	"context"
	"errors"
	"testing"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestPublicLoopbackRedirectMatchesAnyPort: RFC 8252 §7.3 for public
// links only; everything but the port must match, and a confidential
// link keeps exact matching.
func TestPublicLoopbackRedirectMatchesAnyPort(t *testing.T) {
	public := links.Link{Link: store.Link{Public: true, RedirectURIs: []string{"http://127.0.0.1/callback", "http://localhost:8080/cb?x=1", "https://app.example/cb", "http://[::1]/cb"}}}
	confidential := public
	confidential.Public = false
	tests := []struct {
		uri                  string
		public, confidential bool
	}{
		{"http://127.0.0.1/callback", true, true},
		{"http://127.0.0.1:53123/callback", true, false},
		{"http://127.0.0.1:1/callback", true, false},
		{"http://localhost:9090/cb?x=1", true, false},
		{"http://[::1]:4000/cb", true, false},
		{"http://127.0.0.1:53123/callback/", false, false},
		{"http://127.0.0.1:53123/other", false, false},
		{"http://127.0.0.2:53123/callback", false, false},
		{"http://localhost:9090/cb", false, false},
		{"http://localhost:9090/cb?x=2", false, false},
		{"https://127.0.0.1:53123/callback", false, false},
		{"http://user@127.0.0.1:53123/callback", false, false},
		{"http://127.0.0.1:53123/callback#f", false, false},
		{"http://127.0.0.1:port/callback", false, false},
		{"https://app.example:8443/cb", false, false},
		{"http://evil.example:80/callback", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			if got := public.AllowsRedirect(tt.uri); got != tt.public {
				t.Errorf("public link: AllowsRedirect(%q) = %v, want %v", tt.uri, got, tt.public)
			}
			if got := confidential.AllowsRedirect(tt.uri); got != tt.confidential {
				t.Errorf("confidential link: AllowsRedirect(%q) = %v, want %v", tt.uri, got, tt.confidential)
			}
		})
	}
}

func TestPublicConfigLink(t *testing.T) {
	for _, c := range []links.ConfigLink{
		{Name: "cli", RedirectURIs: []string{"http://127.0.0.1/callback"}, Public: true, ClientSecret: "a-secret"},
		{Name: "cli", RedirectURIs: []string{"http://127.0.0.1/callback"}},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("Check(%+v) = nil, want an error", c)
		}
	}
	f := newFixture(t, links.ConfigLink{Name: "cli", RedirectURIs: []string{"http://127.0.0.1/callback"}, Public: true})
	ctx := context.Background()
	l, err := f.reg.AuthenticatePublic(ctx, "cli")
	if err != nil || !l.Public || !l.PKCERequired() || len(l.Secrets) != 0 {
		t.Fatalf("AuthenticatePublic(cli) = %+v, %v; want the public link, PKCE required, no secret", l, err)
	}
	if _, err := f.reg.Authenticate(ctx, "cli", "anything"); !errors.Is(err, links.ErrBadClient) {
		t.Fatalf("Authenticate with a secret of a public link: %v, want ErrBadClient", err)
	}
	if _, err := f.reg.Secret(l); !errors.Is(err, links.ErrPublic) {
		t.Fatalf("Secret of a public link: %v, want ErrPublic", err)
	}
}

// TestAuthenticatePublicRefusesConfidentialLinks: a confidential client
// cannot skip its secret by sending its client_id alone.
func TestAuthenticatePublicRefusesConfidentialLinks(t *testing.T) {
	f := newFixture(t)
	conf, _ := f.create(t, "app")
	ctx := context.Background()
	if _, err := f.reg.AuthenticatePublic(ctx, conf.ClientID); !errors.Is(err, links.ErrBadClient) {
		t.Fatalf("AuthenticatePublic of a confidential link: %v, want ErrBadClient", err)
	}
	if _, err := f.reg.AuthenticatePublic(ctx, "unknown"); !errors.Is(err, links.ErrBadClient) {
		t.Fatalf("AuthenticatePublic of an unknown client: %v, want ErrBadClient", err)
	}
}

func TestCreatePublic(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, sec, err := f.reg.Create(ctx, links.NewLink{Name: "desktop", RedirectURIs: []string{"http://127.0.0.1/cb"}, Ceiling: scope.Write, Public: true, CreatedBy: "admin"})
	if err != nil || sec != "" || !l.Public || len(l.Secrets) != 0 {
		t.Fatalf("Create public = %+v, %q, %v; want a public link without secret", l, sec, err)
	}
	if _, err := f.reg.RotateSecret(ctx, l.ID, 0, "admin"); !errors.Is(err, links.ErrPublic) {
		t.Fatalf("RotateSecret of a public link: %v, want ErrPublic", err)
	}
	got, err := f.reg.AuthenticatePublic(ctx, l.ClientID)
	if err != nil || got.ID != l.ID {
		t.Fatalf("AuthenticatePublic = %+v, %v", got, err)
	}
}
