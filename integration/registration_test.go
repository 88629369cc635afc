package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// register posts client metadata to the registration endpoint.
func register(t *testing.T, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/rest/oauth2/latest/register", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(readBody(t, resp)), &m)
	return resp.StatusCode, m
}

// TestRegistrationOff: without the option there is no endpoint.
func TestRegistrationOff(t *testing.T) {
	startGateway(t, gatewayOptions{})
	if status, _ := register(t, "", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}}); status != http.StatusNotFound {
		t.Fatalf("registration while off: %d, want 404", status)
	}
}

// TestRegistration: a public client registers with the initial access
// token, gets tokens at the policy's ceiling, is marked as registered;
// every kind of bad metadata is refused with its RFC 7591 error.
func TestRegistration(t *testing.T) {
	startGateway(t, gatewayOptions{extraGlobal: `registration reg-token-0123456789 {
			scope READ
			redirect_uris loopback
			max_clients 2
		}`})
	md := serverMetadata(t, "/.well-known/oauth-authorization-server")
	if md["registration_endpoint"] != base+"/rest/oauth2/latest/register" {
		t.Fatalf("registration_endpoint = %v", md["registration_endpoint"])
	}
	good := map[string]any{"client_name": "Desktop", "redirect_uris": []string{"http://127.0.0.1/callback"}, "token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"}}
	for name, tc := range map[string]struct {
		token  string
		body   map[string]any
		status int
		code   string
	}{
		"no token":          {"", good, 401, "invalid_token"},
		"wrong token":       {"nope", good, 401, "invalid_token"},
		"no redirect":       {"reg-token-0123456789", map[string]any{"client_name": "x"}, 400, "invalid_redirect_uri"},
		"https not allowed": {"reg-token-0123456789", map[string]any{"redirect_uris": []string{"https://app.example/cb"}}, 400, "invalid_redirect_uri"},
		"fragment":          {"reg-token-0123456789", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb#x"}}, 400, "invalid_redirect_uri"},
		"http not loopback": {"reg-token-0123456789", map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}, 400, "invalid_redirect_uri"},
		"auth method":       {"reg-token-0123456789", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "private_key_jwt"}, 400, "invalid_client_metadata"},
		"grant type":        {"reg-token-0123456789", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "grant_types": []string{"client_credentials"}}, 400, "invalid_client_metadata"},
		"response type":     {"reg-token-0123456789", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "response_types": []string{"token"}}, 400, "invalid_client_metadata"},
		"control chars":     {"reg-token-0123456789", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "client_name": "a\x01b"}, 400, "invalid_client_metadata"},
	} {
		if status, m := register(t, tc.token, tc.body); status != tc.status || m["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", name, status, m, tc.status, tc.code)
		}
	}
	status, m := register(t, "reg-token-0123456789", good)
	if status != http.StatusCreated || m["client_secret"] != nil || m["token_endpoint_auth_method"] != "none" || m["scope"] != "READ" {
		t.Fatalf("registration: %d %v", status, m)
	}
	id := m["client_id"].(string)
	conf := &oauth2.Config{ClientID: id, RedirectURL: "http://127.0.0.1:53999/callback", Endpoint: discover()}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	c := browser(t)
	resp, err := c.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	signIn(t, c, "alice", password).Body.Close()
	resp, err = c.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); !strings.Contains(body, "registered itself") || !strings.Contains(body, "127.0.0.1:53999") {
		t.Fatalf("the consent page does not say the client registered itself, with its host: %s", body)
	}
	loc := authorize(t, c, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", "allow")
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.Extra("scope") != "READ" {
		t.Fatalf("exchange: %v, scope %v; want READ, the registration ceiling", err, tok.Extra("scope"))
	}
	if status, _, list := adminCall(t, "GET", "/applinks/links", nil); status != http.StatusOK || !strings.Contains(mustJSON(list), `"registered":true`) {
		t.Fatalf("the admin API does not mark the client as registered: %d", status)
	}
	if status, _ := register(t, "reg-token-0123456789", good); status != http.StatusCreated {
		t.Fatalf("second registration: %d", status)
	}
	if status, m := register(t, "reg-token-0123456789", good); status != http.StatusForbidden || m["error"] != "invalid_client_metadata" {
		t.Fatalf("registration over max_clients: %d %v, want 403", status, m)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
