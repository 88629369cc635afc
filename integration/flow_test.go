package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
)

func TestMetadata(t *testing.T) {
	startGateway(t, gatewayOptions{})
	resp, err := http.Get(base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal([]byte(readBody(t, resp)), &md); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer":                 base,
		"authorization_endpoint": base + "/rest/oauth2/latest/authorize",
		"token_endpoint":         base + "/rest/oauth2/latest/token",
		"revocation_endpoint":    base + "/rest/oauth2/latest/revoke",
		"introspection_endpoint": base + "/rest/oauth2/latest/introspect",
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("%s = %v, want %s", k, md[k], v)
		}
	}
	for _, k := range []string{"code_challenge_methods_supported", "token_endpoint_auth_methods_supported", "grant_types_supported", "scopes_supported"} {
		if _, ok := md[k].([]any); !ok {
			t.Errorf("%s missing", k)
		}
	}
	if got := strings.Join(toStrings(md["code_challenge_methods_supported"]), " "); got != "S256 plain" {
		t.Errorf("code_challenge_methods_supported = %s", got)
	}

	resp, err = http.Get(base + "/.well-known/oauth-protected-resource")
	if err != nil {
		t.Fatal(err)
	}
	var rm map[string]any
	if err := json.Unmarshal([]byte(readBody(t, resp)), &rm); err != nil {
		t.Fatal(err)
	}
	if rm["resource"] != base || toStrings(rm["authorization_servers"])[0] != base {
		t.Errorf("protected resource metadata = %v", rm)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// TestFullFlow drives the authorization-code flow with golang.org/x/oauth2
// configured from metadata: PKCE S256 and plain, client_secret_basic and
// client_secret_post, then refresh, introspection and revocation.
func TestFullFlow(t *testing.T) {
	startGateway(t, gatewayOptions{})
	for _, tc := range []struct {
		name   string
		style  oauth2.AuthStyle
		method string
	}{
		{"S256-basic", oauth2.AuthStyleInHeader, "S256"},
		{"plain-post", oauth2.AuthStyleInParams, "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := oauthConfig(tc.style)
			verifier := oauth2.GenerateVerifier()
			challenge := oauth2.S256ChallengeOption(verifier)
			if tc.method == "plain" {
				challenge = oauth2.SetAuthURLParam("code_challenge", verifier)
			}
			loc := authorize(t, browser(t), conf.AuthCodeURL("xyz-state", challenge), "alice", "allow")
			if loc.Query().Get("state") != "xyz-state" || loc.Query().Get("iss") != base {
				t.Fatalf("redirect %s lacks state or iss", loc)
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
				t.Fatalf("redirected to %s", got)
			}
			tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok.AccessToken, "ala_") || !strings.HasPrefix(tok.RefreshToken, "alr_") || tok.TokenType != "Bearer" {
				t.Fatalf("unexpected token %+v", tok)
			}
			if tok.Extra("scope") != "WRITE" {
				t.Errorf("scope = %v, want WRITE", tok.Extra("scope"))
			}
			if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour+time.Minute {
				t.Errorf("expiry in %s, want 1h", d)
			}
			in := introspect(t, tok.AccessToken)
			if in["active"] != true || in["username"] != "alice" || in["client_id"] != clientID || in["scope"] != "WRITE" || in["token_type"] != "Bearer" {
				t.Errorf("introspection = %v", in)
			}

			// Refresh through the library: an expired token is refreshed
			// and the refresh token rotates.
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := conf.TokenSource(context.Background(), tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
				t.Fatal("refresh did not rotate the tokens")
			}
			if introspect(t, tok.AccessToken)["active"] != false {
				t.Error("the replaced access token is still active")
			}
			if introspect(t, fresh.AccessToken)["active"] != true {
				t.Error("the new access token is not active")
			}

			// Revoking the access token ends the grant: the refresh token dies too.
			status, _, hdr := postForm(t, "/rest/oauth2/latest/revoke", url.Values{"token": {fresh.AccessToken}}, clientID, secretValue)
			if status != http.StatusOK || hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("revoke answered %d", status)
			}
			if introspect(t, fresh.AccessToken)["active"] != false {
				t.Error("revoked access token still active")
			}
			if status, m := refresh(t, fresh.RefreshToken); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Errorf("refresh after revoke: %d %v", status, m)
			}
		})
	}
}

