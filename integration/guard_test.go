package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// seen is what the upstream received.
type seen struct {
	User, Scope, ClientID, Authorization, Cookie, Placeholder string
}

// upstream records the identity headers of each request and echoes them.
func upstream(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{
			User:          r.Header.Get("X-Forwarded-User"),
			Scope:         r.Header.Get("X-Forwarded-Scope"),
			ClientID:      r.Header.Get("X-Forwarded-Client-Id"),
			Authorization: r.Header.Get("Authorization"),
			Cookie:        r.Header.Get("Cookie"),
			Placeholder:   r.Header.Get("X-Placeholder"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

const sysLinkConfig = `incoming sys {
			redirect_uri http://127.0.0.1:9481/sys
			scope SYSTEM_ADMIN
			client_id sys-client
			client_secret sys-secret-0123456789
		}`

// guardedGateway runs the gateway with require_token in front of a
// recording upstream: /admin/* needs ADMIN, /session/* also accepts a
// signed-in session, everything else the method rule.
func guardedGateway(t testing.TB) *gateway {
	up := upstream(t)
	site := fmt.Sprintf(`applinks
	handle /session/* {
		require_token {
			session
		}
		reverse_proxy %[1]s {
			header_up X-Placeholder "{http.auth.user.id}|{http.auth.user.scope}|{http.auth.user.client_id}"
		}
	}
	handle {
		@admin path /admin/*
		require_token @admin ADMIN
		require_token
		reverse_proxy %[1]s {
			header_up X-Placeholder "{http.auth.user.id}|{http.auth.user.scope}|{http.auth.user.client_id}"
		}
	}`, up.URL)
	return startGateway(t, gatewayOptions{extraGlobal: sysLinkConfig, site: site})
}

// mint issues an access token of the given scope for user through the
// sys link (ceiling SYSTEM_ADMIN), in process.
func mint(t testing.TB, g *gateway, user string, s scope.Scope) grants.Tokens {
	t.Helper()
	ctx := context.Background()
	l, err := g.app().Links().Get(ctx, links.ConfigID("sys"))
	if err != nil {
		t.Fatal(err)
	}
	c := grants.Client{LinkID: l.ID, ClientID: l.ClientID, Ceiling: l.Ceiling}
	code, err := g.app().Grants().IssueCode(ctx, grants.CodeRequest{Client: c, UserID: user, RedirectURI: "http://127.0.0.1:9481/sys", Scope: s})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := g.app().Grants().Exchange(ctx, c, code, "http://127.0.0.1:9481/sys", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// setRole stores a runtime user with a role (or disabled) and bumps the
// revocation epoch, as the admin API does.
func setRole(t testing.TB, g *gateway, name string, role scope.Scope, disabled bool) {
	t.Helper()
	g.inStore(func(st store.Store) {
		err := st.PutUser(context.Background(), store.User{Name: name, PasswordHash: hashFor(t, password), Role: role.String(), Disabled: disabled})
		if err != nil {
			t.Fatal(err)
		}
	})
	g.app().Epoch().Bump()
}

func call(t testing.TB, method, path string, hdr map[string]string) (*http.Response, seen, string) {
	t.Helper()
	r, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	var s seen
	if resp.StatusCode == http.StatusOK && method != http.MethodHead {
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("upstream answer %q: %v", body, err)
		}
	}
	return resp, s, body
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// TestGuardMatrix: every token scope × every user role × read/write/admin
// requests; the effective scope is min(token, role), re-checked per request.
// The /admin/* requests pass two stacked guards: the first validates the
// token and removes the Authorization header, so the second can only pass
// on the identity the first stored — the token is validated once.
func TestGuardMatrix(t *testing.T) {
	g := guardedGateway(t)
	ladder := []scope.Scope{scope.Read, scope.Write, scope.Admin, scope.SystemAdmin}
	for _, ts := range ladder {
		for _, role := range ladder {
			user := fmt.Sprintf("u-%s-%s", ts, role)
			setRole(t, g, user, scope.SystemAdmin, false)
			tok := mint(t, g, user, ts)
			setRole(t, g, user, role, false) // demoted (or not) after issue
			eff := scope.Min(ts, role)
			for _, rq := range []struct {
				method, path string
				need         scope.Scope
			}{
				{http.MethodGet, "/api/x", scope.Read},
				{http.MethodHead, "/api/x", scope.Read},
				{http.MethodOptions, "/api/x", scope.Read},
				{http.MethodPost, "/api/x", scope.Write},
				{http.MethodDelete, "/api/x", scope.Write},
				{http.MethodGet, "/admin/x", scope.Admin},
				{http.MethodPut, "/admin/x", scope.Admin},
			} {
				resp, s, body := call(t, rq.method, rq.path, bearer(tok.AccessToken))
				if eff >= rq.need {
					if resp.StatusCode != http.StatusOK {
						t.Errorf("token %s, role %s: %s %s = %d %s, want 200", ts, role, rq.method, rq.path, resp.StatusCode, body)
						continue
					}
					if rq.method != http.MethodHead && (s.User != user || s.Scope != eff.String() || s.ClientID != "sys-client" || s.Placeholder != user+"|"+eff.String()+"|sys-client") {
						t.Errorf("token %s, role %s: upstream saw %+v", ts, role, s)
					}
				} else {
					want := fmt.Sprintf(`Bearer realm="applinks", error="insufficient_scope", error_description="request does not have %s scope (the token grants %s)", scope="%s", resource_metadata="%s/.well-known/oauth-protected-resource"`, strings.ToLower(rq.need.String()), eff, rq.need, base)
					if resp.StatusCode != http.StatusForbidden || resp.Header.Get("WWW-Authenticate") != want {
						t.Errorf("token %s, role %s: %s %s = %d %q, want 403 %q", ts, role, rq.method, rq.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
					}
				}
			}
		}
	}
}

// TestGuardChallenges checks the RFC 6750 answers exactly: each names the
// scope the request needs (READ for these GETs) and the metadata of the
// protected resource.
func TestGuardChallenges(t *testing.T) {
	g := guardedGateway(t)
	tok := mint(t, g, "bob", scope.Read)
	meta := `scope="READ", resource_metadata="` + base + `/.well-known/oauth-protected-resource"`
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
		www    string
		code   string
	}{
		{"missing", nil, 401, `Bearer realm="applinks", ` + meta, "unauthorized"},
		{"unknown token", bearer("ala_" + strings.Repeat("A", 48)), 401, `Bearer realm="applinks", error="invalid_token", error_description="not an access token of this gateway (wrong prefix or checksum)", ` + meta, "invalid_token"},
		{"bad checksum", bearer(tok.AccessToken[:len(tok.AccessToken)-3] + "xyz"), 401, `Bearer realm="applinks", error="invalid_token", error_description="not an access token of this gateway (wrong prefix or checksum)", ` + meta, "invalid_token"},
		{"refresh token", bearer(tok.RefreshToken), 401, `Bearer realm="applinks", error="invalid_token", error_description="not an access token of this gateway (wrong prefix or checksum)", ` + meta, "invalid_token"},
		{"unknown prefix", bearer("ghp_abcdef"), 401, `Bearer realm="applinks", error="invalid_token", error_description="not an access token of this gateway (wrong prefix or checksum)", ` + meta, "invalid_token"},
		{"other scheme", map[string]string{"Authorization": "Digest x=1"}, 401, `Bearer realm="applinks", error="invalid_token", error_description="the Authorization header must use the Bearer scheme", ` + meta, "invalid_token"},
		{"bearer without token", map[string]string{"Authorization": "Bearer "}, 401, `Bearer realm="applinks", error="invalid_token", error_description="the Authorization header holds no single token", ` + meta, "invalid_token"},
		{"two tokens", map[string]string{"Authorization": "Bearer " + tok.AccessToken + " " + tok.AccessToken}, 401, `Bearer realm="applinks", error="invalid_token", error_description="the Authorization header holds no single token", ` + meta, "invalid_token"},
		{"very long", bearer(strings.Repeat("a", 8<<10)), 401, `Bearer realm="applinks", error="invalid_token", error_description="the Authorization header is too long to hold an access token", ` + meta, "invalid_token"},
		{"bad basic", map[string]string{"Authorization": "Basic !!!"}, 401, `Bearer realm="applinks", error="invalid_token", error_description="the Basic credentials are not valid base64", ` + meta, "invalid_token"},
		{"write with read token", bearer(tok.AccessToken), 403, `Bearer realm="applinks", error="insufficient_scope", error_description="request does not have write scope (the token grants READ)", scope="WRITE", resource_metadata="` + base + `/.well-known/oauth-protected-resource"`, "insufficient_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.status == 403 {
				method = http.MethodPost
			}
			resp, _, body := call(t, method, "/api/x", tc.hdr)
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.www {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.www)
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(body), &m); err != nil || m["error"] != tc.code || m["error_description"] == "" {
				t.Fatalf("body %q", body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
		})
	}
	t.Run("basic with token as password", func(t *testing.T) {
		resp, s, _ := call(t, http.MethodGet, "/api/x", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+tok.AccessToken))})
		if resp.StatusCode != 200 || s.User != "bob" || s.Authorization != "" {
			t.Fatalf("%d %+v", resp.StatusCode, s)
		}
	})
}

// TestGuardIdentityHeadersCannotBeSpoofed: client-sent identity headers are
// removed before the guard sets its own, and the gateway's token never
// reaches the upstream (GHSA-7r4p-vjf4-gxv4).
func TestGuardIdentityHeadersCannotBeSpoofed(t *testing.T) {
	g := guardedGateway(t)
	tok := mint(t, g, "bob", scope.Read)
	spoof := map[string]string{
		"Authorization":         "Bearer " + tok.AccessToken,
		"X-Forwarded-User":      "sam",
		"X-Forwarded-Scope":     "SYSTEM_ADMIN",
		"X-Forwarded-Client-Id": "sys-client-evil",
	}
	resp, s, _ := call(t, http.MethodGet, "/api/x", spoof)
	if resp.StatusCode != 200 || s.User != "bob" || s.Scope != "READ" || s.ClientID != "sys-client" || s.Authorization != "" {
		t.Fatalf("%d upstream saw %+v", resp.StatusCode, s)
	}
	delete(spoof, "Authorization")
	if resp, _, _ := call(t, http.MethodGet, "/api/x", spoof); resp.StatusCode != 401 {
		t.Fatalf("spoofed headers without a token: %d", resp.StatusCode)
	}
	// Session mode: a signed-in browser cannot claim another identity, and
	// its session cookie is not forwarded.
	c := browser(t)
	signIn(t, c, "bob", password).Body.Close()
	r, _ := http.NewRequest(http.MethodGet, base+"/session/x", nil)
	r.Header.Set("X-Forwarded-User", "sam")
	r.Header.Set("X-Forwarded-Scope", "SYSTEM_ADMIN")
	r.AddCookie(&http.Cookie{Name: "app_pref", Value: "dark"})
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s.User != "bob" || s.Scope != "READ" || s.ClientID != "" || strings.Contains(s.Cookie, "applinks_session") || !strings.Contains(s.Cookie, "app_pref=dark") {
		t.Fatalf("session request: upstream saw %+v", s)
	}
}

// TestGuardRevocationIsImmediate: each way of taking access away is felt
// on the very next request, although the first request cached the token.
func TestGuardRevocationIsImmediate(t *testing.T) {
	g := guardedGateway(t)
	ctx := context.Background()
	expectStatus := func(t *testing.T, tok string, method string, want int) {
		t.Helper()
		if resp, _, body := call(t, method, "/api/x", bearer(tok)); resp.StatusCode != want {
			t.Fatalf("%s = %d %s, want %d", method, resp.StatusCode, body, want)
		}
	}
	t.Run("RFC 7009 revoke", func(t *testing.T) {
		tok := mint(t, g, "alice", scope.Write)
		expectStatus(t, tok.AccessToken, "GET", 200)
		status, _, _ := postForm(t, "/rest/oauth2/latest/revoke", url.Values{"token": {tok.RefreshToken}}, "sys-client", "sys-secret-0123456789")
		if status != 200 {
			t.Fatalf("revoke: %d", status)
		}
		expectStatus(t, tok.AccessToken, "GET", 401)
	})
	t.Run("grant revoked by user", func(t *testing.T) {
		tok := mint(t, g, "alice", scope.Write)
		expectStatus(t, tok.AccessToken, "GET", 200)
		if err := g.app().Grants().RevokeGrant(ctx, tok.GrantID, "alice"); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, tok.AccessToken, "GET", 401)
	})
	t.Run("refresh replaces the access token", func(t *testing.T) {
		tok := mint(t, g, "alice", scope.Write)
		expectStatus(t, tok.AccessToken, "GET", 200)
		if status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "sys-client", "sys-secret-0123456789"); status != 200 {
			t.Fatalf("refresh: %d %v", status, m)
		}
		expectStatus(t, tok.AccessToken, "GET", 401)
	})
	t.Run("link deleted", func(t *testing.T) {
		l, _, err := g.app().Links().Create(ctx, links.NewLink{Name: "doomed", RedirectURIs: []string{"https://doomed.example/cb"}, Ceiling: scope.Write})
		if err != nil {
			t.Fatal(err)
		}
		c := grants.Client{LinkID: l.ID, ClientID: l.ClientID, Ceiling: l.Ceiling}
		code, err := g.app().Grants().IssueCode(ctx, grants.CodeRequest{Client: c, UserID: "alice", RedirectURI: "https://doomed.example/cb", Scope: scope.Write})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := g.app().Grants().Exchange(ctx, c, code, "https://doomed.example/cb", "", "")
		if err != nil {
			t.Fatal(err)
		}
		expectStatus(t, tok.AccessToken, "POST", 200)
		if err := g.app().Links().Delete(ctx, l.ID, "test"); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, tok.AccessToken, "GET", 401)
	})
	t.Run("user demoted", func(t *testing.T) {
		setRole(t, g, "dora", scope.Admin, false)
		tok := mint(t, g, "dora", scope.Admin)
		expectStatus(t, tok.AccessToken, "POST", 200)
		setRole(t, g, "dora", scope.Read, false)
		expectStatus(t, tok.AccessToken, "POST", 403)
		expectStatus(t, tok.AccessToken, "GET", 200)
	})
	t.Run("user disabled", func(t *testing.T) {
		setRole(t, g, "dave", scope.Write, false)
		tok := mint(t, g, "dave", scope.Write)
		expectStatus(t, tok.AccessToken, "GET", 200)
		setRole(t, g, "dave", scope.Write, true)
		expectStatus(t, tok.AccessToken, "GET", 401)
	})
}

