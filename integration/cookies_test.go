package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/users"
)

// rawClient sends cookies only as the test says and follows no redirect,
// so the Set-Cookie headers of each answer can be read.
var rawClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// rawSend sends a request with the given headers (and form, for a POST).
func rawSend(t *testing.T, method, path string, hdr map[string]string, form url.Values) (*http.Response, string) {
	t.Helper()
	var r *http.Request
	var err error
	if form != nil {
		r, err = http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		if err == nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		r, err = http.NewRequest(method, base+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := rawClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

// setCookie returns the cookie named name that resp sets, or fails.
func setCookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %q", name, resp.Header.Values("Set-Cookie"))
	return nil
}

// wantHostCookie checks the attributes that make a browser keep a
// __Host- cookie, or those of a bare cookie on plain HTTP.
func wantHostCookie(t *testing.T, c *http.Cookie, secure bool) {
	t.Helper()
	if c.Secure != secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || strings.HasPrefix(c.Name, users.HostPrefix) != secure {
		t.Errorf("cookie %s: Secure=%v Path=%q Domain=%q HttpOnly=%v SameSite=%v, want Secure=%v and the __Host- prefix exactly then", c.Name, c.Secure, c.Path, c.Domain, c.HttpOnly, c.SameSite, secure)
	}
}

// TestGatewayCookiesCannotBeTossedOnHTTPS: on an HTTPS site the session and
// sign-in cookies are __Host- prefixed and Secure, so a sibling subdomain
// or a plain-HTTP attacker who plants a bare applinks_session (session
// fixation) or applinks_login (sign-in CSRF) cookie gets nowhere, and a
// real session works with require_token.
func TestGatewayCookiesCannotBeTossedOnHTTPS(t *testing.T) {
	up := upstream(t)
	startGateway(t, gatewayOptions{extraGlobal: "issuer https://gw.example", site: fmt.Sprintf(`applinks
	handle /session/* {
		require_token {
			session
		}
		reverse_proxy %s
	}`, up.URL)})
	login := users.HostPrefix + users.LoginCookie
	sessionName := users.HostPrefix + users.SessionCookie

	resp, page := rawSend(t, http.MethodGet, users.LoginPath, nil, nil)
	lc := setCookie(t, resp, login)
	wantHostCookie(t, lc, true)
	form := flow.HiddenFields(page)
	form.Set("username", "alice")
	form.Set("password", password)

	// The attacker's own form token, with its cookie planted bare.
	resp, _ = rawSend(t, http.MethodPost, users.LoginPath, map[string]string{"Cookie": users.LoginCookie + "=" + lc.Value}, form)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in with a planted bare login cookie: %d, want 403", resp.StatusCode)
	}
	resp, _ = rawSend(t, http.MethodPost, users.LoginPath, map[string]string{"Cookie": login + "=" + lc.Value}, form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	sc := setCookie(t, resp, sessionName)
	wantHostCookie(t, sc, true)

	resp, body := rawSend(t, http.MethodGet, "/session/x", map[string]string{"Cookie": sessionName + "=" + sc.Value}, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"User":"alice"`) || strings.Contains(body, sc.Value) {
		t.Fatalf("the __Host- session: %d %s", resp.StatusCode, body)
	}
	resp, _ = rawSend(t, http.MethodGet, "/session/x", map[string]string{"Cookie": users.SessionCookie + "=" + sc.Value}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a planted bare session cookie was accepted on HTTPS: %d", resp.StatusCode)
	}
}

// TestCookiesAreSecureBehindTrustedHTTPSProxy: behind a TLS-terminating
// proxy listed in trusted_proxies, cookies are Secure and __Host- (and the
// derived issuer is https), so the session never travels in clear; the
// same header from a client that is not a trusted proxy changes nothing,
// and plain HTTP on loopback keeps bare names browsers accept there.
func TestCookiesAreSecureBehindTrustedHTTPSProxy(t *testing.T) {
	viaProxy := map[string]string{"X-Forwarded-Proto": "https"}
	t.Run("trusted proxy", func(t *testing.T) {
		startGateway(t, gatewayOptions{globalOption: "servers {\n\t\ttrusted_proxies static 127.0.0.1/8\n\t}", site: "applinks\n\trequire_token"})
		resp, _ := rawSend(t, http.MethodGet, users.LoginPath, viaProxy, nil)
		wantHostCookie(t, setCookie(t, resp, users.HostPrefix+users.LoginCookie), true)
		resp, _ = rawSend(t, http.MethodGet, "/api/x", viaProxy, nil)
		if www := resp.Header.Get("WWW-Authenticate"); !strings.Contains(www, `resource_metadata="https://`) {
			t.Errorf("issuer behind an HTTPS proxy: %q", www)
		}
		resp, _ = rawSend(t, http.MethodGet, users.LoginPath, nil, nil)
		wantHostCookie(t, setCookie(t, resp, users.LoginCookie), false)
	})
	t.Run("untrusted client", func(t *testing.T) {
		startGateway(t, gatewayOptions{})
		resp, _ := rawSend(t, http.MethodGet, users.LoginPath, viaProxy, nil)
		wantHostCookie(t, setCookie(t, resp, users.LoginCookie), false)
	})
}