// TestScopeCeilings checks issued scope = min(requested or link ceiling,
// user's role).
func TestScopeCeilings(t *testing.T) {
	startGateway(t, gatewayOptions{})
	for _, tc := range []struct {
		user, requested, want string
	}{
		{"alice", "", "WRITE"},    // link ceiling WRITE, alice ADMIN
		{"alice", "READ", "READ"}, // asked less
		{"bob", "WRITE", "READ"},  // bob is a READ user
		{"sam", "WRITE", "WRITE"}, // system admin still gets the link's ceiling
		{"bob", "", "READ"},       // no scope asked: the ceiling, then bob's role
		{"alice", "READ WRITE", "WRITE"},
	} {
		t.Run(tc.user+"-"+tc.requested, func(t *testing.T) {
			conf := oauthConfig(oauth2.AuthStyleInParams)
			conf.Scopes = strings.Fields(tc.requested)
			loc := authorize(t, browser(t), conf.AuthCodeURL("s"), tc.user, "allow")
			tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			if tok.Extra("scope") != tc.want {
				t.Errorf("scope = %v, want %s", tok.Extra("scope"), tc.want)
			}
			if got := introspect(t, tok.AccessToken)["scope"]; got != tc.want {
				t.Errorf("introspected scope = %v, want %s", got, tc.want)
			}
		})
	}
}

func TestConsentDenied(t *testing.T) {
	startGateway(t, gatewayOptions{})
	conf := oauthConfig(oauth2.AuthStyleInParams)
	loc := authorize(t, browser(t), conf.AuthCodeURL("deny-state"), "alice", "deny")
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "deny-state" || q.Get("code") != "" {
		t.Fatalf("deny redirect = %s", loc)
	}
}

func TestSignIn(t *testing.T) {
	startGateway(t, gatewayOptions{})
	t.Run("wrong password", func(t *testing.T) {
		resp := signIn(t, browser(t), "alice", "wrong")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "username or password is wrong") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("missing CSRF token", func(t *testing.T) {
		c := browser(t)
		resp, err := c.PostForm(base+"/applinks/login", url.Values{"username": {"alice"}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("sign-in without CSRF token: %d", resp.StatusCode)
		}
		resp.Body.Close()
	})
	t.Run("session cookie", func(t *testing.T) {
		c := browser(t)
		resp := signIn(t, c, "alice", password)
		resp.Body.Close()
		u, _ := url.Parse(base)
		var found bool
		for _, ck := range c.Jar.Cookies(u) {
			found = found || ck.Name == "applinks_session"
		}
		if !found {
			t.Fatal("no session cookie after sign-in")
		}
	})
	t.Run("open redirect refused", func(t *testing.T) {
		c := browser(t)
		resp, err := c.Get(base + "/applinks/login?return_to=//evil.example/x")
		if err != nil {
			t.Fatal(err)
		}
		f := flow.HiddenFields(readBody(t, resp))
		if f.Get("return_to") != "" {
			t.Fatalf("return_to kept %q", f.Get("return_to"))
		}
	})
	t.Run("rate limited per user", func(t *testing.T) {
		c := browser(t)
		var last int
		for range 12 {
			resp := signIn(t, c, "bob", "wrong")
			resp.Body.Close()
			last = resp.StatusCode
		}
		if last != http.StatusTooManyRequests {
			t.Fatalf("after 12 failures: %d, want 429", last)
		}
	})
}
