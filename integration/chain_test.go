package integration

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
)

// The chain: gateway B signs its users in through gateway A. A runs in
// this process on 127.0.0.1:9480; B runs as its own Caddy process on
// localhost:9490 (another host name, so the two gateways' cookies stay
// apart in the browser, as they would on two domains).
const (
	chainB        = "http://localhost:9490"
	chainCallback = chainB + "/applinks/login/callback/Gateway%20A"
)

// chainUser is what B's app answers for alice: her name at B (A's opaque
// subject for her at A's host) and the role B maps for her.
var chainUser = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}@127\.0\.0\.1 ADMIN$`)

// signInAndAllowAtA opens start in browser c, which must lead to gateway
// A's sign-in page; it signs alice in, checks that A's consent page
// contains consent, allows, and returns where the browser ends.
func signInAndAllowAtA(t *testing.T, c *http.Client, start, consent string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	if !strings.HasPrefix(resp.Request.URL.String(), base+"/applinks/login") {
		t.Fatalf("not at A's sign-in page but %s", resp.Request.URL)
	}
	f := flow.HiddenFields(page)
	f.Set("username", "alice")
	f.Set("password", password)
	if resp, err = c.PostForm(base+"/applinks/login", f); err != nil {
		t.Fatal(err)
	}
	page = readBody(t, resp)
	if !strings.Contains(page, "Allow access?") || !strings.Contains(page, consent) {
		t.Fatalf("no consent page at A with %q: %s", consent, page)
	}
	f = flow.HiddenFields(page)
	f.Set("decision", "allow")
	if resp, err = c.PostForm(base+"/applinks/consent", f); err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

func chainGatewayB(t *testing.T) {
	t.Helper()
	caddyfile := fmt.Sprintf(`{
	admin off
	http_port 9490
	applinks {
		storage badger %s
		login oidc %s {
			name "Gateway A"
			client_id gateway-b
			client_secret gateway-b-secret-0123456789
			scopes openid profile
			role_claim preferred_username
			role alice ADMIN
			default_role READ
		}
	}
}
:9490 {
	applinks
	handle {
		require_token {
			session
		}
		respond "{http.auth.user.id} {http.auth.user.scope}" 200
	}
}
`, t.TempDir(), base)
	startProcess(t, caddyBinary(t), caddyfile)
}

// TestChainSignInThroughAnotherGateway: B's sign-in page offers gateway A;
// a person signs in at A, consents, and comes back signed in to B with the
// role B maps from A's ID token. The callback cannot be replayed.
func TestChainSignInThroughAnotherGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	startGateway(t, gatewayOptions{extraGlobal: `incoming gateway-b {
			redirect_uri ` + chainCallback + `
			scope READ
			client_id gateway-b
			client_secret gateway-b-secret-0123456789
		}`})
	chainGatewayB(t)

	jar, _ := cookiejar.New(nil)
	var callback string
	c := &http.Client{Jar: jar, Timeout: 15 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), chainCallback) {
			callback = r.URL.String()
		}
		return nil
	}}

	resp, err := c.Get(chainB + "/applinks/login?return_to=/hello")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	const button = `href="/applinks/login/oidc?provider=Gateway&#43;A&amp;return_to=%2Fhello"`
	if !strings.Contains(page, "Sign in with Gateway A") || !strings.Contains(page, button) {
		t.Fatalf("B's sign-in page has no button for A:\n%s", page)
	}
	// The button leads to A's sign-in page.
	resp, body := signInAndAllowAtA(t, c, chainB+"/applinks/login/oidc?provider=Gateway+A&return_to=%2Fhello", "asks to know who you are")
	// A tells B an opaque subject, not the user name: B names alice
	// <subject>@<A's host> and maps her role from preferred_username.
	if resp.StatusCode != http.StatusOK || !chainUser.MatchString(body) || strings.HasPrefix(body, "alice@") || resp.Request.URL.String() != chainB+"/hello" {
		t.Fatalf("after the chain: %d at %s: %q", resp.StatusCode, resp.Request.URL, body)
	}
	if callback == "" {
		t.Fatal("the callback was not seen")
	}

	// Replaying the callback (state, code) is refused and signs nobody in.
	fresh, _ := cookiejar.New(nil)
	replayer := &http.Client{Jar: fresh, Timeout: 10 * time.Second}
	resp, err = replayer.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	if page := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Sign-in failed") {
		t.Fatalf("replayed callback: %d %s", resp.StatusCode, page)
	}
	resp, err = c.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	if page := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "already used") {
		t.Fatalf("callback replayed in the same browser: %d %s", resp.StatusCode, page)
	}
}
