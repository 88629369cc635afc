package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/users"
)

// credentialSite proxies to up: /web/* with the per-user token of link ms
// chosen by the session alone, /api/* behind require_token, /shared/* and
// /open/* with the shared link team (the latter to anyone), and /plain/*
// with no handler of ours but the applinks one before it.
func credentialSite(up string) string {
	return fmt.Sprintf(`applinks
	handle /web/* {
		outgoing_token ms
		reverse_proxy %[1]s
	}
	handle /api/* {
		require_token
		outgoing_token ms
		reverse_proxy %[1]s
	}
	handle /shared/* {
		outgoing_token team
		reverse_proxy %[1]s
	}
	handle /open/* {
		outgoing_token team {
			allow_anonymous
		}
		reverse_proxy %[1]s
	}
	handle /plain/* {
		reverse_proxy %[1]s
	}`, up)
}

// credentialGateway runs credentialSite with a per-user link ms and a
// shared link team at the fake provider f.
func credentialGateway(t *testing.T, f *outFake, up string) *gateway {
	t.Helper()
	return startGateway(t, gatewayOptions{
		extraGlobal: sysLinkConfig + "\n\t\t" + outLinkConfig("ms", "microsoft", "per_user", f) + "\n\t\t" + outLinkConfig("team", "microsoft", "shared", f),
		site:        credentialSite(up),
	})
}

// sendWith sends a request as the browser c with extra headers and returns
// the answer, what the upstream saw and the body.
func sendWith(t *testing.T, c *http.Client, method, path string, hdr map[string]string) (*http.Response, seen, string) {
	t.Helper()
	r, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	var s seen
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("upstream answer %q: %v", body, err)
		}
	}
	return resp, s, body
}

// TestOutgoingTokenDoesNotLeakSessionCookie: a third-party API reached
// through outgoing_token (or any upstream after the applinks handler)
// never receives the person's gateway session, anti-CSRF or OpenID
// Connect cookie under any spelling, nor the gateway's own token, while
// the site's other cookies and foreign Authorization values pass as sent.
func TestOutgoingTokenDoesNotLeakSessionCookie(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := credentialGateway(t, f, up.URL)
	alice := outBrowser(t)
	outConnected(t, alice, "ms", "alice", "/done")
	providerToken := fmt.Sprintf("Bearer at-%d-1", get(f, func(f *outFake) int { return f.lastAccount }))
	var session string
	for _, c := range alice.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(base, "http://"), Path: "/"}) {
		if c.Name == users.SessionCookie {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("alice has no session cookie after signing in")
	}
	gw := mint(t, g, "alice", scope.Write)
	// Every spelling of a gateway cookie a browser could hold, around two
	// cookies of the site itself.
	planted := "theme=dark; __Host-applinks_session=" + session + "; __Secure-applinks_x=1; APPLINKS_OIDC=2; __host-Applinks_login=3; lang=en"
	wantKept := func(path string, s seen) {
		t.Helper()
		if strings.Contains(strings.ToLower(s.Cookie), "applinks") || strings.Contains(s.Cookie, session) {
			t.Errorf("%s: the upstream got a gateway cookie: %q", path, s.Cookie)
		}
		if !strings.Contains(s.Cookie, "theme=dark") || !strings.Contains(s.Cookie, "lang=en") {
			t.Errorf("%s: the site's own cookies did not pass: %q", path, s.Cookie)
		}
	}

	for _, tc := range []struct {
		path, authorization, wantAuthorization string
	}{
		{"/web/x", "", providerToken},
		{"/web/x", "Bearer " + gw.AccessToken, providerToken},
		{"/api/x", "Bearer " + gw.AccessToken, providerToken},
		{"/plain/x", "", ""},
		{"/plain/x", "Bearer " + gw.AccessToken, ""},
		{"/plain/x", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+gw.AccessToken)), ""},
		{"/plain/x", "Bearer ghp_not-ours", "Bearer ghp_not-ours"},
	} {
		hdr := map[string]string{"Cookie": planted}
		if tc.authorization != "" {
			hdr["Authorization"] = tc.authorization
		}
		resp, s, body := sendWith(t, alice, http.MethodGet, tc.path, hdr)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s with %q: %d %s", tc.path, tc.authorization, resp.StatusCode, body)
		}
		wantKept(tc.path, s)
		if s.Authorization != tc.wantAuthorization {
			t.Errorf("%s with %q: the upstream got Authorization %q, want %q", tc.path, tc.authorization, s.Authorization, tc.wantAuthorization)
		}
	}
}

