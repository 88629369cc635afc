package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/users"
)

// offSiteReturns are return_to values that name another host, plainly or
// behind backslashes, dot segments, encodings and control characters that
// http.Redirect or a browser would turn into //evil.example.
var offSiteReturns = []string{
	"https://evil.example/",
	"//evil.example",
	"/\\evil.example",
	"/./\\evil.example",
	"/../\\evil.example",
	"/.//evil.example",
	"/%2e%2e//evil.example",
	"/%5cevil.example",
	"/%2f/evil.example",
	"/\t/evil.example",
	"javascript:alert(1)",
}

// noFollow is a cookie-keeping browser that stops at every redirect, so
// its Location can be checked.
func noFollow(t *testing.T) *http.Client {
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// TestPasswordSignInDoesNotRedirectOffSite: a sign-in link whose return_to
// hides another host (backslashes, dot segments, encodings, control
// characters) is not carried by the sign-in form, and a password sign-in
// posted with it anyway sends the browser to /, never to that host; a
// local path with a query is kept.
func TestPasswordSignInDoesNotRedirectOffSite(t *testing.T) {
	startGateway(t, gatewayOptions{})
	signInTo := func(t *testing.T, user, returnTo string) (kept, loc string) {
		t.Helper()
		c := noFollow(t)
		resp, err := c.Get(base + "/applinks/login?return_to=" + url.QueryEscape(returnTo))
		if err != nil {
			t.Fatal(err)
		}
		f := flow.HiddenFields(readBody(t, resp))
		kept = f.Get("return_to")
		f.Set("return_to", returnTo)
		f.Set("username", user)
		f.Set("password", password)
		resp, err = c.PostForm(base+"/applinks/login", f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in answered %d", resp.StatusCode)
		}
		return kept, resp.Header.Get("Location")
	}
	// Spread over the users to stay under the per-user sign-in limit.
	who := []string{"alice", "bob", "sam", "wendy"}
	for i, raw := range offSiteReturns {
		t.Run(raw, func(t *testing.T) {
			user, want := who[i%len(who)], "/"
			if user == "sam" { // a System admin lands on the administration UI
				want = "/applinks/admin"
			}
			if kept, loc := signInTo(t, user, raw); kept != "" || loc != want {
				t.Fatalf("return_to %q: the form kept %q and sign-in sent the browser to %q, want nothing and %s", raw, kept, loc, want)
			}
		})
	}
	if kept, loc := signInTo(t, "alice", "/hello/./there?x=1&next=%2Fy"); kept != "/hello/there?x=1&next=%2Fy" || loc != kept {
		t.Fatalf("a local path with a query: the form kept %q, Location %q", kept, loc)
	}
}

// TestOIDCSignInDoesNotRedirectOffSite: an OpenID Connect sign-in started
// with a return_to that hides another host ends on /, never on that host;
// a local path with a query is kept.
func TestOIDCSignInDoesNotRedirectOffSite(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "READ", "")
	start := func(returnTo string) string {
		return base + users.OIDCStartPath + "?provider=Fake&return_to=" + url.QueryEscape(returnTo)
	}
	for _, raw := range offSiteReturns {
		t.Run(raw, func(t *testing.T) {
			status, body, at := newOPBrowser(t).get(t, start(raw))
			if status != http.StatusOK || at != base+"/" || body != f.sub()+"@127.0.0.1 READ" {
				t.Fatalf("return_to %q: ended at %s with %d %q, want %s/", raw, at, status, body, base)
			}
		})
	}
	status, body, at := newOPBrowser(t).get(t, start("/hello/../hi?x=1"))
	if status != http.StatusOK || at != base+"/hi?x=1" {
		t.Fatalf("a local path with a query: ended at %s with %d %q", at, status, body)
	}
	f.checkNoProblems(t)
}

// TestConnectDoesNotRedirectOffSite: connecting an outgoing link from a
// link whose return_to hides another host ends on the "connected" page
// with no way on to that host; a local path with a query is kept.
func TestConnectDoesNotRedirectOffSite(t *testing.T) {
	f := newOutFake(t, false)
	outGateway(t, f, upstream(t), "ms", "microsoft", "per_user", "")
	alice := outBrowser(t)
	outConnected(t, alice, "ms", "alice", "/web/page?y=2")
	for _, raw := range offSiteReturns {
		t.Run(raw, func(t *testing.T) {
			resp, body := outConnect(t, alice, "ms", "alice", raw)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ms is connected") || strings.Contains(body, "evil.example") || strings.Contains(body, "Continue") {
				t.Fatalf("return_to %q: %d Location %q: %s", raw, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		})
	}
}
