package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/applinks/caddy-applinks/module/scope"
)

// serviceLink declares a link that acts as the runtime user svc (WRITE
// ceiling) with client_credentials, and no redirect URI.
const serviceLink = `incoming ci-bot {
			client_secret ci-bot-secret-0123456789
			client_credentials svc
			scope WRITE
		}`

// TestClientCredentials: a service link gets an access token acting as
// its user, within min(role, ceiling), without a refresh token; the role
// is re-checked on every request, and other links may not use the grant.
func TestClientCredentials(t *testing.T) {
	up := upstream(t)
	g := startGateway(t, gatewayOptions{extraGlobal: serviceLink, site: "applinks\n\trequire_token\n\treverse_proxy " + up.URL})
	if status, m, _ := adminCall(t, "PUT", "/applinks/users/svc", map[string]any{"password": "svc-password-1", "role": "ADMIN"}); status != http.StatusCreated {
		t.Fatalf("creating svc: %d %v", status, m)
	}
	conf := clientcredentials.Config{ClientID: "ci-bot", ClientSecret: "ci-bot-secret-0123456789", TokenURL: discover().TokenURL}
	tok, err := conf.Token(context.Background())
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if tok.RefreshToken != "" || tok.Extra("scope") != "WRITE" {
		t.Fatalf("token: refresh %q, scope %v; want no refresh token and WRITE (the ceiling under ADMIN)", tok.RefreshToken, tok.Extra("scope"))
	}
	hdr := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	if resp, s, _ := call(t, "POST", "/data", hdr); resp.StatusCode != http.StatusOK || s.User != "svc" || s.ClientID != "ci-bot" {
		t.Fatalf("POST with the token: %d, user %q, client %q", resp.StatusCode, s.User, s.ClientID)
	}
	// The user's role is lowered: the same token now reads only.
	setRole(t, g, "svc", scope.Read, false)
	if resp, _, _ := call(t, "POST", "/data", hdr); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST after the role went down to READ: %d, want 403", resp.StatusCode)
	}
	conf.Scopes = []string{"ADMIN"}
	if _, err := conf.Token(context.Background()); err == nil {
		t.Fatal("a scope above the link's was granted")
	}
	status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"client_credentials"}}, clientID, secretValue)
	if status != http.StatusBadRequest || m["error"] != "unauthorized_client" {
		t.Fatalf("client_credentials for a link without a service user: %d %v, want unauthorized_client", status, m)
	}
	setRole(t, g, "svc", scope.Read, true)
	conf.Scopes = nil
	if _, err := conf.Token(context.Background()); err == nil || !strings.Contains(fmt.Sprint(err), "invalid_grant") {
		t.Fatalf("client_credentials for a disabled user: %v, want invalid_grant", err)
	}
}
