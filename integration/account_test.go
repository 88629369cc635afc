package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestAccountPage: a signed-in user sees the applications they authorized
// and their outgoing connections, revokes an application (its tokens stop
// working) and disconnects an account; they cannot touch another user's
// grant, and every change needs the form's anti-CSRF token.
func TestAccountPage(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")
	c := outBrowser(t)
	outConnected(t, c, "ms", "alice", "/done") // signs alice in too
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	bobs := mint(t, g, "bob", scope.Read)

	get := func() string {
		t.Helper()
		resp, err := c.Get(base + "/applinks/account")
		if err != nil {
			t.Fatal(err)
		}
		page := readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("account page: %d %s", resp.StatusCode, page)
		}
		return page
	}
	page := get()
	if !strings.Contains(page, "<td>app</td>") || !strings.Contains(page, "<td>ms</td><td>Connected</td>") || !strings.Contains(page, "Revoke") {
		t.Fatalf("account page lacks the grant or the connection:\n%s", page)
	}
	csrf := flow.HiddenFields(page).Get("csrf_token")
	grants, err := g.app().Grants().List(context.Background(), store.GrantFilter{UserID: "alice", LinkID: "cfg-app"})
	if err != nil || len(grants) != 1 {
		t.Fatalf("alice's grants: %v %v", grants, err)
	}
	post := func(v url.Values) *http.Response {
		t.Helper()
		resp, err := c.PostForm(base+"/applinks/account", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	if resp := post(url.Values{"action": {"revoke"}, "grant": {grants[0].ID}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("revoke without the anti-CSRF token: %d", resp.StatusCode)
	}
	if resp := post(url.Values{"csrf_token": {csrf}, "action": {"revoke"}, "grant": {bobs.GrantID}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("revoking bob's grant from alice's page: %d", resp.StatusCode)
	}
	if _, err := g.app().Grants().Get(context.Background(), bobs.GrantID); err != nil {
		t.Fatalf("bob's grant is gone: %v", err)
	}
	if introspect(t, tok.AccessToken)["active"] != true {
		t.Fatal("alice's token died before she revoked it")
	}
	if resp := post(url.Values{"csrf_token": {csrf}, "action": {"revoke"}, "grant": {grants[0].ID}}); resp.Request.URL.Path != "/applinks/account" || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	if introspect(t, tok.AccessToken)["active"] != false {
		t.Fatal("a revoked application's token still works")
	}
	resp, err := c.PostForm(base+"/applinks/account", url.Values{"csrf_token": {csrf}, "action": {"disconnect"}, "link": {"ms"}})
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "ms disconnected.") {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, body)
	}
	if st := outStatus(t, g, "ms", "alice"); st != "" {
		t.Fatalf("status after disconnecting: %q", st)
	}
	page = get()
	if strings.Contains(page, "<td>app</td>") || !strings.Contains(page, "<td>ms</td><td>Not connected</td>") {
		t.Fatalf("account page after the changes:\n%s", page)
	}
}
