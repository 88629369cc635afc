package integration

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/scope"
)

// adminPage fetches an administration page as the browser c and returns
// its status and body.
func adminPage(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp)
}

// adminPost posts form to an administration page with the anti-CSRF token
// of the page at from, and returns the final status, URL and body.
func adminPost(t *testing.T, c *http.Client, from, to string, form url.Values) (int, string, string) {
	t.Helper()
	_, page := adminPage(t, c, from)
	form.Set("csrf_token", flow.HiddenFields(page).Get("csrf_token"))
	resp, err := c.PostForm(base+to, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Request.URL.String(), readBody(t, resp)
}

// copied returns the value shown to copy under data-name name.
func copied(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`data-name="` + regexp.QuoteMeta(name) + `">([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page shows no %s to copy:\n%s", name, page)
	}
	return html.UnescapeString(m[1])
}

// fieldError returns the error shown under the field name, or "".
func fieldError(page, name string) string {
	m := regexp.MustCompile(`id="e-` + regexp.QuoteMeta(name) + `" role="alert">([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// fieldValue returns the value attribute of the input named name, the
// text of the textarea, or the text a read-only field shows.
func fieldValue(page, name string) string {
	if m := regexp.MustCompile(`data-field="` + regexp.QuoteMeta(name) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	if m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" type="[a-z]+" value="([^"]*)"`).FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	if m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `"[^>]*>([^<]*)</textarea>`).FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// TestAdminUIAccess: the UI needs a session of a SYSTEM_ADMIN, and every
// change needs the session's anti-CSRF token.
func TestAdminUIAccess(t *testing.T) {
	startGateway(t, gatewayOptions{})
	anon := browser(t)
	anon.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := anon.Get(base + "/applinks/admin/new/incoming")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/applinks/login?return_to=%2Fapplinks%2Fadmin%2Fnew%2Fincoming" {
		t.Fatalf("anonymous: %d to %q, want 303 to sign-in", resp.StatusCode, loc)
	}
	for _, who := range []string{"alice", "bob"} { // ADMIN and READ: not enough
		c := browser(t)
		signIn(t, c, who, password)
		if status, page := adminPage(t, c, "/applinks/admin"); status != http.StatusForbidden || !strings.Contains(page, "SYSTEM_ADMIN") {
			t.Fatalf("%s: %d, want 403 naming the role:\n%s", who, status, page)
		}
	}
	sam := browser(t)
	signIn(t, sam, "sam", password)
	status, page := adminPage(t, sam, "/applinks/admin")
	if status != http.StatusOK {
		t.Fatalf("sam: %d", status)
	}
	resp, err = sam.Get(base + "/applinks/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Fatalf("CSP %q: want no scripts", csp)
	}
	for _, row := range []string{"<strong>app</strong>", "<strong>other</strong>", "From the Caddyfile"} {
		if !strings.Contains(page, row) {
			t.Fatalf("links list lacks %q:\n%s", row, page)
		}
	}
	// A forged form (no or wrong token) changes nothing.
	before, _ := sam.Get(base + "/applinks/admin")
	before.Body.Close()
	resp, err = sam.PostForm(base+"/applinks/admin/new/incoming", url.Values{"name": {"forged"}, "redirect_uris": {"https://evil.example/cb"}, "scope": {"READ"}, "csrf_token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "did not come from this site") {
		t.Fatalf("forged form: %d\n%s", resp.StatusCode, body)
	}
	if _, page := adminPage(t, sam, "/applinks/admin"); strings.Contains(page, "forged") {
		t.Fatal("a forged form created a link")
	}
}

// TestAdminUIBadInput: a form with bad values comes back with a message
// per field and the values kept, and creates nothing.
func TestAdminUIBadInput(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	count := func() int {
		in, err := g.app().Links().List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out, err := g.app().Outgoing().Names(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(in) + len(out)
	}
	links := count()
	for _, tc := range []struct {
		name, path, from string
		form             url.Values
		errors           map[string]string // field → part of its message
		kept             map[string]string // field → value kept
	}{
		{"duplicate name", "/applinks/admin/new/incoming", "/applinks/admin/new/incoming",
			url.Values{"name": {"app"}, "redirect_uris": {"https://wiki.example.com/cb"}, "scope": {"WRITE"}, "action": {"save"}},
			map[string]string{"name": `A link named "app" already exists`},
			map[string]string{"name": "app", "redirect_uris": "https://wiki.example.com/cb"}},
		{"invalid redirect URL", "/applinks/admin/new/incoming", "/applinks/admin/new/incoming",
			url.Values{"name": {"Wiki"}, "redirect_uris": {"http://wiki.example.com/cb"}, "scope": {"READ"}, "action": {"save"}},
			map[string]string{"redirect_uris": "must use https"},
			map[string]string{"name": "Wiki", "redirect_uris": "http://wiki.example.com/cb"}},
		{"missing fields", "/applinks/admin/new/incoming", "/applinks/admin/new/incoming",
			url.Values{"name": {""}, "redirect_uris": {""}, "scope": {"READ"}, "action": {"save"}},
			map[string]string{"name": "A name is required", "redirect_uris": "A redirect URL is required"}, nil},
		{"unknown permission", "/applinks/admin/new/incoming", "/applinks/admin/new/incoming",
			url.Values{"name": {"Wiki"}, "redirect_uris": {"https://wiki.example.com/cb"}, "scope": {"ROOT"}, "action": {"save"}},
			map[string]string{"scope": "Unknown scope"}, map[string]string{"name": "Wiki"}},
		{"non-HTTPS custom endpoints", "/applinks/admin/new/outgoing", "/applinks/admin/new/outgoing?provider=custom",
			url.Values{"provider": {"custom"}, "name": {"crm"}, "authorization_endpoint": {"http://crm.example.com/authorize"}, "token_endpoint": {"https://169.254.169.254/token"}, "client_id": {"id-1"}, "client_secret": {"s"}, "action": {"save"}},
			map[string]string{"authorization_endpoint": "https", "token_endpoint": "169.254.169.254"},
			map[string]string{"name": "crm", "authorization_endpoint": "http://crm.example.com/authorize", "client_id": "id-1"}},
		{"outgoing name and credentials", "/applinks/admin/new/outgoing", "/applinks/admin/new/outgoing?provider=google",
			url.Values{"provider": {"google"}, "name": {"my drive"}, "client_id": {""}, "client_secret": {""}, "scopes": {"openid email"}, "action": {"save"}},
			map[string]string{"name": "letters, digits", "client_id": "client ID is required", "client_secret": "client secret is required"},
			map[string]string{"name": "my drive", "scopes": "openid email"}},
		{"duplicate outgoing name", "/applinks/admin/new/outgoing", "/applinks/admin/new/outgoing?provider=microsoft",
			url.Values{"provider": {"microsoft"}, "name": {"other"}, "tenant": {"contoso.onmicrosoft.com"}, "client_id": {"c"}, "client_secret": {"s"}, "action": {"save"}},
			map[string]string{"name": `A link named "other" already exists`},
			map[string]string{"tenant": "contoso.onmicrosoft.com", "authorization_endpoint": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"}},
		{"placeholders (they would read the server's environment)", "/applinks/admin/new/outgoing", "/applinks/admin/new/outgoing?provider=microsoft",
			url.Values{"provider": {"microsoft"}, "name": {"ms"}, "tenant": {"{env.HOME}"}, "client_id": {"c"}, "client_secret": {"s"}, "action": {"preview"}},
			map[string]string{"tenant": "placeholders such as {env.NAME} work only in the Caddyfile"},
			map[string]string{"tenant": "{env.HOME}", "authorization_endpoint": "—"}}, // not resolved
		{"placeholder in a custom endpoint", "/applinks/admin/new/outgoing", "/applinks/admin/new/outgoing?provider=custom",
			url.Values{"provider": {"custom"}, "name": {"crm"}, "authorization_endpoint": {"https://crm.example.com/a?k={env.HOME}"}, "token_endpoint": {"https://crm.example.com/t"}, "client_id": {"c"}, "client_secret": {"s"}, "action": {"save"}},
			map[string]string{"authorization_endpoint": "not allowed here"},
			map[string]string{"authorization_endpoint": "https://crm.example.com/a?k={env.HOME}"}},
		{"user: short password and taken name", "/applinks/admin/users", "/applinks/admin/users",
			url.Values{"name": {"bob"}, "password": {"short"}, "role": {"READ"}},
			map[string]string{"name": `A user named "bob" exists already`}, map[string]string{"name": "bob"}},
		{"user: a path step as name", "/applinks/admin/users", "/applinks/admin/users",
			url.Values{"name": {".."}, "password": {"long enough password"}, "role": {"READ"}},
			map[string]string{"name": "is not . or .."}, map[string]string{"name": ".."}},
		{"user: short password", "/applinks/admin/users", "/applinks/admin/users",
			url.Values{"name": {"carol"}, "password": {"short"}, "role": {"READ"}},
			map[string]string{"password": "at least 8 characters"}, map[string]string{"name": "carol"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, page := adminPost(t, sam, tc.from, tc.path, tc.form)
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422:\n%s", status, page)
			}
			for field, msg := range tc.errors {
				if got := fieldError(page, field); !strings.Contains(got, msg) {
					t.Errorf("error of %s: %q, want it to contain %q", field, got, msg)
				}
			}
			for field, v := range tc.kept {
				if got := fieldValue(page, field); got != v {
					t.Errorf("value of %s: %q, want %q kept", field, got, v)
				}
			}
			if got := count(); got != links {
				t.Fatalf("%d links after a refused form, want %d", got, links)
			}
		})
	}
	if _, err := g.app().Users().Stored(context.Background(), "carol"); err == nil {
		t.Fatal("a refused user form created the user")
	}
}

// TestAdminUITwoWayWizard links the gateway with another caddy-applinks
// gateway (itself, on loopback): the wizard reads its RFC 8414 metadata,
// creates the incoming link, shows this side's credentials, takes the
// other side's and creates the outgoing link; the pair is one Two-way row
// and works: a user connects it and the gateway calls itself with the
// token. Bad URLs are refused on the URL field.
func TestAdminUITwoWayWizard(t *testing.T) {
	g := apiGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password)
	wizard := "/applinks/admin/new/gateway"

	noMetadata := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(noMetadata.Close)
	for _, bad := range []struct{ url, msg string }{
		{noMetadata.URL, "No OAuth 2.0 metadata could be read from"},
		{"http://169.254.169.254", "169.254.169.254"},
		{"ftp://example.com", "Enter the other gateway's URL"},
	} {
		status, _, page := adminPost(t, sam, wizard, wizard, url.Values{"action": {"discover"}, "url": {bad.url}, "name": {"self"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "url"), bad.msg) || fieldValue(page, "name") != "self" {
			t.Fatalf("URL %s: %d, error %q, want %q and the name kept:\n%s", bad.url, status, fieldError(page, "url"), bad.msg, page)
		}
	}

	status, _, page := adminPost(t, sam, wizard, wizard, url.Values{"action": {"discover"}, "url": {base + "/"}, "name": {"self"}})
	if status != http.StatusOK || copied(t, page, "remote_token_endpoint") != base+"/rest/oauth2/latest/token" {
		t.Fatalf("discover: %d\n%s", status, page)
	}
	if got := fieldValue(page, "redirect_uris"); got != base+"/applinks/callback/self" {
		t.Fatalf("other side's redirect URL %q, want its callback of the same name", got)
	}
	step2 := flow.HiddenFields(page)
	step2.Set("action", "incoming")
	step2.Set("redirect_uris", base+"/applinks/callback/self")
	step2.Set("scope", "WRITE")
	resp, err := sam.PostForm(base+wizard, step2)
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, resp)
	if resp.StatusCode != http.StatusOK || copied(t, page, "redirect_uri") != base+"/applinks/callback/self" {
		t.Fatalf("incoming step: %d\n%s", resp.StatusCode, page)
	}
	clientID, secret := copied(t, page, "client_id"), copied(t, page, "client_secret")

	// The other side gives back its credentials: here the same gateway's.
	step3 := flow.HiddenFields(page)
	step3.Set("action", "outgoing")
	if got := fieldValue(page, "url"); got != base {
		t.Fatalf("outgoing step: URL %q, want %q carried over", got, base)
	}
	step3.Set("url", base)
	step3.Set("client_id", clientID)
	step3.Set("client_secret", "")
	step3.Set("scope", "WRITE")
	resp, err = sam.PostForm(base+wizard, step3)
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || fieldError(page, "client_secret") == "" || fieldValue(page, "client_id") != clientID {
		t.Fatalf("missing secret: %d\n%s", resp.StatusCode, page)
	}
	step3.Set("client_secret", secret)
	resp, err = sam.PostForm(base+wizard, step3)
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, resp)
	if !strings.Contains(page, "Two-way link self created") {
		t.Fatalf("outgoing step did not finish:\n%s", page)
	}
	row := regexp.MustCompile(`(?s)<strong>self</strong>.*?</tr>`).FindString(page)
	if !strings.Contains(row, "Two-way") || !strings.Contains(row, "Edit incoming") || !strings.Contains(row, "Edit outgoing") {
		t.Fatalf("no Two-way row for self:\n%s", row)
	}

	// Its name is taken in both directions now, also for a wizard whose
	// step 1 ran before.
	status, _, page = adminPost(t, sam, "/applinks/admin/new/incoming", "/applinks/admin/new/incoming", url.Values{"name": {"self"}, "redirect_uris": {"https://other.example/cb"}, "scope": {"READ"}, "action": {"save"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "name"), "already exists") {
		t.Fatalf("an incoming link named like the two-way pair: %d %q", status, fieldError(page, "name"))
	}
	status, _, page = adminPost(t, sam, wizard, wizard, url.Values{"action": {"incoming"}, "url": {base}, "name": {"self"}, "redirect_uris": {base + "/applinks/callback/self"}, "scope": {"READ"}})
	if status != http.StatusConflict || !strings.Contains(page, "created meanwhile") {
		t.Fatalf("wizard step 2 with a name taken since step 1: %d\n%s", status, page)
	}

	// The link works: wendy connects it (signing in and consenting at the
	// other side) and calls the other side's API through it.
	wendy := browser(t)
	signIn(t, wendy, "wendy", password)
	resp, err = wendy.Get(base + "/applinks/connect/self")
	if err != nil {
		t.Fatal(err)
	}
	consent := readBody(t, resp)
	f := flow.HiddenFields(consent)
	f.Set("decision", "allow")
	resp, err = wendy.PostForm(base+"/applinks/consent", f)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "self") {
		t.Fatalf("connect: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	l, err := g.app().Outgoing().Link(context.Background(), "self")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := g.app().Outgoing().Token(context.Background(), l, "wendy")
	if err != nil {
		t.Fatalf("wendy's token of the two-way link: %v", err)
	}
	resp, got, _ := call(t, http.MethodPost, "/api/things", bearer(tok))
	if resp.StatusCode != http.StatusOK || got.User != "wendy" || got.Scope != "WRITE" {
		t.Fatalf("the other side's API with the link's token: %d %+v", resp.StatusCode, got)
	}
}

// TestAdminUIUsers: an administrator adds a user, changes the role (felt
// by the user's token on its next request), resets the password, revokes
// all of the user's authorizations, disables and deletes the user.
func TestAdminUIUsers(t *testing.T) {
	g := guardedGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password)
	users := "/applinks/admin/users"
	status, _, page := adminPost(t, sam, users, users, url.Values{"name": {"carol"}, "password": {"first password"}, "role": {"WRITE"}})
	if status != http.StatusOK || !strings.Contains(page, "User carol added.") || !strings.Contains(page, "<strong>carol</strong>") {
		t.Fatalf("add: %d\n%s", status, page)
	}
	if signIn(t, browser(t), "carol", "first password").Request.URL.Path == "/applinks/login" {
		t.Fatal("carol cannot sign in with the password she was given")
	}
	tok := mint(t, g, "carol", scope.Write)
	if resp, _, _ := call(t, http.MethodPost, "/things", bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK {
		t.Fatalf("carol's WRITE token: %d", resp.StatusCode)
	}
	carol := users + "/carol"
	status, _, page = adminPost(t, sam, carol, carol, url.Values{"action": {"save"}, "role": {"READ"}, "password": {"second password"}})
	if status != http.StatusOK || !strings.Contains(page, "User carol saved.") {
		t.Fatalf("save: %d\n%s", status, page)
	}
	if resp, _, _ := call(t, http.MethodPost, "/things", bearer(tok.AccessToken)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("carol's token after demotion to READ: %d, want 403", resp.StatusCode)
	}
	if signIn(t, browser(t), "carol", "first password").Request.URL.Path != "/applinks/login" {
		t.Fatal("the old password still works after a reset")
	}
	if signIn(t, browser(t), "carol", "second password").Request.URL.Path == "/applinks/login" {
		t.Fatal("the new password does not work")
	}
	status, _, page = adminPost(t, sam, carol, carol, url.Values{"action": {"save"}, "role": {"READ"}, "password": {"short"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "password"), "at least 8") {
		t.Fatalf("short password: %d %q", status, fieldError(page, "password"))
	}
	status, _, page = adminPost(t, sam, carol, carol, url.Values{"action": {"revoke"}, "confirm": {"yes"}})
	if status != http.StatusOK || !strings.Contains(page, "Revoked 1 authorization of carol.") {
		t.Fatalf("revoke all: %d\n%s", status, page)
	}
	if resp, _, _ := call(t, http.MethodGet, "/things", bearer(tok.AccessToken)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("carol's token after revoke all: %d, want 401", resp.StatusCode)
	}
	tok = mint(t, g, "carol", scope.Read)
	adminPost(t, sam, carol, carol, url.Values{"action": {"save"}, "role": {"READ"}, "disabled": {"on"}})
	if resp, _, _ := call(t, http.MethodGet, "/things", bearer(tok.AccessToken)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled carol's token: %d, want 401", resp.StatusCode)
	}
	// Enabled again, signed in and holding a token: none of it survives
	// her deletion, even when a new carol is added later.
	adminPost(t, sam, carol, carol, url.Values{"action": {"save"}, "role": {"READ"}})
	carolBrowser := browser(t)
	signIn(t, carolBrowser, "carol", "second password").Body.Close()
	tok = mint(t, g, "carol", scope.Read)
	status, _, page = adminPost(t, sam, carol, carol, url.Values{"action": {"delete"}})
	if status != http.StatusOK || !strings.Contains(page, "Delete user carol?") || !strings.Contains(page, `name="confirm" value="yes"`) {
		t.Fatalf("delete asks for confirmation first: %d\n%s", status, page)
	}
	if _, err := g.app().Users().Stored(context.Background(), "carol"); err != nil {
		t.Fatalf("asking for confirmation deleted the user: %v", err)
	}
	status, _, page = adminPost(t, sam, carol, carol, url.Values{"action": {"delete"}, "confirm": {"yes"}})
	if status != http.StatusOK || !strings.Contains(page, "User carol deleted.") || strings.Contains(page, "<strong>carol</strong>") {
		t.Fatalf("delete: %d\n%s", status, page)
	}
	adminPost(t, sam, users, users, url.Values{"name": {"carol"}, "password": {"another carol's password"}, "role": {"READ"}})
	if resp, err := carolBrowser.Get(base + "/applinks/account"); err != nil || resp.Request.URL.Path != "/applinks/login" {
		t.Fatalf("the deleted carol's session works for the new carol: %v at %v", err, resp.Request.URL)
	}
	if resp, _, _ := call(t, http.MethodGet, "/things", bearer(tok.AccessToken)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the deleted carol's token for the new carol: %d, want 401", resp.StatusCode)
	}
	// Administrators adding the same user at once: one wins, the others
	// are told the name is taken (nobody's password silently replaced).
	_, list := adminPage(t, sam, users)
	csrf := flow.HiddenFields(list).Get("csrf_token")
	// Each add hashes a password with bcrypt, which the race detector
	// slows tenfold: eight at once on a busy machine take longer than a
	// browser's usual timeout, and the answers, not their speed, are what
	// this judges.
	patient := *sam
	patient.Timeout = time.Minute
	type answer struct {
		status int
		err    error
	}
	results := make(chan answer, 8)
	for i := range 8 {
		go func() {
			resp, err := patient.PostForm(base+users, url.Values{"csrf_token": {csrf}, "name": {"dave"}, "password": {fmt.Sprintf("dave password %d", i)}, "role": {"READ"}})
			if err != nil {
				results <- answer{err: err}
				return
			}
			resp.Body.Close()
			results <- answer{status: resp.StatusCode}
		}()
	}
	added := 0
	for range 8 {
		switch a := <-results; a.status {
		case http.StatusOK: // the list, after the redirect
			added++
		case http.StatusUnprocessableEntity:
		default:
			t.Errorf("an unexpected answer to a concurrent add: %d %v", a.status, a.err)
		}
	}
	if added != 1 {
		t.Fatalf("%d concurrent adds of dave succeeded, want 1", added)
	}
	if status, _ := adminPage(t, sam, "/applinks/admin/users/bob"); status != http.StatusNotFound {
		t.Fatalf("a Caddyfile user's page: %d, want 404 (read-only)", status)
	}
}
