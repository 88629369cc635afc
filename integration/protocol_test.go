package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRequirePKCERefusesPlainChallenge: a client of a link that requires
// PKCE cannot get past it with a plain challenge, which is the verifier
// itself and so protects nothing once the authorization request is seen.
func TestRequirePKCERefusesPlainChallenge(t *testing.T) {
	startGateway(t, gatewayOptions{})
	c := browser(t)
	signIn(t, c, "alice", password).Body.Close()
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	s256 := base64.RawURLEncoding.EncodeToString(sum[:])
	authz := func(challenge, method string) *http.Response {
		t.Helper()
		q := url.Values{"response_type": {"code"}, "client_id": {"other-client"}, "redirect_uri": {"http://127.0.0.1:9481/other"}, "state": {"st"}, "code_challenge": {challenge}}
		if method != "" {
			q.Set("code_challenge_method", method)
		}
		resp, err := c.Get(base + "/rest/oauth2/latest/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, method := range []string{"plain", "PLAIN", ""} {
		resp := authz(verifier, method)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "invalid_request" || !strings.Contains(loc.Query().Get("error_description"), "S256") {
			t.Fatalf("plain challenge (method %q) for a link requiring PKCE: %d Location=%q", method, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// S256 is accepted: the consent page is shown.
	if resp := authz(s256, "S256"); resp.StatusCode != http.StatusOK {
		t.Fatalf("S256 challenge for a link requiring PKCE: %d Location=%q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A link that does not require PKCE still takes plain (RFC 7636 §4.2).
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "state": {"st"}, "code_challenge": {verifier}, "code_challenge_method": {"plain"}}
	resp, err := c.Get(base + "/rest/oauth2/latest/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plain challenge for a link not requiring PKCE: %d Location=%q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestUnimplementedGrantTypesAreUnsupported: a client probing for a grant
// the server does not implement (password, device code) or does not offer
// (client_credentials where no link acts as a service user) is told
// unsupported_grant_type, not unauthorized_client, which would claim the
// server has the grant and only this client lacks it (RFC 6749 §5.2).
func TestUnimplementedGrantTypesAreUnsupported(t *testing.T) {
	startGateway(t, gatewayOptions{})
	for _, gt := range []string{"password", "client_credentials", "implicit", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange"} {
		form := url.Values{"grant_type": {gt}, "username": {"alice"}, "password": {password}}
		status, m, _ := postForm(t, "/rest/oauth2/latest/token", form, clientID, secretValue)
		if status != http.StatusBadRequest || m["error"] != "unsupported_grant_type" {
			t.Errorf("grant_type=%s: %d %v, want 400 unsupported_grant_type", gt, status, m)
		}
		if _, ok := m["access_token"]; ok {
			t.Errorf("grant_type=%s issued a token", gt)
		}
	}
}
