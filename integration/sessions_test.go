package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/adminui"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// signedIn reports whether the browser c has a live session: the account
// page shows instead of the sign-in page.
func signedIn(t *testing.T, c *http.Client) bool {
	t.Helper()
	resp, err := c.Get(base + "/applinks/account")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	return resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/applinks/account" && strings.Contains(body, "Your applications")
}

// signedInBrowser returns a browser in which user signed in with pw.
func signedInBrowser(t *testing.T, user, pw string) *http.Client {
	t.Helper()
	c := browser(t)
	signIn(t, c, user, pw).Body.Close()
	if !signedIn(t, c) {
		t.Fatalf("%s could not sign in", user)
	}
	return c
}

// putUser creates or changes a stored user through the admin API.
func putUser(t *testing.T, name string, body map[string]any) {
	t.Helper()
	if status, m, _ := adminCall(t, "PUT", "/applinks/users/"+url.PathEscape(name), body); status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("PUT user %s: %d %v", name, status, m)
	}
}

// leftSessions counts the user's session records still in the store, by
// deleting them.
func leftSessions(t *testing.T, g *gateway, user string) int {
	t.Helper()
	var n int
	g.inStore(func(st store.Store) {
		var err error
		if n, err = st.DeleteUserSessions(context.Background(), user); err != nil {
			t.Fatal(err)
		}
	})
	return n
}

// TestPasswordResetEndsSessions: someone who signed in with a stolen
// password keeps no session once an administrator sets a new password,
// changes the role or disables the user; other users stay signed in.
func TestPasswordResetEndsSessions(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	bob := signedInBrowser(t, "bob", password)
	for _, tt := range []struct {
		name   string
		change map[string]any
	}{
		{"new password", map[string]any{"password": "a-new-password-2", "role": "WRITE"}},
		{"role change", map[string]any{"role": "READ"}},
		{"disabled", map[string]any{"role": "WRITE", "disabled": true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "zoe-" + strings.ReplaceAll(tt.name, " ", "-")
			putUser(t, name, map[string]any{"password": "zoe-password-1", "role": "WRITE"})
			thief, owner := signedInBrowser(t, name, "zoe-password-1"), signedInBrowser(t, name, "zoe-password-1")
			putUser(t, name, tt.change)
			if signedIn(t, thief) || signedIn(t, owner) {
				t.Fatalf("a session of %s survived a change of %s", name, tt.name)
			}
			if n := leftSessions(t, g, name); n != 0 {
				t.Errorf("%d ended sessions of %s are still stored", n, name)
			}
		})
	}
	if !signedIn(t, bob) {
		t.Fatal("changing other users signed bob out")
	}
	// Saving a user unchanged keeps their sessions.
	putUser(t, "yan", map[string]any{"password": "yan-password-1", "role": "WRITE"})
	yan := signedInBrowser(t, "yan", "yan-password-1")
	putUser(t, "yan", map[string]any{"role": "WRITE"})
	if !signedIn(t, yan) {
		t.Fatal("saving a user without a change signed them out")
	}
}

