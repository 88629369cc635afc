package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// publicClient declares a public incoming link: no secret, a loopback
// redirect URI without a port.
const publicClient = `incoming cli {
			public
			redirect_uri http://127.0.0.1/callback
			scope WRITE
		}`

// TestPublicClientFlow: a public client gets tokens with PKCE S256 and
// its client_id alone, from a loopback redirect URI on whatever port it
// listens on, refreshes them (rotating), and revokes them.
func TestPublicClientFlow(t *testing.T) {
	startGateway(t, gatewayOptions{extraGlobal: publicClient})
	conf := &oauth2.Config{ClientID: "cli", RedirectURL: "http://127.0.0.1:53124/callback", Scopes: []string{"WRITE"}, Endpoint: discover()}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	loc := authorize(t, browser(t), conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "wendy", "allow")
	if loc.Host != "127.0.0.1:53124" || loc.Query().Get("code") == "" {
		t.Fatalf("redirected to %s, want the client's port with a code", loc)
	}
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("scope") != "WRITE" {
		t.Fatalf("token %+v, scope %v", tok, tok.Extra("scope"))
	}
	status, pair, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"cli"}}, "", "")
	if status != http.StatusOK || pair["refresh_token"] == tok.RefreshToken {
		t.Fatalf("refresh: %d %v, want a new pair", status, pair)
	}
	status, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {pair["access_token"].(string)}, "client_id": {"cli"}}, "", "")
	if status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Fatalf("introspection by a public client: %d %v, want 401 invalid_client", status, m)
	}
	status, _, _ = postForm(t, "/rest/oauth2/latest/revoke", url.Values{"token": {pair["refresh_token"].(string)}, "client_id": {"cli"}}, "", "")
	if status != http.StatusOK {
		t.Fatalf("revoke by a public client: %d", status)
	}
}

// TestPublicClientRefusals: a public client must use S256; a secret sent
// for it, and a confidential client without its secret, are refused.
func TestPublicClientRefusals(t *testing.T) {
	startGateway(t, gatewayOptions{extraGlobal: publicClient})
	c := browser(t)
	signIn(t, c, "wendy", password).Body.Close()
	for name, q := range map[string]url.Values{
		"no PKCE":    {"response_type": {"code"}, "client_id": {"cli"}, "redirect_uri": {"http://127.0.0.1:5000/callback"}},
		"plain PKCE": {"response_type": {"code"}, "client_id": {"cli"}, "redirect_uri": {"http://127.0.0.1:5000/callback"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}},
	} {
		resp, err := c.Get(base + "/rest/oauth2/latest/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") != "invalid_request" {
			t.Errorf("%s: answered %d %s, want invalid_request at the redirect URI", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, err := c.Get(base + "/rest/oauth2/latest/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"cli"}, "redirect_uri": {"http://127.0.0.1:5000/elsewhere"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Redirect URL mismatch") {
		t.Errorf("another path on loopback: %d, want the mismatch page", resp.StatusCode)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"alr_x"}}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/token", form, "cli", "a-secret-it-never-had"); status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Errorf("a secret sent for a public client: %d %v, want 401 invalid_client", status, m)
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"alr_x"}, "client_id": {clientID}}, "", ""); status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Errorf("a confidential client without its secret: %d %v, want 401 invalid_client", status, m)
	}
}
