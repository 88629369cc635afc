package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestDisabledRegisteredClient: an administrator raises a registered
// client's ceiling through the normal edit, then disables it through the
// admin API and the CLI: its authorization requests get a page, its
// token requests invalid_client, and every live token is refused on its
// next request (cached validations included); enabled again, the same
// tokens work as before. A link of the Caddyfile is changed there.
func TestDisabledRegisteredClient(t *testing.T) {
	up := upstream(t)
	startGateway(t, gatewayOptions{
		extraGlobal: sysLinkConfig + `
		registration open {
			scope READ
			redirect_uris loopback
		}`,
		site: fmt.Sprintf("applinks\n\trequire_token\n\treverse_proxy %s", up.URL),
	})
	status, m := register(t, "", map[string]any{"client_name": "Desktop", "redirect_uris": []string{"http://127.0.0.1/callback"}, "token_endpoint_auth_method": "none"})
	if status != http.StatusCreated {
		t.Fatalf("registration: %d %v", status, m)
	}
	cid := m["client_id"].(string)
	id := linkIDWhere(t, "client_id", cid)
	conf := &oauth2.Config{ClientID: cid, RedirectURL: "http://127.0.0.1:53999/callback", Endpoint: discover()}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	c := browser(t)
	flow := func(scopes ...string) *oauth2.Token {
		t.Helper()
		conf.Scopes = scopes
		verifier := oauth2.GenerateVerifier()
		loc := authorize(t, c, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", "allow")
		tok, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		return tok
	}
	works := func(what, access, method string, want int) {
		t.Helper()
		if resp, _, _ := call(t, method, "/things", bearer(access)); resp.StatusCode != want {
			t.Fatalf("%s: %s answered %d, want %d", what, method, resp.StatusCode, want)
		}
	}

	read := flow()
	works("a READ token of a registered client", read.AccessToken, http.MethodGet, http.StatusOK)
	works("a READ token of a registered client", read.AccessToken, http.MethodPost, http.StatusForbidden)

	// Raising its ceiling through the normal edit: the next authorization
	// may ask for more; the tokens issued before keep what they had.
	if status, m, _ := adminCall(t, "PATCH", "/applinks/links/"+id, map[string]any{"scope": "WRITE"}); status != http.StatusOK || m["scope"] != "WRITE" || m["registered"] != true {
		t.Fatalf("raise the ceiling of a registered client: %d %v", status, m)
	}
	write := flow("WRITE")
	if write.Extra("scope") != "WRITE" {
		t.Fatalf("a token after raising the ceiling has scope %v, want WRITE", write.Extra("scope"))
	}
	works("a WRITE token after raising the ceiling", write.AccessToken, http.MethodPost, http.StatusOK)
	works("a READ token after raising the ceiling", read.AccessToken, http.MethodPost, http.StatusForbidden)

	disabled := func(how string) {
		t.Helper()
		works(how+": a token of the disabled client", write.AccessToken, http.MethodGet, http.StatusUnauthorized)
		works(how+": a token of the disabled client", read.AccessToken, http.MethodGet, http.StatusUnauthorized)
		if status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {write.RefreshToken}, "client_id": {cid}}, "", ""); status != http.StatusUnauthorized || m["error"] != "invalid_client" {
			t.Fatalf("%s: refresh by the disabled client: %d %v, want 401 invalid_client", how, status, m)
		}
		resp, err := c.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Application disabled") {
			t.Fatalf("%s: authorization by the disabled client: %d\n%s", how, resp.StatusCode, body)
		}
	}
	enabled := func(how string) {
		t.Helper()
		works(how+": a token of the client enabled again", write.AccessToken, http.MethodPost, http.StatusOK)
		works(how+": a token of the client enabled again", read.AccessToken, http.MethodGet, http.StatusOK)
	}

	if status, m, _ := adminCall(t, "PATCH", "/applinks/links/"+id, map[string]any{"disabled": true}); status != http.StatusOK || m["disabled"] != true || m["scope"] != "WRITE" {
		t.Fatalf("disable through the API: %d %v", status, m)
	}
	disabled("API")
	if status, m, _ := adminCall(t, "PATCH", "/applinks/links/"+id, map[string]any{"disabled": false}); status != http.StatusOK || m["disabled"] != nil {
		t.Fatalf("enable through the API: %d %v", status, m)
	}
	enabled("API")
	if _, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: write.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh by the client enabled again: %v", err)
	}

	if testing.Short() {
		return
	}
	write = flow("WRITE")
	if out, err := cli(t, "edit", id, "--disabled"); err != nil || !fieldIs(out, "Disabled", "yes") {
		t.Fatalf("edit --disabled: %v\n%s", err, out)
	}
	disabled("CLI")
	if out, err := cli(t, "edit", id, "--disabled=false"); err != nil || !fieldIs(out, "Disabled", "-") || !fieldIs(out, "Scope", "WRITE") {
		t.Fatalf("edit --disabled=false: %v\n%s", err, out)
	}
	enabled("CLI")

	if status, m, _ := adminCall(t, "PATCH", "/applinks/links/"+idOf(t, "sys"), map[string]any{"disabled": true}); status != http.StatusConflict {
		t.Fatalf("disabling a link of the Caddyfile: %d %v, want 409", status, m)
	}
}
