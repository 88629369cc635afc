package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestTokenEndpointErrors covers every RFC 6749 §5.2 error the token
// endpoint gives, with status, JSON body and no-store caching.
func TestTokenEndpointErrors(t *testing.T) {
	startGateway(t, gatewayOptions{})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	validCode := func() string {
		conf := oauthConfig(oauth2.AuthStyleInParams)
		return authorize(t, browser(t), conf.AuthCodeURL("s"), "alice", "allow").Query().Get("code")
	}
	type req struct {
		contentType string
		body        string
		basic       [2]string
	}
	form := func(v url.Values) req { return req{contentType: "application/x-www-form-urlencoded", body: v.Encode()} }
	withSecret := func(v url.Values) url.Values {
		v.Set("client_id", clientID)
		v.Set("client_secret", secretValue)
		return v
	}
	for _, tc := range []struct {
		name       string
		req        req
		status     int
		code       string
		basicChall bool
	}{
		{"json body", req{contentType: "application/json", body: `{"grant_type":"refresh_token"}`}, 415, "invalid_request", false},
		{"oversized body", form(url.Values{"grant_type": {"refresh_token"}, "pad": {strings.Repeat("x", 70<<10)}}), 413, "invalid_request", false},
		{"no client authentication", form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}), 401, "invalid_client", true},
		{"wrong secret (post)", form(url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {"nope"}}), 401, "invalid_client", false},
		{"wrong secret (basic)", req{contentType: "application/x-www-form-urlencoded", body: "grant_type=refresh_token", basic: [2]string{clientID, "nope"}}, 401, "invalid_client", true},
		{"unknown client", form(url.Values{"grant_type": {"refresh_token"}, "client_id": {"ghost"}, "client_secret": {"x"}}), 401, "invalid_client", false},
		{"two auth methods", req{contentType: "application/x-www-form-urlencoded", body: withSecret(url.Values{"grant_type": {"refresh_token"}}).Encode(), basic: [2]string{clientID, secretValue}}, 400, "invalid_request", false},
		{"missing grant_type", form(withSecret(url.Values{})), 400, "invalid_request", false},
		{"unsupported grant_type", form(withSecret(url.Values{"grant_type": {"urn:example:magic"}})), 400, "unsupported_grant_type", false},
		{"client_credentials where no link may use it", form(withSecret(url.Values{"grant_type": {"client_credentials"}})), 400, "unsupported_grant_type", false},
		{"repeated parameter", req{contentType: "application/x-www-form-urlencoded", body: withSecret(url.Values{"grant_type": {"refresh_token", "refresh_token"}}).Encode()}, 400, "invalid_request", false},
		{"missing code", form(withSecret(url.Values{"grant_type": {"authorization_code"}})), 400, "invalid_request", false},
		{"forged code", form(withSecret(url.Values{"grant_type": {"authorization_code"}, "code": {"alc_forged"}, "redirect_uri": {redirectURI}})), 400, "invalid_grant", false},
		{"wrong redirect_uri", form(withSecret(url.Values{"grant_type": {"authorization_code"}, "code": {validCode()}, "redirect_uri": {"http://127.0.0.1:9481/other"}})), 400, "invalid_grant", false},
		{"verifier without challenge", form(withSecret(url.Values{"grant_type": {"authorization_code"}, "code": {validCode()}, "redirect_uri": {redirectURI}, "code_verifier": {strings.Repeat("a", 43)}})), 400, "invalid_grant", false},
		{"code of another client", form(url.Values{"grant_type": {"authorization_code"}, "code": {validCode()}, "redirect_uri": {redirectURI}, "client_id": {"other-client"}, "client_secret": {"other-secret-0123456789"}}), 400, "invalid_grant", false},
		{"bad refresh token checksum", form(withSecret(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken[:len(tok.RefreshToken)-2] + "AA"}})), 400, "invalid_grant", false},
		{"access token as refresh token", form(withSecret(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.AccessToken}})), 400, "invalid_grant", false},
		{"refresh scope above grant", form(withSecret(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"ADMIN"}})), 400, "invalid_scope", false},
		{"refresh unknown scope", form(withSecret(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"FLY"}})), 400, "invalid_scope", false},
		{"refresh with another client", form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"other-client"}, "client_secret": {"other-secret-0123456789"}}), 400, "invalid_grant", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, base+"/rest/oauth2/latest/token", strings.NewReader(tc.req.body))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", tc.req.contentType)
			if tc.req.basic[0] != "" {
				r.SetBasicAuth(tc.req.basic[0], tc.req.basic[1])
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != tc.status || !strings.Contains(body, `"error":"`+tc.code+`"`) || !strings.Contains(body, "error_description") {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("headers %v", resp.Header)
			}
			if got := strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic"); got != tc.basicChall {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// None of the failures above harmed the grant.
	if introspect(t, tok.AccessToken)["active"] != true {
		t.Fatal("a failed request revoked the grant")
	}
	if status, m := refresh(t, tok.RefreshToken); status != 200 {
		t.Fatalf("refresh after failures: %d %v", status, m)
	}
}

