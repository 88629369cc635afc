package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
)

// Two gateways linked both ways over OAuth 1.0a: A runs in this process on
// 127.0.0.1:9480; B runs as its own Caddy process on localhost:9530
// (another host name, so the browser keeps the two gateways' cookies
// apart), with its admin endpoint on localhost:29530.
const (
	oauth1B      = "http://localhost:9530"
	oauth1BPort  = 9530
	oauth1BAdmin = "http://localhost:29530"
)

// twoWayOAuth1Site is a gateway's site: its API on /api/*, guarded, and
// the other gateway's API on /<link>/* through the outgoing link <link>.
func twoWayOAuth1Site(self, link, other string) string {
	return fmt.Sprintf(`applinks
	handle /api/* {
		require_token
		respond "%s says hello to {http.auth.user.id} via {http.auth.user.client_id} with {http.auth.user.scope}" 200
	}
	handle /%s/* {
		require_token {
			session
		}
		outgoing_token %[2]s
		uri strip_prefix /%[2]s
		reverse_proxy %s
	}`, self, link, other)
}

// gatewayBCaddyfile is B's Caddyfile: users alice (WRITE), bob (READ) and
// sam (SYSTEM_ADMIN), storage in dir, more lines of its applinks block,
// and its site.
func gatewayBCaddyfile(t *testing.T, dir, applinks, site string) string {
	h := hashFor(t, password)
	return fmt.Sprintf(`{
	admin localhost:29530
	http_port %[1]d
	grace_period 1ns
	applinks {
		storage badger %[2]s
		user alice %[3]s WRITE
		user bob %[3]s READ
		user sam %[3]s SYSTEM_ADMIN
		%[4]s
	}
}
:%[1]d {
	%[5]s
}
`, oauth1BPort, dir, h, applinks, site)
}

// readConsumerInfo reads the consumer-info of the gateway at gw over
// HTTP, as another gateway's wizard does.
func readConsumerInfo(t *testing.T, gw string) outgoing.ConsumerInfo {
	t.Helper()
	resp, err := http.Get(gw + outgoing.ConsumerInfoPath)
	if err != nil {
		t.Fatal(err)
	}
	info, err := outgoing.ParseConsumerInfo([]byte(readBody(t, resp)))
	if err != nil {
		t.Fatalf("consumer-info of %s: %v", gw, err)
	}
	return info
}

// twoGatewayBrowser is a person's browser that follows every redirect,
// from one gateway to the other.
func twoGatewayBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 15 * time.Second}
}

// signInAt signs user in at the gateway gw in browser c.
func signInAt(t *testing.T, c *http.Client, gw, user string) {
	t.Helper()
	resp, err := c.Get(gw + "/applinks/login")
	if err != nil {
		t.Fatal(err)
	}
	f := flow.HiddenFields(readBody(t, resp))
	f.Set("username", user)
	f.Set("password", password)
	resp, err = c.PostForm(gw+"/applinks/login", f)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || strings.Contains(body, `name="password"`) {
		t.Fatalf("signing %s in at %s: %d %s", user, gw, resp.StatusCode, body)
	}
}

// consentAction is the target of a consent page's form.
var consentAction = regexp.MustCompile(`<form method="post" action="([^"]+)" class="actions">`)

// connectThrough opens start (a connect URL) in browser c; at the other
// gateway, provider, it signs user in when asked and allows access on the
// consent page, which must name the link consumer; it returns where the browser
// ends, back at the first gateway.
func connectThrough(t *testing.T, c *http.Client, start, provider, user, consumer string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	if !strings.HasPrefix(resp.Request.URL.String(), provider+"/") {
		t.Fatalf("connecting from %s: not at %s but %s (%d):\n%s", start, provider, resp.Request.URL, resp.StatusCode, page)
	}
	resp, page = signInWhenAsked(t, c, provider, user, resp, page)
	m := consentAction.FindStringSubmatch(page)
	if !strings.Contains(page, "Allow access?") || !strings.Contains(page, `<strong class="app">`+consumer+`</strong>`) || m == nil {
		t.Fatalf("no consent page at %s naming %q:\n%s", provider, consumer, page)
	}
	f := flow.HiddenFields(page)
	f.Set("decision", "allow")
	action, err := resp.Request.URL.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = c.PostForm(action.String(), f); err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

// getAt sends a GET in browser c and returns the status and body.
func getAt(t *testing.T, c *http.Client, target string) (int, string) {
	t.Helper()
	resp, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp)
}

