package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestTwoWayLink: gateway A has an incoming link whose redirect URI is
// gateway B's callback; B has an outgoing link to A (provider oauth2 with
// A's issuer, endpoints by RFC 8414 discovery). A person signed in at B
// connects B to A (signing in and consenting at A), then reaches A's
// guarded API through B with A's token, and keeps doing so after A's
// short access-token lifetime has run out: B refreshed it.
func TestTwoWayLink(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	g := startGateway(t, gatewayOptions{
		extraGlobal: `access_token_ttl 2s
		incoming gateway-b {
			redirect_uri http://localhost:9490/applinks/callback/a
			scope READ
			client_id gateway-b
			client_secret gateway-b-secret-0123456789
		}`,
		site: `applinks
	handle /api/* {
		require_token
		respond "A says hello to {http.auth.user.id} via {http.auth.user.client_id} with {http.auth.user.scope}" 200
	}`,
	})
	startProcess(t, caddyBinary(t), fmt.Sprintf(`{
	admin off
	http_port 9490
	applinks {
		storage badger %s
		user alice %s WRITE
		outgoing a {
			provider oauth2 %s
			client_id gateway-b
			client_secret gateway-b-secret-0123456789
			scopes READ
		}
	}
}
:9490 {
	applinks
	handle /a/* {
		require_token {
			session
		}
		outgoing_token a
		uri strip_prefix /a
		reverse_proxy 127.0.0.1:%d
	}
}
`, t.TempDir(), hashFor(t, password), base, httpPort))

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 15 * time.Second}
	const b = "http://localhost:9490"

	// Not connected yet: an API call through B is told where to connect.
	resp, err := c.Get(b + "/applinks/login")
	if err != nil {
		t.Fatal(err)
	}
	f := flow.HiddenFields(readBody(t, resp))
	f.Set("username", "alice")
	f.Set("password", password)
	resp, err = c.PostForm(b+"/applinks/login", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(b + "/a/api/x")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"authorization_required"`) || !strings.Contains(body, b+"/applinks/connect/a") {
		t.Fatalf("before connecting: %d %s", resp.StatusCode, body)
	}

	// Connect: B sends the browser to A, where alice signs in and consents.
	resp, body = signInAndAllowAtA(t, c, b+"/applinks/connect/a?return_to=/a/api/x", "gateway-b")
	const want = "A says hello to alice via gateway-b with READ"
	if resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("after connecting, through B: %d at %s: %q", resp.StatusCode, resp.Request.URL, body)
	}

	// A's access tokens live 2 s; B keeps reaching A after that.
	time.Sleep(2500 * time.Millisecond)
	for i := range 3 {
		resp, err = c.Get(b + "/a/api/x")
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != http.StatusOK || body != want {
			t.Fatalf("request %d after A's token expired: %d %q", i, resp.StatusCode, body)
		}
	}
	grants, err := g.app().Grants().List(context.Background(), store.GrantFilter{UserID: "alice"})
	if err != nil || len(grants) != 1 {
		t.Fatalf("A's grants of alice: %v %v", grants, err)
	}
	if grants[0].ClientID != "gateway-b" || grants[0].Generation < 2 {
		t.Fatalf("B did not refresh at A: %+v", grants[0])
	}
}