// TestAuthorizeErrors checks that problems with the client or redirect URI
// are shown as a page and never redirected, and the rest are redirected
// to the registered URI with state.
func TestAuthorizeErrors(t *testing.T) {
	startGateway(t, gatewayOptions{})
	c := browser(t)
	resp := signIn(t, c, "alice", password)
	resp.Body.Close()
	authz := func(q url.Values) *http.Response {
		resp, err := c.Get(base + "/rest/oauth2/latest/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	good := func() url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "state": {"st"}}
	}
	t.Run("pages", func(t *testing.T) {
		for name, mutate := range map[string]func(url.Values){
			"redirect mismatch":  func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
			"unknown client":     func(q url.Values) { q.Set("client_id", "ghost") },
			"missing client":     func(q url.Values) { q.Del("client_id") },
			"redirect prefix":    func(q url.Values) { q.Set("redirect_uri", redirectURI+"/../x") },
			"duplicate redirect": func(q url.Values) { q["redirect_uri"] = []string{redirectURI, "https://evil.example/cb"} },
		} {
			t.Run(name, func(t *testing.T) {
				q := good()
				mutate(q)
				resp := authz(q)
				body := readBody(t, resp)
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("%d Location=%q", resp.StatusCode, resp.Header.Get("Location"))
				}
				if !strings.Contains(body, "<h1>") || resp.Header.Get("Content-Security-Policy") == "" {
					t.Fatalf("not an error page: %s", body)
				}
			})
		}
	})
	t.Run("redirected", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			mutate func(url.Values)
			code   string
		}{
			{"unsupported response type", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
			{"missing response type", func(q url.Values) { q.Del("response_type") }, "invalid_request"},
			{"unknown scope", func(q url.Values) { q.Set("scope", "FLY") }, "invalid_scope"},
			{"scope above ceiling", func(q url.Values) { q.Set("scope", "ADMIN") }, "invalid_scope"},
			{"lowercase scope", func(q url.Values) { q.Set("scope", "read") }, "invalid_scope"},
			{"bad PKCE method", func(q url.Values) {
				q.Set("code_challenge", strings.Repeat("a", 43))
				q.Set("code_challenge_method", "MD5")
			}, "invalid_request"},
			{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request"},
			{"method without challenge", func(q url.Values) { q.Set("code_challenge_method", "S256") }, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := good()
				tc.mutate(q)
				resp := authz(q)
				resp.Body.Close()
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("%d %v", resp.StatusCode, err)
				}
				if !strings.HasPrefix(loc.String(), redirectURI+"?") || loc.Query().Get("error") != tc.code || loc.Query().Get("state") != "st" {
					t.Fatalf("redirect %s, want error=%s", loc, tc.code)
				}
			})
		}
	})
	t.Run("link requires PKCE", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {"other-client"}, "redirect_uri": {"http://127.0.0.1:9481/other"}}
		resp := authz(q)
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") != "invalid_request" {
			t.Fatalf("redirect %v", resp.Header.Get("Location"))
		}
	})
}

// TestCodeReuseRevokesTokens: a second use of an authorization code fails
// and revokes the tokens issued from it (RFC 6749 §4.1.2).
func TestCodeReuseRevokesTokens(t *testing.T) {
	startGateway(t, gatewayOptions{})
	conf := oauthConfig(oauth2.AuthStyleInHeader)
	code := authorize(t, browser(t), conf.AuthCodeURL("s"), "alice", "allow").Query().Get("code")
	tok, err := conf.Exchange(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conf.Exchange(context.Background(), code)
	var re *oauth2.RetrieveError
	if !asRetrieveError(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("second exchange: %v", err)
	}
	if introspect(t, tok.AccessToken)["active"] != false {
		t.Fatal("tokens of a reused code are still active")
	}
	if status, _ := refresh(t, tok.RefreshToken); status != http.StatusBadRequest {
		t.Fatalf("refresh token of a reused code still works: %d", status)
	}
}

func asRetrieveError(err error, re **oauth2.RetrieveError) bool {
	e, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = e
	}
	return ok
}

// TestRevokeAndIntrospectErrors checks RFC 7009 and RFC 7662 edge cases.
func TestRevokeAndIntrospectErrors(t *testing.T) {
	startGateway(t, gatewayOptions{})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	if status, m, _ := postForm(t, "/rest/oauth2/latest/revoke", url.Values{"token": {"ala_unknown"}}, clientID, secretValue); status != 200 {
		t.Errorf("revoking an unknown token: %d %v, want 200", status, m)
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/revoke", url.Values{}, clientID, secretValue); status != 400 || m["error"] != "invalid_request" {
		t.Errorf("revoke without token: %d %v", status, m)
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/revoke", url.Values{"token": {tok.AccessToken}}, "", ""); status != 401 || m["error"] != "invalid_client" {
		t.Errorf("revoke without client auth: %d %v", status, m)
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/revoke", url.Values{"token": {tok.AccessToken}}, "other-client", "other-secret-0123456789"); status != 400 || m["error"] != "unauthorized_client" {
		t.Errorf("revoke another client's token: %d %v", status, m)
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {tok.AccessToken}}, "", ""); status != 401 || m["error"] != "invalid_client" {
		t.Errorf("introspect without client auth: %d %v", status, m)
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {tok.AccessToken}}, "other-client", "other-secret-0123456789"); status != 200 || m["active"] != false {
		t.Errorf("introspect another client's token: %d %v", status, m)
	}
	if m := introspect(t, tok.RefreshToken); m["active"] != true || m["token_type"] != "refresh_token" {
		t.Errorf("introspect refresh token: %v", m)
	}
	if introspect(t, tok.AccessToken)["active"] != true {
		t.Fatal("failed requests harmed the grant")
	}
}
