package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/token"
	"github.com/applinks/caddy-applinks/module/users"
)

// TestForgedSessionCookieSignOutWritesNothing: an unauthenticated client
// that posts sign-outs with session cookies of the right form (prefix and
// checksum) that name no session cannot make the gateway write to its
// store, however often it asks.
func TestForgedSessionCookieSignOutWritesNothing(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{dir: dir})
	g.unload()
	before := countKeys(t, dir)

	g = startGateway(t, gatewayOptions{dir: dir})
	for range 50 {
		req, err := http.NewRequest(http.MethodPost, base+"/applinks/logout", strings.NewReader("csrf=forged"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: users.SessionCookie, Value: token.New(token.Session)})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != http.StatusOK {
			t.Fatalf("sign-out with a forged cookie: %d %s", resp.StatusCode, body)
		}
	}
	g.unload()
	after := countKeys(t, dir)
	if d := after.sub(before); len(d) != 0 {
		t.Errorf("50 sign-outs with forged session cookies changed the store: %v (before %v, after %v)", d, before, after)
	}
}