// TestSharedLinkIsNotLentToAnonymousRequests: anyone who can reach a route
// with a shared link's outgoing_token cannot borrow the organisation's
// provider token without a gateway identity, unless the route opts in
// with allow_anonymous.
func TestSharedLinkIsNotLentToAnonymousRequests(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := credentialGateway(t, f, up.URL)
	outConnected(t, outBrowser(t), "team", "sam", "/done")
	shared := fmt.Sprintf("Bearer at-%d-1", get(f, func(f *outFake) int { return f.lastAccount }))

	resp, _, body := call(t, http.MethodGet, "/shared/x", nil)
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "at-") || !strings.Contains(body, `"error":"unauthorized"`) {
		t.Fatalf("anonymous API call on the shared link: %d %s", resp.StatusCode, body)
	}
	if www := resp.Header.Get("WWW-Authenticate"); www != `Bearer realm="applinks"` {
		t.Errorf("anonymous API call: WWW-Authenticate %q", www)
	}
	resp, _, _ = sendWith(t, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, http.MethodGet, "/shared/x", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), users.LoginPath) {
		t.Fatalf("anonymous browser on the shared link: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	bob := browser(t)
	signIn(t, bob, "bob", password)
	if resp, s, body := sendWith(t, bob, http.MethodGet, "/shared/x", nil); resp.StatusCode != http.StatusOK || s.Authorization != shared {
		t.Fatalf("signed-in bob on the shared link: %d %+v %s", resp.StatusCode, s, body)
	}
	gw := mint(t, g, "bob", scope.Read)
	if resp, s, body := call(t, http.MethodGet, "/api/x", bearer(gw.AccessToken)); resp.StatusCode != http.StatusUnauthorized || s.Authorization != "" {
		// /api/* uses the per-user link ms, which bob has not connected.
		t.Fatalf("bob's token on the per-user link: %d %s", resp.StatusCode, body)
	}
	if resp, s, body := call(t, http.MethodGet, "/open/x", nil); resp.StatusCode != http.StatusOK || s.Authorization != shared {
		t.Fatalf("anonymous call on the allow_anonymous route: %d %+v %s", resp.StatusCode, s, body)
	}
}

// TestSessionCannotActForCrossSiteWrite: another site (a sibling subdomain
// included, which SameSite=Lax lets through) cannot make a signed-in
// person's browser change things through require_token { session } or
// outgoing_token; reading and token-authenticated requests still work.
func TestSessionCannotActForCrossSiteWrite(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	site := credentialSite(up.URL) + fmt.Sprintf(`
	handle /session/* {
		require_token {
			session
		}
		reverse_proxy %s
	}`, up.URL)
	g := startGateway(t, gatewayOptions{
		extraGlobal: sysLinkConfig + "\n\t\t" + outLinkConfig("ms", "microsoft", "per_user", f) + "\n\t\t" + outLinkConfig("team", "microsoft", "shared", f),
		site:        site,
	})
	alice := outBrowser(t)
	outConnected(t, alice, "ms", "alice", "/done")
	gw := mint(t, g, "alice", scope.Write)
	for _, path := range []string{"/session/x", "/web/x"} {
		for _, tc := range []struct {
			name, method string
			hdr          map[string]string
			status       int
		}{
			{"cross-site POST", http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
			{"same-site POST", http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
			{"DELETE from a foreign Origin", http.MethodDelete, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
			{"POST from a null Origin", http.MethodPost, map[string]string{"Origin": "null"}, http.StatusForbidden},
			{"same-origin POST", http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": base}, http.StatusOK},
			{"POST without browser headers", http.MethodPost, nil, http.StatusOK},
			{"cross-site GET", http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusOK},
		} {
			resp, _, body := sendWith(t, alice, tc.method, path, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: %d %s, want %d", tc.name, path, resp.StatusCode, body, tc.status)
			}
			if tc.status == http.StatusForbidden && !strings.Contains(body, `"error":"access_denied"`) {
				t.Errorf("%s %s: body %s", tc.name, path, body)
			}
		}
	}
	// A token is no ambient credential: require_token lets it act across
	// sites. (outgoing_token alone does not read gateway tokens.)
	hdr := map[string]string{"Sec-Fetch-Site": "cross-site", "Authorization": "Bearer " + gw.AccessToken}
	if resp, _, body := sendWith(t, alice, http.MethodPost, "/session/x", hdr); resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site POST with a token: %d %s", resp.StatusCode, body)
	}
}

// TestGuardChallengeWithoutCredentialsHasNoError: a request that sent no
// credentials is not told an error occurred (RFC 6750 §3.1), so clients
// that treat error="…" as a bad token do not discard a token they never
// sent; the JSON body still explains what is missing.
func TestGuardChallengeWithoutCredentialsHasNoError(t *testing.T) {
	guardedGateway(t)
	for _, path := range []string{"/api/x", "/session/x"} {
		resp, _, body := call(t, http.MethodGet, path, nil)
		www := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(www, `Bearer realm="applinks"`) || strings.Contains(www, "error") {
			t.Errorf("%s without credentials: %d WWW-Authenticate %q", path, resp.StatusCode, www)
		}
		if !strings.Contains(body, `"error":"unauthorized"`) || !strings.Contains(body, `"error_description":"a bearer token is required"`) {
			t.Errorf("%s without credentials: body %s", path, body)
		}
	}
	resp, _, _ := call(t, http.MethodGet, "/api/x", bearer("ala_"+strings.Repeat("A", 48)))
	if www := resp.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) {
		t.Errorf("a bad token's challenge lost its error: %q", www)
	}
}