// TestSignInRacingPasswordResetIsEnded: a sign-in that checked the old
// password while an administrator set a new one gets no live session,
// even though its session is stored after the reset.
func TestSignInRacingPasswordResetIsEnded(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	ctx := context.Background()
	a := g.app()
	if _, _, err := a.SaveUser(ctx, "zoe", users.Change{Password: "zoe-password-1", Role: scope.Write}, "test"); err != nil {
		t.Fatal(err)
	}
	u, err := a.Users().Authenticate(ctx, "zoe", "zoe-password-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SaveUser(ctx, "zoe", users.Change{Password: "a-new-password-2", Role: scope.Write}, "test"); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, base+"/applinks/account", nil)
	rec := httptest.NewRecorder()
	if err := a.Sessions().Start(ctx, rec, req, u); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	if _, ok, err := a.Sessions().Current(req); err != nil || ok {
		t.Fatalf("a session started with the old password is live after the reset: %v %v", ok, err)
	}
}

// TestCaddyfilePasswordChangeEndsSessions: changing a declared user's
// password hash or role in the Caddyfile ends the sessions started with
// the old one; a restart without a change keeps them.
func TestCaddyfilePasswordChangeEndsSessions(t *testing.T) {
	dir := t.TempDir()
	declare := func(pw, role string) gatewayOptions {
		return gatewayOptions{dir: dir, noUsers: true, extraGlobal: fmt.Sprintf("user carl %s %s\n\t\tuser sam %s SYSTEM_ADMIN", hashFor(t, pw), role, hashFor(t, password))}
	}
	g := startGateway(t, declare(password, "WRITE"))
	c := signedInBrowser(t, "carl", password)
	g.unload()
	g = startGateway(t, declare(password, "WRITE"))
	if !signedIn(t, c) {
		t.Fatal("a restart with the same Caddyfile ended carl's session")
	}
	g.unload()
	g = startGateway(t, declare("carl's new password", "WRITE"))
	if signedIn(t, c) {
		t.Fatal("carl's session survived a new password in the Caddyfile")
	}
	c = signedInBrowser(t, "carl", "carl's new password")
	g.unload()
	startGateway(t, declare("carl's new password", "READ"))
	if signedIn(t, c) {
		t.Fatal("carl's session survived a role change in the Caddyfile")
	}
}

// TestSignOutEverywhereFromAccountPage: a user who left a session open on
// another computer ends it from the account page, with the form's
// anti-CSRF token; other users' sessions stay.
func TestSignOutEverywhereFromAccountPage(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	here, elsewhere := signedInBrowser(t, "alice", password), signedInBrowser(t, "alice", password)
	bob := signedInBrowser(t, "bob", password)

	resp, err := here.PostForm(base+"/applinks/account", url.Values{"action": {"signout-everywhere"}, "csrf_token": {"forged"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !signedIn(t, elsewhere) {
		t.Fatalf("sign out everywhere without the anti-CSRF token: %d", resp.StatusCode)
	}

	resp, err = here.Get(base + "/applinks/account")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	if !strings.Contains(page, "Sign out everywhere") {
		t.Fatalf("the account page has no sign-out-everywhere button:\n%s", page)
	}
	f := flow.HiddenFields(page)
	f.Set("action", "signout-everywhere")
	resp, err = here.PostForm(base+"/applinks/account", f)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "every browser") {
		t.Fatalf("sign out everywhere: %d %s", resp.StatusCode, body)
	}
	if signedIn(t, here) || signedIn(t, elsewhere) {
		t.Fatal("a session of alice survived sign out everywhere")
	}
	if n := leftSessions(t, g, "alice"); n != 0 {
		t.Errorf("%d sessions of alice are still stored", n)
	}
	if !signedIn(t, bob) {
		t.Fatal("alice's sign out everywhere signed bob out")
	}
}

// TestAdminSignsUserOutEverywhere: an administrator ends every session of
// a user whose password leaked, declared or stored, through the admin API
// and the admin UI, without deleting the user; other users stay signed in.
func TestAdminSignsUserOutEverywhere(t *testing.T) {
	startGateway(t, gatewayOptions{})
	one, two := signedInBrowser(t, "alice", password), signedInBrowser(t, "alice", password)
	bob := signedInBrowser(t, "bob", password)
	if status, m, _ := adminCall(t, "POST", "/applinks/users/alice/sign-out", nil); status != http.StatusOK || m["sessions_ended"] != float64(2) {
		t.Fatalf("sign-out: %d %v", status, m)
	}
	if signedIn(t, one) || signedIn(t, two) {
		t.Fatal("a session of alice survived the admin API's sign-out")
	}
	if !signedIn(t, bob) {
		t.Fatal("signing alice out signed bob out")
	}
	signedInBrowser(t, "alice", password) // alice can sign in again
	if status, _, _ := adminCall(t, "POST", "/applinks/users/nobody/sign-out", nil); status != http.StatusNotFound {
		t.Fatalf("sign-out of an unknown user: %d", status)
	}

	putUser(t, "zoe", map[string]any{"password": "zoe-password-1", "role": "WRITE"})
	zoe := signedInBrowser(t, "zoe", "zoe-password-1")
	sam := signedInBrowser(t, "sam", password)
	userPage := adminui.Path + "/users/zoe"
	if _, page := adminPage(t, sam, userPage); !strings.Contains(page, "Sign out everywhere") {
		t.Fatalf("the user page has no sign-out-everywhere button:\n%s", page)
	}
	status, _, body := adminPost(t, sam, userPage, userPage, url.Values{"action": {"signout"}})
	if status != http.StatusOK || !strings.Contains(body, "Ended 1 session of zoe") {
		t.Fatalf("admin UI sign-out: %d %s", status, body)
	}
	if signedIn(t, zoe) {
		t.Fatal("zoe's session survived the admin UI's sign-out")
	}
	if !signedIn(t, sam) {
		t.Fatal("signing zoe out signed the administrator out")
	}

	// A user declared in the Caddyfile has no page: the list signs them out.
	status, _, body = adminPost(t, sam, adminui.Path+"/users", adminui.Path+"/users", url.Values{"action": {"signout"}, "name": {"bob"}})
	if status != http.StatusOK || !strings.Contains(body, "Ended 1 session of bob") {
		t.Fatalf("admin UI sign-out of a declared user: %d %s", status, body)
	}
	if signedIn(t, bob) {
		t.Fatal("bob's session survived the users list's sign-out")
	}
	if status, _, _ := adminPost(t, sam, adminui.Path+"/users", adminui.Path+"/users", url.Values{"action": {"signout"}, "name": {"nobody"}}); status != http.StatusNotFound {
		t.Fatalf("admin UI sign-out of an unknown user: %d", status)
	}
}
