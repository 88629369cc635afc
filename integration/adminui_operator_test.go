package integration

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
)

// signInLocation signs user in on a fresh browser with the return target
// returnTo ("" for none) and returns where the gateway sends it.
func signInLocation(t *testing.T, user, returnTo string) string {
	t.Helper()
	c := noFollow(t)
	login := "/applinks/login"
	if returnTo != "" {
		login += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp, err := c.Get(base + login)
	if err != nil {
		t.Fatal(err)
	}
	f := flow.HiddenFields(readBody(t, resp))
	f.Set("username", user)
	f.Set("password", password)
	resp, err = c.PostForm(base+"/applinks/login", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of %s answered %d", user, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// stat returns the number an incoming link's page shows for the activity
// figure name (grants, issued or refused), or -1.
func stat(page, name string) string {
	m := regexp.MustCompile(`data-stat="` + name + `">([0-9]+)<`).FindStringSubmatch(page)
	if m == nil {
		return "-1"
	}
	return m[1]
}

// TestAdminNoticeCannotBeSpoofedThroughTheURL: a link to an administration
// or account page with ?notice=… cannot make the gateway show the
// sender's text as its own success message, nor can a flash cookie the
// gateway did not write; a genuine notice shows once and is not in the URL.
func TestAdminNoticeCannotBeSpoofedThroughTheURL(t *testing.T) {
	startGateway(t, gatewayOptions{})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	const spoof = "Security alert: your session leaked, call +1 555 0100 now"
	for _, p := range []string{"/applinks/admin", "/applinks/admin/users", "/applinks/account"} {
		status, page := adminPage(t, sam, p+"?notice="+url.QueryEscape(spoof))
		if status != http.StatusOK || strings.Contains(page, "Security alert") {
			t.Fatalf("%s?notice=…: %d, and the page shows the URL's text:\n%s", p, status, page)
		}
	}
	// A cookie written by someone else (a sibling site, a script on
	// plain HTTP) is dropped unread.
	u, _ := url.Parse(base)
	sam.Jar.SetCookies(u, []*http.Cookie{{Name: "applinks_flash", Value: base64.RawURLEncoding.EncodeToString([]byte(spoof)) + ".forged", Path: "/"}})
	if _, page := adminPage(t, sam, "/applinks/admin"); strings.Contains(page, "Security alert") {
		t.Fatal("a forged flash cookie is shown as a notice")
	}
	// The gateway's own notice: shown after the redirect, once.
	users := "/applinks/admin/users"
	status, final, page := adminPost(t, sam, users, users, url.Values{"name": {"carol"}, "password": {"carol's long password"}, "role": {"READ"}})
	if status != http.StatusOK || final != base+users || !strings.Contains(page, "User carol added.") {
		t.Fatalf("adding carol: %d at %s\n%s", status, final, page)
	}
	if _, page := adminPage(t, sam, users); strings.Contains(page, "User carol added.") {
		t.Fatal("the notice shows again after a reload")
	}
	for _, c := range sam.Jar.Cookies(u) {
		if c.Name == "applinks_flash" {
			t.Fatal("the notice's cookie outlived its page")
		}
	}
}

// TestAdminLinkNameIsNotAnInputThatIgnoresRenames: the edit page of an
// incoming link shows its name as text, not as a field that looks
// editable while a save silently ignores it; a name posted anyway changes
// nothing.
func TestAdminLinkNameIsNotAnInputThatIgnoresRenames(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	const redirect = "http://127.0.0.1:9481/namer"
	l, _ := createIncoming(t, g, sam, "Namer", redirect, "READ")
	edit := "/applinks/admin/incoming/" + l.ID
	_, page := adminPage(t, sam, edit)
	if strings.Contains(page, `name="name"`) || fieldValue(page, "name") != "Namer" {
		t.Fatalf("the edit page offers the name as an input, or does not show it:\n%s", page)
	}
	status, _, page := adminPost(t, sam, edit, edit, url.Values{"action": {"save"}, "name": {"Renamed"}, "redirect_uris": {redirect}, "scope": {"READ"}})
	if status != http.StatusOK || !strings.Contains(page, "Namer saved.") {
		t.Fatalf("save: %d\n%s", status, page)
	}
	if got := incomingByID(t, g, l.ID).Name; got != "Namer" {
		t.Fatalf("the link is now called %q", got)
	}
}

// TestAdminRotateSecretNeedsConfirmation: one click on the list cannot
// rotate a secret (and perhaps revoke the one in use): a GET, or a POST
// without a choice, only asks, and the overlap reads "24 hours", never
// Go's "24h0m0s"; a refused rotation is not announced as a success.
func TestAdminRotateSecretNeedsConfirmation(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	l, secret := createIncoming(t, g, sam, "Rotor", "http://127.0.0.1:9481/rotor", "READ")
	rotate := "/applinks/admin/incoming/" + l.ID + "/rotate"
	_, list := adminPage(t, sam, "/applinks/admin")
	if row := linkRowOf(list, "Rotor"); strings.Contains(row, `<form method="post" action="`+rotate) || !strings.Contains(row, `href="`+rotate+`"`) {
		t.Fatalf("the row rotates at one click, or does not offer rotation:\n%s", row)
	}
	status, page := adminPage(t, sam, rotate)
	status2, _, page2 := adminPost(t, sam, rotate, rotate, url.Values{})
	for i, p := range []string{page, page2} {
		if s := []int{status, status2}[i]; s != http.StatusOK || !strings.Contains(p, "Rotate, keep the old secret for 24 hours") ||
			!strings.Contains(p, "Rotate and revoke the old secret now") || strings.Contains(p, `data-name="client_secret"`) {
			t.Fatalf("asking (%d): %d\n%s", i, s, p)
		}
	}
	if sec, err := g.app().Links().Secret(incomingByID(t, g, l.ID)); err != nil || sec != secret {
		t.Fatalf("asking rotated the secret: %v", err)
	}
	status, _, page = adminPost(t, sam, rotate, rotate, url.Values{"action": {"keep"}})
	if status != http.StatusOK || !strings.Contains(page, "keeps working for 24 hours") || strings.Contains(page, "24h0m0s") {
		t.Fatalf("rotate: %d\n%s", status, page)
	}
	if copied(t, page, "client_secret") == secret {
		t.Fatal("rotation shows the old secret")
	}
	// A refused rotation (the Caddyfile's link) says so as a warning, not
	// in the green banner of a success.
	cfgRotate := "/applinks/admin/incoming/" + links.ConfigID("app") + "/rotate"
	_, _, page = adminPost(t, sam, "/applinks/admin/new/incoming", cfgRotate, url.Values{"action": {"keep"}})
	if !strings.Contains(page, `class="error banner" role="alert">app is declared in the Caddyfile`) || strings.Contains(page, `class="notice"`) {
		t.Fatalf("a refused rotation is not shown as a warning:\n%s", page)
	}
}

// TestAdminTwoWayRowSaysWhichDirectionEachStatusIs: a Two-way row's two
// status pills each name their direction, so "Active" and "Not
// connected" side by side cannot be read as one link's contradiction;
// and pages name roles, providers and statuses one way.
func TestAdminTwoWayRowSaysWhichDirectionEachStatusIs(t *testing.T) {
	g := apiGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password)
	createIncoming(t, g, sam, "pair", "http://127.0.0.1:9481/pair", "WRITE")
	// The wizard pairs two halves of one name; the other gateway is this
	// one.
	raw := []byte(`{"provider":"oauth2","authorization_endpoint":"` + base + `/rest/oauth2/latest/authorize","token_endpoint":"` + base + `/rest/oauth2/latest/token"}`)
	if _, err := g.app().Outgoing().Create(context.Background(), outgoing.NewOutgoing{CreatedBy: "sam", ConfigLink: outgoing.ConfigLink{
		Name: "pair", ProviderRaw: raw, ClientID: "pair-id", ClientSecret: "pair-secret", Scopes: []string{"READ"}, Mode: outgoing.ModePerUser,
	}}); err != nil {
		t.Fatalf("creating the outgoing half: %v", err)
	}
	_, page := adminPage(t, sam, "/applinks/admin")
	row := linkRowOf(page, "pair")
	for _, want := range []string{`<span class="direction">Incoming:</span> Active`, `<span class="direction">Outgoing:</span> Not connected`, "Two-way", "Permission: Write", "Custom OAuth 2.0"} {
		if !strings.Contains(row, want) {
			t.Errorf("the Two-way row lacks %q:\n%s", want, row)
		}
	}
	if _, chooser := adminPage(t, sam, "/applinks/admin/new"); !strings.Contains(chooser, ">Custom OAuth 2.0</a>") {
		t.Errorf("the chooser names the custom provider otherwise:\n%s", chooser)
	}
	_, users := adminPage(t, sam, "/applinks/admin/users")
	if !regexp.MustCompile(`<strong>sam</strong>.*\n<td data-label="Role">System admin</td>`).MatchString(users) || strings.Contains(users, ">SYSTEM_ADMIN<") {
		t.Errorf("the users list names the role otherwise than the role select:\n%s", users)
	}
}

// TestAdminSignInLandsOnTheAdminUI: an administrator who signs in without
// a return target lands on the administration UI, not on the site's root;
// a return target still wins, and other users keep landing on /.
func TestAdminSignInLandsOnTheAdminUI(t *testing.T) {
	startGateway(t, gatewayOptions{})
	for _, tc := range []struct{ user, returnTo, want string }{
		{"sam", "", "/applinks/admin"},
		{"sam", "/applinks/account", "/applinks/account"},
		{"bob", "", "/"},
	} {
		if got := signInLocation(t, tc.user, tc.returnTo); got != tc.want {
			t.Errorf("%s signing in with return_to %q goes to %q, want %q", tc.user, tc.returnTo, got, tc.want)
		}
	}
}

// TestAdminRevokesCaddyfileUsersAuthorizations: a user declared in the
// Caddyfile whose device or token leaked can have every authorization
// revoked from the users list, not only be signed out; one stray click
// only asks.
func TestAdminRevokesCaddyfileUsersAuthorizations(t *testing.T) {
	startGateway(t, gatewayOptions{})
	tok, err := flow.Run(base, "bob", password, clientID, secretValue, redirectURI, "")
	if err != nil {
		t.Fatalf("bob's token flow: %v", err)
	}
	sam := browser(t)
	signIn(t, sam, "sam", password)
	users := "/applinks/admin/users"
	_, list := adminPage(t, sam, users)
	if !regexp.MustCompile(`value="bob">.*value="revoke"`).MatchString(list) {
		t.Fatalf("the users list offers no revocation for bob:\n%s", list)
	}
	// One click only asks; the confirmed form revokes.
	status, _, page := adminPost(t, sam, users, users, url.Values{"action": {"revoke"}, "name": {"bob"}})
	if status != http.StatusOK || !strings.Contains(page, "Revoke every authorization of bob?") || !strings.Contains(page, `name="confirm" value="yes"`) {
		t.Fatalf("revoke without confirmation: %d\n%s", status, page)
	}
	if m := introspect(t, tok.AccessToken); m["active"] != true {
		t.Fatalf("asking revoked bob's token: %v", m)
	}
	status, _, page = adminPost(t, sam, users, users, url.Values{"action": {"revoke"}, "name": {"bob"}, "confirm": {"yes"}})
	if status != http.StatusOK || !strings.Contains(page, "Revoked 1 authorization of bob.") {
		t.Fatalf("revoke: %d\n%s", status, page)
	}
	if m := introspect(t, tok.AccessToken); m["active"] != false {
		t.Fatalf("bob's token after the revocation: %v", m)
	}
	if status, _, _ := adminPost(t, sam, users, users, url.Values{"action": {"revoke"}, "name": {"nobody"}}); status != http.StatusNotFound {
		t.Fatalf("revoking an unknown user: %d, want 404", status)
	}
}

// TestAdminWizardErrorsAreSentencesNotChains: a wrong or unreachable URL
// in the two-way wizard is answered with one sentence saying what to
// check, not with the error chain of discovery, dialling and policy.
func TestAdminWizardErrorsAreSentencesNotChains(t *testing.T) {
	apiGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password)
	wizard := "/applinks/admin/new/gateway"
	noMetadata := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(noMetadata.Close)
	closed := "http://" + portToReuse(t)
	for _, tc := range []struct{ url, want string }{
		{noMetadata.URL, "No OAuth 2.0 metadata could be read from " + noMetadata.URL + ": its answer was not usable OAuth 2.0 metadata. Check the address"},
		{closed, "No OAuth 2.0 metadata could be read from " + closed + ": nothing answers at that address."},
		{"http://169.254.169.254", "This gateway does not connect to http://169.254.169.254: host 169.254.169.254 is a cloud metadata address."},
	} {
		status, _, page := adminPost(t, sam, wizard, wizard, url.Values{"action": {"discover"}, "url": {tc.url}, "name": {"peer"}})
		msg := fieldError(page, "url")
		if status != http.StatusUnprocessableEntity || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("URL %s: %d, error %q, want it to start with %q", tc.url, status, msg, tc.want)
		}
		for _, chain := range []string{"discovering", "dial tcp", "provider unavailable", "checking endpoint", ": refused:", "%!"} {
			if strings.Contains(msg, chain) {
				t.Errorf("URL %s: the error shows the chain (%q): %q", tc.url, chain, msg)
			}
		}
	}
}