// TestGuardExpiredToken: an access token stops working when it expires,
// also when the validation is cached.
func TestGuardExpiredToken(t *testing.T) {
	up := upstream(t)
	g := startGateway(t, gatewayOptions{extraGlobal: sysLinkConfig + "\n\t\taccess_token_ttl 1s", site: "applinks\n\trequire_token\n\treverse_proxy " + up.URL})
	tok := mint(t, g, "alice", scope.Write)
	if resp, _, _ := call(t, "GET", "/api/x", bearer(tok.AccessToken)); resp.StatusCode != 200 {
		t.Fatalf("fresh token: %d", resp.StatusCode)
	}
	time.Sleep(1100 * time.Millisecond)
	if resp, _, _ := call(t, "GET", "/api/x", bearer(tok.AccessToken)); resp.StatusCode != 401 {
		t.Fatalf("expired token: %d", resp.StatusCode)
	}
}

// TestGuardSessionMode: a signed-in person passes with their role; a
// browser without session is sent to sign in; an API client gets 401.
func TestGuardSessionMode(t *testing.T) {
	guardedGateway(t)
	c := browser(t)
	signIn(t, c, "wendy", password).Body.Close()
	resp, err := c.Post(base+"/session/x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	var s seen
	_ = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if resp.StatusCode != 200 || s.User != "wendy" || s.Scope != "WRITE" {
		t.Fatalf("signed-in POST: %d %+v", resp.StatusCode, s)
	}
	// Outside the session route, the session is not enough.
	resp, err = c.Get(base + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("session on a token-only route: %d", resp.StatusCode)
	}
	// A browser without a session is sent to sign in and back.
	anon := browser(t)
	anon.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, _ := http.NewRequest(http.MethodGet, base+"/session/page?x=1", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err = anon.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/applinks/login?return_to=%2Fsession%2Fpage%3Fx%3D1" {
		t.Fatalf("anonymous browser: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _, _ := call(t, "GET", "/session/x", nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous API client: %d", resp.StatusCode)
	}
}

// TestGuardConcurrent runs many clients with different tokens at once
// (under -race) while grants are revoked; every answer matches the token's
// state.
func TestGuardConcurrent(t *testing.T) {
	g := guardedGateway(t)
	const clients = 16
	toks := make([]grants.Tokens, clients)
	for i := range toks {
		toks[i] = mint(t, g, "alice", scope.Write)
	}
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for i := range clients {
		wg.Go(func() {
			for j := range 30 {
				if i%2 == 1 && j == 15 {
					if err := g.app().Grants().RevokeGrant(context.Background(), toks[i].GrantID, "test"); err != nil {
						errs <- err.Error()
						return
					}
				}
				r, _ := http.NewRequest(http.MethodPost, base+"/api/x", nil)
				r.Header.Set("Authorization", "Bearer "+toks[i].AccessToken)
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				want := 200
				if i%2 == 1 && j >= 15 {
					want = 401
				}
				if resp.StatusCode != want {
					errs <- fmt.Sprintf("client %d request %d: %d, want %d", i, j, resp.StatusCode, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
