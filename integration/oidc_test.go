package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcFlow runs the flow asking for scopes and a nonce, and returns the
// token with its raw ID token (empty when none came).
func oidcFlow(t *testing.T, scopes []string, nonce string) (*oauth2.Token, string) {
	t.Helper()
	conf := oauthConfig(oauth2.AuthStyleInHeader)
	conf.Scopes = scopes
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if nonce != "" {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", nonce))
	}
	loc := authorize(t, browser(t), conf.AuthCodeURL("s", opts...), "alice", "allow")
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	return tok, raw
}

// TestOIDCProvider: a link asking for openid gets an ID token that go-oidc
// verifies through discovery and the JWKS, with nonce and profile claims,
// and UserInfo answers for its access token.
func TestOIDCProvider(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.ES256}})

	tok, raw := oidcFlow(t, []string{"WRITE", "openid", "profile"}, "n-0S6_WzA2Mj")
	if raw == "" {
		t.Fatal("no id_token for a grant with openid")
	}
	if tok.Extra("scope") != "WRITE openid profile" {
		t.Errorf("scope = %v", tok.Extra("scope"))
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verifying the ID token: %v", err)
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
		AuthTime          int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	sub, err := g.app().Users().Subject(ctx, "alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if idt.Subject != sub || sub == "alice" || idt.Nonce != "n-0S6_WzA2Mj" || claims.PreferredUsername != "alice" || claims.AuthTime == 0 || idt.Issuer != base {
		t.Errorf("claims: sub=%s nonce=%s %+v iss=%s", idt.Subject, idt.Nonce, claims, idt.Issuer)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "other-client", SupportedSigningAlgs: []string{oidc.ES256}}).Verify(ctx, raw); err == nil {
		t.Error("an ID token for app-client verified for another audience")
	}

	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != sub {
		t.Fatalf("userinfo: %v %+v", err, info)
	}

	// A refresh brings a fresh ID token, without the nonce.
	tok.Expiry = tok.Expiry.Add(-2 * 3600e9)
	fresh, err := oauthConfig(oauth2.AuthStyleInHeader).TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	rawFresh, _ := fresh.Extra("id_token").(string)
	if idt2, err := verifier.Verify(ctx, rawFresh); err != nil || idt2.Subject != sub || idt2.Nonce != "" {
		t.Fatalf("refreshed ID token: %v", err)
	}
}

// TestOIDCNotAskedNoIDToken: grants without openid get no ID token and
// their access tokens are refused by UserInfo.
func TestOIDCNotAskedNoIDToken(t *testing.T) {
	startGateway(t, gatewayOptions{})
	tok, raw := oidcFlow(t, []string{"WRITE"}, "")
	if raw != "" {
		t.Fatal("an ID token for a grant without openid")
	}
	r, _ := http.NewRequest(http.MethodGet, base+"/rest/oauth2/latest/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("userinfo without openid: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// No credentials: a challenge without error (RFC 6750 §3.1), and a
	// body that does not call a missing token invalid.
	resp, err = http.Get(base + "/rest/oauth2/latest/userinfo")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(resp.Header.Get("WWW-Authenticate"), "error") || !strings.Contains(body, `"error":"unauthorized"`) {
		t.Fatalf("userinfo without token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
}

// TestOIDCKeyRotation: after a rotation new ID tokens carry the new key id,
// and tokens signed before stay verifiable while they live; the keys
// survive a restart.
func TestOIDCKeyRotation(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{dir: dir})
	ctx := context.Background()
	_, before := oidcFlow(t, []string{"openid"}, "")
	keyring, err := g.app().Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	_, after := oidcFlow(t, []string{"openid"}, "")
	if kid(t, before) == kid(t, after) {
		t.Fatal("rotation kept the key id")
	}
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	v := provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.ES256}})
	for name, raw := range map[string]string{"before rotation": before, "after rotation": after} {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Errorf("ID token %s: %v", name, err)
		}
	}
	g.unload()
	startGateway(t, gatewayOptions{dir: dir})
	resp, err := http.Get(base + "/rest/oauth2/latest/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(set.Keys) != 2 || set.Keys[0].Kid != kid(t, after) || set.Keys[1].Kid != kid(t, before) {
		t.Fatalf("JWKS after restart: %+v", set.Keys)
	}
}

// TestOIDCRS256: old clients can have RS256.
func TestOIDCRS256(t *testing.T) {
	startGateway(t, gatewayOptions{extraGlobal: "id_token_algorithm RS256"})
	ctx := context.Background()
	_, raw := oidcFlow(t, []string{"openid"}, "")
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw); err != nil {
		t.Fatalf("RS256 ID token: %v", err)
	}
}

// kid returns the key id in a JWT's header.
func kid(t *testing.T, jwt string) string {
	t.Helper()
	head, _, _ := strings.Cut(jwt, ".")
	var h struct {
		Kid string `json:"kid"`
	}
	b, err := jsonBase64(head)
	if err != nil || json.Unmarshal(b, &h) != nil || h.Kid == "" {
		t.Fatalf("no kid in %q", head)
	}
	return h.Kid
}

func jsonBase64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