// TestAdminGoogleAndMicrosoftShowRedirectURLAtOnce: the create page of a
// Google or Microsoft link shows the redirect URL to register before
// anything is typed, for a name that is free (as Atlassian shows it).
func TestAdminGoogleAndMicrosoftShowRedirectURLAtOnce(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	createIncoming(t, g, sam, "google", "http://127.0.0.1:9481/g", "READ") // takes the first name
	for provider, name := range map[string]string{"google": "google-2", "microsoft": "microsoft"} {
		status, page := adminPage(t, sam, "/applinks/admin/new/outgoing?provider="+provider)
		if status != http.StatusOK || fieldValue(page, "name") != name || copied(t, page, "redirect_uri") != base+outgoing.CallbackPrefix+name {
			t.Errorf("%s: %d, name %q, want %q and its redirect URL:\n%s", provider, status, fieldValue(page, "name"), name, page)
		}
	}
}

// TestAdminOutgoingEditShowsTheEndpointsItUses: the edit page of an
// outgoing link shows where it sends users and gets tokens, so an
// administrator can see a link pointing somewhere unexpected.
func TestAdminOutgoingEditShowsTheEndpointsItUses(t *testing.T) {
	startGateway(t, gatewayOptions{extraGlobal: allowPrivate})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	create := "/applinks/admin/new/outgoing"
	auth, tokenURL := base+"/rest/oauth2/latest/authorize", base+"/rest/oauth2/latest/token"
	status, _, page := adminPost(t, sam, create+"?provider=custom", create, url.Values{
		"provider": {"custom"}, "name": {"crm"}, "authorization_endpoint": {auth}, "token_endpoint": {tokenURL},
		"client_id": {"id"}, "client_secret": {"secret"}, "mode": {"per_user"}, "action": {"save"},
	})
	if status != http.StatusOK {
		t.Fatalf("create: %d\n%s", status, page)
	}
	_, page = adminPage(t, sam, "/applinks/admin/outgoing/crm")
	if copied(t, page, "authorization_endpoint") != auth || copied(t, page, "token_endpoint") != tokenURL || copied(t, page, "provider") != "Custom OAuth 2.0" {
		t.Fatalf("the edit page does not show the link's endpoints:\n%s", page)
	}
}