// connectionStatus is the status of user's connection of link at B, from
// B's admin API ("" when there is none).
func connectionStatus(t *testing.T, link, user string) string {
	t.Helper()
	resp, err := http.Get(oauth1BAdmin + "/applinks/connections?" + url.Values{"link": {link}, "user": {user}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	var cs []struct{ Status string }
	if err := json.Unmarshal([]byte(readBody(t, resp)), &cs); err != nil || len(cs) > 1 {
		t.Fatalf("B's connections of %s for %s: %v %v", link, user, cs, err)
	}
	if len(cs) == 0 {
		return ""
	}
	return cs[0].Status
}

// wantReconnect checks that B answered a call through its link a with
// 401 authorization_required, naming the URL to connect again.
func wantReconnect(t *testing.T, status int, body, returnTo string) {
	t.Helper()
	var m map[string]string
	_ = json.Unmarshal([]byte(body), &m)
	want := oauth1B + outgoing.ConnectPrefix + "a?return_to=" + url.QueryEscape(returnTo)
	if status != http.StatusUnauthorized || m["error"] != "authorization_required" || m["authorize_url"] != want {
		t.Fatalf("got %d %s, want 401 authorization_required with authorize_url %s", status, body, want)
	}
}

// TestTwoWayOAuth1Link: A and B are each other's OAuth 1.0a consumer, as
// two Atlassian products linked with OAuth: B's outgoing link a is
// oauth1 to A, and A's incoming consumer b has the consumer key and
// public key B serves at its consumer-info; the same the other way, B's
// consumer a declared from A's consumer-info. alice, signed in at B,
// connects B to A (signing in and consenting at A) and reaches A's
// guarded API through B, as herself via B's consumer key under
// min(ceiling, role); bob, signed in at A, reaches B's API through A
// likewise. When alice revokes B on her account page at A, B's next
// request is refused with token_rejected: B's connection becomes
// UNRECOVERABLE and alice is told to connect again, which works.
func TestTwoWayOAuth1Link(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	g := startGateway(t, gatewayOptions{
		extraGlobal: `outgoing b {
			oauth1 ` + oauth1B + `
		}`,
		site: twoWayOAuth1Site("A", "b", "localhost:9530"),
	})
	infoA := readConsumerInfo(t, base)
	keyFile := filepath.Join(t.TempDir(), "a.pub")
	if err := os.WriteFile(keyFile, []byte(infoA.PublicKey), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcessOn(t, caddyBinary(t), gatewayBCaddyfile(t, t.TempDir(), fmt.Sprintf(`incoming a {
			oauth1 %s {
				public_key %s
			}
			scope WRITE
		}
		outgoing a {
			oauth1 %s
		}`, infoA.Key, keyFile, base), twoWayOAuth1Site("B", "a", "127.0.0.1:9480")), oauth1BPort)

	// A's administrator enters B from B's consumer-info.
	infoB := readConsumerInfo(t, oauth1B)
	if infoB.Key == infoA.Key || infoB.Name != "localhost:9530" {
		t.Fatalf("B's consumer-info: %+v (A's key %s)", infoB, infoA.Key)
	}
	status, created, _ := adminCall(t, "POST", "/applinks/links", map[string]any{"name": "b", "scope": "WRITE", "oauth1": map[string]any{"consumer_key": infoB.Key, "public_key": infoB.PublicKey}})
	if status != http.StatusCreated {
		t.Fatalf("A's incoming consumer for B: %d %v", status, created)
	}

	// alice at B reaches A as herself, WRITE (A's ceiling for B; ADMIN
	// at A).
	alice := twoGatewayBrowser(t)
	signInAt(t, alice, oauth1B, "alice")
	status, body := getAt(t, alice, oauth1B+"/a/api/x")
	wantReconnect(t, status, body, "/a/api/x")
	resp, body := connectThrough(t, alice, oauth1B+"/applinks/connect/a?return_to=/a/api/x", base, "alice", "b")
	wantAlice := "A says hello to alice via " + infoB.Key + " with WRITE"
	if resp.StatusCode != http.StatusOK || body != wantAlice || resp.Request.URL.String() != oauth1B+"/a/api/x" {
		t.Fatalf("alice after connecting B to A: %d at %s: %q, want %q", resp.StatusCode, resp.Request.URL, body, wantAlice)
	}
	if s := connectionStatus(t, "a", "alice"); s != outgoing.StatusValid {
		t.Fatalf("alice's connection at B: %q", s)
	}

	// bob at A reaches B as himself, READ (B's ceiling for A is WRITE,
	// bob is READ at B).
	bob := twoGatewayBrowser(t)
	signInAt(t, bob, base, "bob")
	resp, body = connectThrough(t, bob, base+"/applinks/connect/b?return_to=/b/api/y", oauth1B, "bob", "a")
	wantBob := "B says hello to bob via " + infoA.Key + " with READ"
	if resp.StatusCode != http.StatusOK || body != wantBob {
		t.Fatalf("bob after connecting A to B: %d at %s: %q, want %q", resp.StatusCode, resp.Request.URL, body, wantBob)
	}
	for range 2 {
		if status, body := getAt(t, alice, oauth1B+"/a/api/x?n=1&n=2"); status != http.StatusOK || body != wantAlice {
			t.Fatalf("alice again: %d %q", status, body)
		}
		if status, body := getAt(t, bob, base+"/b/api/y"); status != http.StatusOK || body != wantBob {
			t.Fatalf("bob again: %d %q", status, body)
		}
	}

	// alice revokes B on her account page at A.
	grants, err := g.app().Grants().List(context.Background(), store.GrantFilter{UserID: "alice"})
	if err != nil || len(grants) != 1 || grants[0].ClientID != infoB.Key {
		t.Fatalf("A's grants of alice: %+v %v", grants, err)
	}
	_, page := getAt(t, alice, base+"/applinks/account")
	resp, err = alice.PostForm(base+"/applinks/account", url.Values{"csrf_token": {flow.HiddenFields(page).Get("csrf_token")}, "action": {"revoke"}, "grant": {grants[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	status, body = getAt(t, alice, oauth1B+"/a/api/x")
	wantReconnect(t, status, body, "/a/api/x")
	if s := connectionStatus(t, "a", "alice"); s != outgoing.StatusUnrecoverable {
		t.Fatalf("alice's connection at B after A refused its token: %q", s)
	}
	if status, body := getAt(t, bob, base+"/b/api/y"); status != http.StatusOK || body != wantBob {
		t.Fatalf("bob after alice's revocation: %d %q", status, body)
	}
	// Connecting again works; alice is still signed in at A.
	resp, body = connectThrough(t, alice, oauth1B+"/applinks/connect/a?return_to=/a/api/x", base, "alice", "b")
	if resp.StatusCode != http.StatusOK || body != wantAlice {
		t.Fatalf("alice after connecting again: %d %q", resp.StatusCode, body)
	}
}

// wizardAt posts form to the two-way wizard of the gateway at gw, with
// the anti-CSRF token of its page, in the administrator's browser c.
func wizardAt(t *testing.T, c *http.Client, gw string, form url.Values) (int, string) {
	t.Helper()
	const wizard = "/applinks/admin/new/gateway"
	status, page := getAt(t, c, gw+wizard)
	if status != http.StatusOK || !strings.Contains(page, `value="oauth1"`) {
		t.Fatalf("the wizard at %s offers no OAuth 1.0: %d\n%s", gw, status, page)
	}
	form.Set("csrf_token", flow.HiddenFields(page).Get("csrf_token"))
	resp, err := c.PostForm(gw+wizard, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp)
}

// linkTwoWayOAuth1 runs the OAuth 1.0 path of the wizard at gw for the
// other gateway at other, named name, with permission ceiling: step 1
// shows other's consumer (want its key) and this side's consumer-info;
// confirming lists a Two-way row.
func linkTwoWayOAuth1(t *testing.T, c *http.Client, gw, other, name, ceiling, wantKey string) {
	t.Helper()
	status, page := wizardAt(t, c, gw, url.Values{"action": {"discover"}, "protocol": {"oauth1"}, "url": {other}, "name": {name}})
	if status != http.StatusOK || copied(t, page, "remote_consumer_key") != wantKey || copied(t, page, "consumer_info_url") != gw+outgoing.ConsumerInfoPath || !strings.Contains(page, "Step 2 of 2") {
		t.Fatalf("wizard at %s, step 1 to %s: %d\n%s", gw, other, status, page)
	}
	if pub := copied(t, page, "remote_public_key"); pub != readConsumerInfo(t, other).PublicKey {
		t.Fatalf("step 2 shows the public key %q, not %s's", pub, other)
	}
	f := flow.HiddenFields(page)
	f.Set("action", "oauth1")
	f.Set("scope", ceiling)
	resp, err := c.PostForm(gw+"/applinks/admin/new/gateway", f)
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, resp)
	row := linkRowOf(page, name)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Two-way link "+name+" created with "+other) || !strings.Contains(row, "Two-way") || !strings.Contains(row, "OAuth 1.0") || !strings.Contains(row, "Edit incoming") || !strings.Contains(row, "Edit outgoing") {
		t.Fatalf("wizard at %s, step 2: %d, row %q\n%s", gw, resp.StatusCode, row, page)
	}
}

// TestAdminUITwoWayOAuth1Wizard: the two-way wizard's OAuth 1.0 path,
// run on both gateways, links them without copying a credential: each
// reads the other's consumer-info and creates the incoming consumer and
// the outgoing link of one name; then each gateway's users connect and
// call the other's API. Refused at step 1, with the field kept: a
// loopback URL without allow_private_endpoints, a port where nothing
// listens, a site without consumer-info, a name taken and a consumer key
// registered already; a consumer key altered between the steps creates
// nothing.
func TestAdminUITwoWayOAuth1Wizard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	dirA := t.TempDir()
	startGateway(t, gatewayOptions{dir: dirA})
	sam := browser(t)
	signIn(t, sam, "sam", password).Body.Close()
	status, page := wizardAt(t, sam, base, url.Values{"action": {"discover"}, "protocol": {"oauth1"}, "url": {oauth1B}, "name": {"b"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "url"), "does not connect to "+oauth1B) || fieldValue(page, "name") != "b" {
		t.Fatalf("a loopback gateway without allow_private_endpoints: %d %q\n%s", status, fieldError(page, "url"), page)
	}

	const private = "allow_private_endpoints"
	gA := startGateway(t, gatewayOptions{dir: dirA, extraGlobal: private})
	dirB := t.TempDir()
	bin := caddyBinary(t)
	startProcessOn(t, bin, gatewayBCaddyfile(t, dirB, private, "applinks"), oauth1BPort)
	infoA, infoB := readConsumerInfo(t, base), readConsumerInfo(t, oauth1B)

	noInfo := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(noInfo.Close)
	for _, bad := range []struct{ url, msg string }{
		{"http://127.0.0.1:9539", "nothing answers at that address"},
		{noInfo.URL, "serves no usable OAuth 1.0 consumer-info"},
		{"ftp://example.com", "Enter the other gateway's URL"},
	} {
		status, page := wizardAt(t, sam, base, url.Values{"action": {"discover"}, "protocol": {"oauth1"}, "url": {bad.url}, "name": {"b"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "url"), bad.msg) || fieldValue(page, "name") != "b" || !strings.Contains(page, `<option value="oauth1" selected>`) {
			t.Fatalf("URL %s: %d, error %q, want %q and the fields kept:\n%s", bad.url, status, fieldError(page, "url"), bad.msg, page)
		}
	}

	// A consumer key altered between the steps: nothing is created.
	status, page = wizardAt(t, sam, base, url.Values{"action": {"discover"}, "protocol": {"oauth1"}, "url": {oauth1B + outgoing.ConsumerInfoPath}, "name": {"b"}})
	if status != http.StatusOK {
		t.Fatalf("step 1 with B's consumer-info URL: %d\n%s", status, page)
	}
	f := flow.HiddenFields(page)
	if f.Get("url") != oauth1B {
		t.Fatalf("the consumer-info URL was not taken as B's URL: %q", f.Get("url"))
	}
	f.Set("action", "oauth1")
	f.Set("scope", "READ")
	for field, forged := range map[string]string{"consumer_key": "applinks:forged", "public_key_sha256": strings.Repeat("0", 64)} {
		altered := url.Values{}
		for k, v := range f {
			altered[k] = v
		}
		altered.Set(field, forged)
		resp, err := sam.PostForm(base+"/applinks/admin/new/gateway", altered)
		if err != nil {
			t.Fatal(err)
		}
		if page := readBody(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(page, "consumer key or public key changed") {
			t.Fatalf("an altered %s: %d\n%s", field, resp.StatusCode, page)
		}
	}
	if _, err := gA.app().Links().ByClientID(context.Background(), infoB.Key); err == nil {
		t.Fatal("a consumer was created from an altered step")
	}

	// A's administrator links B, B's links A.
	linkTwoWayOAuth1(t, sam, base, oauth1B, "b", "WRITE", infoB.Key)
	samB := twoGatewayBrowser(t)
	signInAt(t, samB, oauth1B, "sam")
	linkTwoWayOAuth1(t, samB, oauth1B, base, "a", "WRITE", infoA.Key)

	// Run again: the name is taken; under another name, B's consumer key
	// is registered already.
	status, page = wizardAt(t, sam, base, url.Values{"action": {"discover"}, "protocol": {"oauth1"}, "url": {oauth1B}, "name": {"b"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "name"), "already exists") {
		t.Fatalf("a name taken: %d %q", status, fieldError(page, "name"))
	}
	status, page = wizardAt(t, sam, base, url.Values{"action": {"discover"}, "protocol": {"oauth1"}, "url": {oauth1B}, "name": {"b2"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "url"), "registered already, as the incoming link b") {
		t.Fatalf("a consumer key registered: %d %q", status, fieldError(page, "url"))
	}

	// Routes through the new links (outgoing_token needs its link to
	// exist when the configuration loads).
	startGateway(t, gatewayOptions{dir: dirA, extraGlobal: private, site: twoWayOAuth1Site("A", "b", "localhost:9530")})
	reloadB(t, gatewayBCaddyfile(t, dirB, private, twoWayOAuth1Site("B", "a", "127.0.0.1:9480")))

	alice := twoGatewayBrowser(t)
	signInAt(t, alice, oauth1B, "alice")
	resp, body := connectThrough(t, alice, oauth1B+"/applinks/connect/a?return_to=/a/api/x", base, "alice", "b")
	if want := "A says hello to alice via " + infoB.Key + " with WRITE"; resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("alice through B to A: %d %q, want %q", resp.StatusCode, body, want)
	}
	wendy := twoGatewayBrowser(t)
	signInAt(t, wendy, base, "wendy")
	resp, body = connectThrough(t, wendy, base+"/applinks/connect/b?return_to=/b/api/y", oauth1B, "alice", "a")
	if want := "B says hello to alice via " + infoA.Key + " with WRITE"; resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("wendy through A to B (as alice there): %d %q, want %q", resp.StatusCode, body, want)
	}
}

// reloadB loads caddyfile into B through its admin endpoint.
func reloadB(t *testing.T, caddyfile string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, oauth1BAdmin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("reloading B: %d %s", resp.StatusCode, body)
	}
}