// TestLinkPageActivityIsCountedPerLinkInMemory: a link's page shows its
// active authorizations and the tokens issued and refused over the last
// day for that link only, counted by the token endpoint in memory (the
// guard's requests add nothing to them).
func TestLinkPageActivityIsCountedPerLinkInMemory(t *testing.T) {
	g := apiGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password)
	const redirect = "http://127.0.0.1:9481/busy"
	busy, secret := createIncoming(t, g, sam, "Busy", redirect, "WRITE")
	quiet, _ := createIncoming(t, g, sam, "Quiet", "http://127.0.0.1:9481/quiet", "READ")
	var tok string
	for _, user := range []string{"bob", "wendy"} {
		tk, err := flow.Run(base, user, password, busy.ClientID, secret, redirect, "")
		if err != nil {
			t.Fatalf("%s's flow: %v", user, err)
		}
		tok = tk.AccessToken
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"authorization_code"}, "code": {"not-a-code"}, "redirect_uri": {redirect}}, busy.ClientID, secret); status != http.StatusBadRequest {
		t.Fatalf("a bad code: %d %v", status, m)
	}
	before, err := g.app().Grants().List(context.Background(), store.GrantFilter{LinkID: busy.ID})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if resp, _, _ := call(t, http.MethodGet, "/api/pages", bearer(tok)); resp.StatusCode != http.StatusOK {
			t.Fatalf("guarded request: %d", resp.StatusCode)
		}
	}
	_, page := adminPage(t, sam, "/applinks/admin/incoming/"+busy.ID)
	if stat(page, "grants") != "2" || stat(page, "issued") != "2" || stat(page, "refused") != "1" || len(before) != 2 {
		t.Fatalf("Busy's activity: grants %s, issued %s, refused %s (store has %d grants), want 2, 2, 1:\n%s", stat(page, "grants"), stat(page, "issued"), stat(page, "refused"), len(before), page)
	}
	if !strings.Contains(page, "start at zero when it restarts") {
		t.Error("the page does not say the counts are per process")
	}
	_, page = adminPage(t, sam, "/applinks/admin/incoming/"+quiet.ID)
	if stat(page, "grants") != "0" || stat(page, "issued") != "0" || stat(page, "refused") != "0" {
		t.Fatalf("Quiet's activity shows another link's counts:\n%s", page)
	}
	// A Caddyfile link has a page too, reached from the list.
	_, list := adminPage(t, sam, "/applinks/admin")
	if !strings.Contains(linkRowOf(list, "app"), `>View</a>`) {
		t.Fatalf("the Caddyfile link's row has no way to its page:\n%s", linkRowOf(list, "app"))
	}
}
