package integration

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/links"
)

// declaredOutgoing declares an outgoing link in the Caddyfile.
const declaredOutgoing = `outgoing declared {
			provider google
			client_id declared-id
			client_secret declared-secret
		}`

// allowPrivate is the applinks option that lets links created at runtime
// use a provider on loopback, as the tests' links to this gateway itself
// and to the fakes are.
const allowPrivate = "\n\t\tallow_private_endpoints"

// apiGateway runs the gateway with require_token in front of a recording
// upstream under /api/*; links created at runtime may use loopback.
func apiGateway(t *testing.T) *gateway {
	up := upstream(t)
	return startGateway(t, gatewayOptions{extraGlobal: allowPrivate, site: fmt.Sprintf(`applinks
	handle /api/* {
		require_token
		reverse_proxy %s
	}`, up.URL)})
}

// createIncoming creates an incoming link through the UI as the browser c
// and returns it with the secret shown once created.
func createIncoming(t *testing.T, g *gateway, c *http.Client, name, redirect, ceiling string) (links.Link, string) {
	t.Helper()
	path := "/applinks/admin/new/incoming"
	status, _, page := adminPost(t, c, path, path, url.Values{"name": {name}, "redirect_uris": {redirect}, "scope": {ceiling}, "action": {"save"}})
	if status != http.StatusOK {
		t.Fatalf("creating incoming link %s: %d\n%s", name, status, page)
	}
	clientID, secret := copied(t, page, "client_id"), copied(t, page, "client_secret")
	l := incomingNamed(t, g, name)
	if l.ClientID != clientID {
		t.Fatalf("page shows client ID %q, link %s has %q", clientID, name, l.ClientID)
	}
	return l, secret
}

// incomingNamed returns the incoming link called name.
func incomingNamed(t *testing.T, g *gateway, name string) links.Link {
	t.Helper()
	all, err := g.app().Links().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no incoming link named %s", name)
	return links.Link{}
}

// incomingByID returns the incoming link id from the registry.
func incomingByID(t *testing.T, g *gateway, id string) links.Link {
	t.Helper()
	l, err := g.app().Links().Get(context.Background(), id)
	if err != nil {
		t.Fatalf("incoming link %s: %v", id, err)
	}
	return l
}

// linkRowOf returns the HTML of the links list's row named name, or "".
func linkRowOf(page, name string) string {
	return regexp.MustCompile(`(?s)<tr>\s*<td data-label="Name"><strong>` + regexp.QuoteMeta(name) + `</strong>.*?</tr>`).FindString(page)
}

// hrefOf returns the unescaped href of the first <a> in s whose attributes
// before href match attrs, or "".
func hrefOf(s, attrs string) string {
	m := regexp.MustCompile(`<a ` + attrs + `href="([^"]*)"`).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// introspectAs introspects tok with the client credentials id and sec
// (client_secret_basic) and returns the status and whether it is active.
func introspectAs(t *testing.T, tok, id, sec string) (int, bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/rest/oauth2/latest/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	return resp.StatusCode, strings.Contains(body, `"active":true`)
}

// TestAdminUIEditIncoming: lowering an incoming link's permission in the
// UI holds the tokens the application already has to it at their next
// request (and at refresh); a bad redirect URL is refused on its field
// with the values kept and nothing saved; a Caddyfile link's page is
// read-only and a forced POST to it changes nothing.
func TestAdminUIEditIncoming(t *testing.T) {
	g := apiGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password)
	const redirect = "http://127.0.0.1:9481/edit"
	l, secret := createIncoming(t, g, sam, "Editor", redirect, "WRITE")

	tok, err := flow.Run(base, "wendy", password, l.ClientID, secret, redirect, "WRITE")
	if err != nil {
		t.Fatalf("token flow: %v", err)
	}
	if resp, got, _ := call(t, http.MethodPost, "/api/pages", bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK || got.Scope != "WRITE" {
		t.Fatalf("WRITE token before the edit: %d %+v", resp.StatusCode, got)
	}

	edit := "/applinks/admin/incoming/" + l.ID
	status, page := adminPage(t, sam, edit)
	if status != http.StatusOK || fieldValue(page, "redirect_uris") != redirect || !strings.Contains(page, `<option value="WRITE" selected>`) || !strings.Contains(page, l.ClientID) {
		t.Fatalf("edit page: %d, want the link's values and client ID:\n%s", status, page)
	}
	status, final, page := adminPost(t, sam, edit, edit, url.Values{"action": {"save"}, "redirect_uris": {redirect}, "scope": {"READ"}, "require_pkce": {"on"}})
	if status != http.StatusOK || strings.Contains(final, "notice=") || !strings.Contains(page, "Editor saved.") {
		t.Fatalf("save: %d at %s\n%s", status, final, page)
	}
	after := incomingByID(t, g, l.ID)
	if after.Ceiling.String() != "READ" || !after.RequirePKCE || after.ClientID != l.ClientID || after.Name != "Editor" {
		t.Fatalf("after the edit: ceiling %s, PKCE %v, client %q, name %q", after.Ceiling, after.RequirePKCE, after.ClientID, after.Name)
	}
	if row := linkRowOf(page, "Editor"); !strings.Contains(row, "Permission: Read") {
		t.Fatalf("list row after the edit:\n%s", row)
	}
	if resp, _, body := call(t, http.MethodPost, "/api/pages", bearer(tok.AccessToken)); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("WRITE token's POST after lowering the link to READ: %d %q %s, want 403 insufficient_scope", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	if resp, got, _ := call(t, http.MethodGet, "/api/pages", bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK || got.Scope != "READ" || got.User != "wendy" {
		t.Fatalf("GET after lowering the link to READ: %d %+v, want 200 as READ", resp.StatusCode, got)
	}
	// A refresh gets no more than the new permission either; the secret
	// stayed.
	st, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, l.ClientID, secret)
	if st != http.StatusOK || m["scope"] != "READ" {
		t.Fatalf("refresh after the edit: %d %v, want 200 with scope READ", st, m)
	}
	if resp, _, _ := call(t, http.MethodPost, "/api/pages", bearer(m["access_token"].(string))); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("refreshed token's POST: %d, want 403", resp.StatusCode)
	}

	// An invalid redirect URL: 422 on the field, values kept, nothing saved.
	bad := "http://evil.example.com/cb"
	status, _, page = adminPost(t, sam, edit, edit, url.Values{"action": {"save"}, "redirect_uris": {redirect + "\n" + bad}, "scope": {"ADMIN"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "redirect_uris"), "must use https") {
		t.Fatalf("bad redirect URL: %d, error %q\n%s", status, fieldError(page, "redirect_uris"), page)
	}
	if got := fieldValue(page, "redirect_uris"); got != redirect+"\n"+bad {
		t.Fatalf("redirect URLs kept: %q", got)
	}
	if !strings.Contains(page, `<option value="ADMIN" selected>`) || fieldValue(page, "name") != "Editor" {
		t.Fatalf("the refused form lost the permission or the name:\n%s", page)
	}
	if now := incomingByID(t, g, l.ID); !slices.Equal(now.RedirectURIs, []string{redirect}) || now.Ceiling.String() != "READ" || !now.RequirePKCE {
		t.Fatalf("a refused edit changed the link: %v %s PKCE %v", now.RedirectURIs, now.Ceiling, now.RequirePKCE)
	}
	// An unknown permission is refused on its own field.
	status, _, page = adminPost(t, sam, edit, edit, url.Values{"action": {"save"}, "redirect_uris": {redirect}, "scope": {"ROOT"}})
	if status != http.StatusUnprocessableEntity || fieldError(page, "scope") == "" || incomingByID(t, g, l.ID).Ceiling.String() != "READ" {
		t.Fatalf("unknown permission: %d, error %q", status, fieldError(page, "scope"))
	}

	// The Caddyfile's link: every field read-only, no Save, and a POST
	// anyway changes nothing.
	cfg := "/applinks/admin/incoming/" + links.ConfigID("app")
	status, page = adminPage(t, sam, cfg)
	if status != http.StatusOK || !strings.Contains(page, "declared in the Caddyfile") {
		t.Fatalf("config link's page: %d\n%s", status, page)
	}
	for _, ro := range []string{`data-field="name" aria-labelledby="l-name">app<`, `data-field="redirect_uris" aria-labelledby="l-redirect_uris">` + redirectURI + `<`, `data-field="scope" aria-labelledby="l-scope">Write<`, `name="require_pkce" value="on" disabled`} {
		if !strings.Contains(page, ro) {
			t.Errorf("config link's page lacks %q", ro)
		}
	}
	if strings.Contains(page, `<button type="submit"`) {
		t.Error("config link's page offers a submit button")
	}
	status, _, _ = adminPost(t, sam, cfg, cfg, url.Values{"action": {"save"}, "redirect_uris": {"https://evil.example.com/cb"}, "scope": {"SYSTEM_ADMIN"}})
	if status != http.StatusConflict {
		t.Fatalf("POST to the config link's page: %d, want 409", status)
	}
	if app := incomingByID(t, g, links.ConfigID("app")); !slices.Equal(app.RedirectURIs, []string{redirectURI}) || app.Ceiling.String() != "WRITE" {
		t.Fatalf("a POST changed the config link: %v %s", app.RedirectURIs, app.Ceiling)
	}
}

// TestAdminUIRotateSecret: rotating gives a new secret shown once and by
// View credentials; during the overlap both the old and the new secret
// authenticate the application, a wrong one does not. A Caddyfile link's
// secret cannot be rotated.
func TestAdminUIRotateSecret(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	const redirect = "http://127.0.0.1:9481/rotate"
	l, oldSecret := createIncoming(t, g, sam, "Rotor", redirect, "READ")
	tok, err := flow.Run(base, "bob", password, l.ClientID, oldSecret, redirect, "")
	if err != nil {
		t.Fatalf("token flow: %v", err)
	}

	_, list := adminPage(t, sam, "/applinks/admin")
	row := linkRowOf(list, "Rotor")
	if !strings.Contains(row, `href="/applinks/admin/incoming/`+l.ID+`/rotate"`) {
		t.Fatalf("no Rotate secret in the row:\n%s", row)
	}
	rotate := "/applinks/admin/incoming/" + l.ID + "/rotate"
	status, _, page := adminPost(t, sam, rotate, rotate, url.Values{"action": {"keep"}})
	if status != http.StatusOK || !strings.Contains(page, "New secret of Rotor") || !strings.Contains(page, "previous secret keeps working") {
		t.Fatalf("rotate: %d\n%s", status, page)
	}
	newSecret := copied(t, page, "client_secret")
	if newSecret == oldSecret || newSecret == "" || copied(t, page, "client_id") != l.ClientID {
		t.Fatalf("rotate shows secret %q (old %q), client %q", newSecret, oldSecret, copied(t, page, "client_id"))
	}
	if _, creds := adminPage(t, sam, "/applinks/admin/incoming/"+l.ID+"/credentials"); copied(t, creds, "client_secret") != newSecret {
		t.Fatal("View credentials does not show the new secret")
	}

	for _, tc := range []struct {
		name, secret string
		status       int
	}{
		{"old secret", oldSecret, http.StatusOK},
		{"new secret", newSecret, http.StatusOK},
		{"wrong secret", newSecret + "x", http.StatusUnauthorized},
	} {
		status, active := introspectAs(t, tok.AccessToken, l.ClientID, tc.secret)
		if status != tc.status || active != (tc.status == http.StatusOK) {
			t.Errorf("introspection with the %s: %d active=%v, want %d", tc.name, status, active, tc.status)
		}
	}
	// The new secret runs a whole flow too.
	if _, err := flow.Run(base, "bob", password, l.ClientID, newSecret, redirect, ""); err != nil {
		t.Fatalf("token flow with the new secret: %v", err)
	}

	// The Caddyfile's link: no Rotate button, and a forced POST is refused
	// with a notice; its secret stays.
	if row := linkRowOf(list, "app"); strings.Contains(row, "/rotate") {
		t.Fatalf("config link offers Rotate secret:\n%s", row)
	}
	cfgRotate := "/applinks/admin/incoming/" + links.ConfigID("app") + "/rotate"
	status, final, page := adminPost(t, sam, "/applinks/admin/new/incoming", cfgRotate, url.Values{"action": {"keep"}})
	if status != http.StatusOK || final != base+"/applinks/admin" || !strings.Contains(page, "app is declared in the Caddyfile") {
		t.Fatalf("rotating the config link: %d at %s\n%s", status, final, page)
	}
	if strings.Contains(page, `data-name="client_secret"`) {
		t.Fatal("refused rotation shows a secret")
	}
	sec, err := g.app().Links().Secret(incomingByID(t, g, links.ConfigID("app")))
	if err != nil || sec != secretValue {
		t.Fatalf("config link's secret after a refused rotation: %q %v", sec, err)
	}
	if status, _, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {"x"}}, clientID, secretValue); status != http.StatusOK {
		t.Fatalf("config link's secret no longer authenticates: %d", status)
	}
}

// TestAdminUIEditOutgoing: editing a custom outgoing link changes its
// client ID and scopes and keeps the secret when the field is left empty;
// a new secret replaces it; an empty client ID is refused on its field.
// A Caddyfile link's page is read-only and a forced POST changes nothing.
func TestAdminUIEditOutgoing(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraGlobal: declaredOutgoing + allowPrivate})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	create := "/applinks/admin/new/outgoing"
	status, _, page := adminPost(t, sam, create+"?provider=custom", create, url.Values{
		"provider": {"custom"}, "name": {"crm"},
		"authorization_endpoint": {base + "/rest/oauth2/latest/authorize"}, "token_endpoint": {base + "/rest/oauth2/latest/token"},
		"client_id": {"first-id"}, "client_secret": {"first-secret"}, "scopes": {"READ"}, "mode": {"per_user"}, "action": {"save"},
	})
	if status != http.StatusOK || !strings.Contains(page, "Outgoing link crm created.") {
		t.Fatalf("create: %d\n%s", status, page)
	}
	stored := func() (id, secret string, scopes []string, mode string) {
		t.Helper()
		l, err := g.app().Outgoing().Link(context.Background(), "crm")
		if err != nil {
			t.Fatal(err)
		}
		return l.ClientID, l.ClientSecret, l.Scopes, l.Mode
	}
	if id, sec, sc, mode := stored(); id != "first-id" || sec != "first-secret" || !slices.Equal(sc, []string{"READ"}) || mode != "per_user" {
		t.Fatalf("created link: %q %q %v %q", id, sec, sc, mode)
	}
	edit := hrefOf(linkRowOf(page, "crm"), "")
	if edit != "/applinks/admin/outgoing/crm" {
		t.Fatalf("row's edit link %q", edit)
	}

	status, page = adminPage(t, sam, edit)
	if status != http.StatusOK || fieldValue(page, "client_id") != "first-id" || fieldValue(page, "scopes") != "READ" || copied(t, page, "redirect_uri") != base+"/applinks/callback/crm" {
		t.Fatalf("edit page: %d\n%s", status, page)
	}
	if strings.Contains(page, "first-secret") {
		t.Fatal("the edit page shows the stored secret")
	}
	status, final, page := adminPost(t, sam, edit, edit, url.Values{"action": {"save"}, "client_id": {"second-id"}, "client_secret": {""}, "scopes": {"READ  WRITE"}, "mode": {"shared"}})
	if status != http.StatusOK || strings.Contains(final, "notice=") || !strings.Contains(page, "crm saved.") {
		t.Fatalf("save: %d at %s\n%s", status, final, page)
	}
	if id, sec, sc, mode := stored(); id != "second-id" || sec != "first-secret" || !slices.Equal(sc, []string{"READ", "WRITE"}) || mode != "shared" {
		t.Fatalf("after the edit: client %q secret %q scopes %v mode %q, want second-id, the old secret, [READ WRITE], shared", id, sec, sc, mode)
	}

	status, _, page = adminPost(t, sam, edit, edit, url.Values{"action": {"save"}, "client_id": {""}, "client_secret": {"third-secret"}, "scopes": {"ADMIN"}, "mode": {"shared"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "client_id"), "client ID is required") {
		t.Fatalf("empty client ID: %d, error %q\n%s", status, fieldError(page, "client_id"), page)
	}
	if fieldValue(page, "scopes") != "ADMIN" {
		t.Fatalf("scopes not kept: %q", fieldValue(page, "scopes"))
	}
	if id, sec, sc, _ := stored(); id != "second-id" || sec != "first-secret" || !slices.Equal(sc, []string{"READ", "WRITE"}) {
		t.Fatalf("a refused edit changed the link: %q %q %v", id, sec, sc)
	}

	status, _, _ = adminPost(t, sam, edit, edit, url.Values{"action": {"save"}, "client_id": {"second-id"}, "client_secret": {"new-secret"}, "scopes": {"READ"}, "mode": {"per_user"}})
	if id, sec, sc, mode := stored(); status != http.StatusOK || id != "second-id" || sec != "new-secret" || !slices.Equal(sc, []string{"READ"}) || mode != "per_user" {
		t.Fatalf("new secret: %d, link %q %q %v %q", status, id, sec, sc, mode)
	}

	// The Caddyfile's outgoing link.
	_, list := adminPage(t, sam, "/applinks/admin")
	if row := linkRowOf(list, "declared"); row == "" || strings.Contains(row, "/applinks/admin/outgoing/declared") || !strings.Contains(row, "read-only") {
		t.Fatalf("config outgoing link's row offers Edit (or is missing):\n%s", row)
	}
	decl := "/applinks/admin/outgoing/declared"
	status, page = adminPage(t, sam, decl)
	if status != http.StatusOK || !strings.Contains(page, "declared in the Caddyfile") || !strings.Contains(page, `data-field="client_id" aria-labelledby="l-client_id">declared-id<`) || strings.Contains(page, `<button type="submit"`) {
		t.Fatalf("config outgoing link's page: %d\n%s", status, page)
	}
	if status, _, _ := adminPost(t, sam, "/applinks/admin/new/incoming", decl, url.Values{"action": {"save"}, "client_id": {"evil"}, "client_secret": {"evil"}, "scopes": {"x"}}); status != http.StatusConflict {
		t.Fatalf("POST to the config outgoing link's page: %d, want 409", status)
	}
	if l, err := g.app().Outgoing().Link(context.Background(), "declared"); err != nil || l.ClientID != "declared-id" || l.ClientSecret != "declared-secret" || len(l.Scopes) != 0 {
		t.Fatalf("a POST changed the config outgoing link: %+v %v", l, err)
	}
}

// TestAdminUIDeleteTwoWay: an incoming link made two-way from the list is
// one Two-way row; its Delete asks first, naming both halves, and only
// the confirmation's POST deletes both. A Caddyfile link cannot be
// deleted by a forced POST.
func TestAdminUIDeleteTwoWay(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraGlobal: declaredOutgoing + allowPrivate})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	ctx := context.Background()
	in, secret := createIncoming(t, g, sam, "peer", base+"/applinks/callback/peer", "READ")

	// Make two-way from the list: the other gateway is this one.
	_, list := adminPage(t, sam, "/applinks/admin")
	m := regexp.MustCompile(`<a href="([^"]*)">Make two-way</a>`).FindStringSubmatch(linkRowOf(list, "peer"))
	if m == nil {
		t.Fatalf("no Make two-way for peer:\n%s", list)
	}
	complete := html.UnescapeString(m[1])
	status, _, page := adminPost(t, sam, complete, "/applinks/admin/new/gateway", url.Values{
		"action": {"outgoing"}, "incoming": {in.ID}, "url": {base}, "client_id": {in.ClientID}, "client_secret": {secret}, "scope": {"READ"},
	})
	if status != http.StatusOK || !strings.Contains(page, "Two-way link peer created") {
		t.Fatalf("make two-way: %d\n%s", status, page)
	}
	row := linkRowOf(page, "peer")
	if !strings.Contains(row, `<td data-label="Direction">Two-way</td>`) || strings.Count(page, "<strong>peer</strong>") != 1 {
		t.Fatalf("want one Two-way row for peer:\n%s", page)
	}
	del := hrefOf(row, `class="danger" `)
	if del == "" {
		t.Fatalf("no Delete in the row:\n%s", row)
	}
	u, err := url.Parse(del)
	if err != nil || u.Path != "/applinks/admin/delete" || u.Query().Get("incoming") != in.ID || u.Query().Get("outgoing") != "peer" {
		t.Fatalf("delete URL %q: want both halves", del)
	}

	exists := func() (incoming, outgoing bool) {
		t.Helper()
		all, err := g.app().Links().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names, err := g.app().Outgoing().Names(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(all, func(l links.Link) bool { return l.ID == in.ID }), slices.Contains(names, "peer")
	}
	status, page = adminPage(t, sam, del)
	if status != http.StatusOK || !strings.Contains(page, "Delete peer?") || !strings.Contains(page, "The incoming link and its credentials") || !strings.Contains(page, "The outgoing link and its") {
		t.Fatalf("confirmation: %d\n%s", status, page)
	}
	if i, o := exists(); !i || !o {
		t.Fatalf("the confirmation page deleted: incoming gone %v, outgoing gone %v", !i, !o)
	}
	f := flow.HiddenFields(page)
	if f.Get("incoming") != in.ID || f.Get("outgoing") != "peer" {
		t.Fatalf("confirmation form carries %v", f)
	}
	f.Set("action", "delete")
	resp, err := sam.PostForm(base+"/applinks/admin/delete", f)
	if err != nil {
		t.Fatal(err)
	}
	page = readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "peer deleted.") || linkRowOf(page, "peer") != "" {
		t.Fatalf("delete: %d\n%s", resp.StatusCode, page)
	}
	if i, o := exists(); i || o {
		t.Fatalf("after delete: incoming left %v, outgoing left %v", i, o)
	}
	if _, err := g.app().Outgoing().Link(ctx, "peer"); err == nil {
		t.Fatal("the deleted outgoing link is still served")
	}

	// The Caddyfile's link: no Delete, and a forced POST changes nothing.
	if row := linkRowOf(page, "app"); row == "" || strings.Contains(row, `class="danger"`) {
		t.Fatalf("config link's row offers Delete (or is missing):\n%s", row)
	}
	status, final, page := adminPost(t, sam, "/applinks/admin/new/incoming", "/applinks/admin/delete", url.Values{"incoming": {links.ConfigID("app")}, "action": {"delete"}})
	if status != http.StatusOK || strings.Contains(final, "notice=") || !strings.Contains(page, "app is declared in the Caddyfile") {
		t.Fatalf("deleting the config link: %d at %s\n%s", status, final, page)
	}
	incomingByID(t, g, links.ConfigID("app"))
	if linkRowOf(page, "app") == "" {
		t.Fatal("the config link left the list")
	}
	status, _, page = adminPost(t, sam, "/applinks/admin/new/incoming", "/applinks/admin/delete", url.Values{"outgoing": {"declared"}, "action": {"delete"}})
	if status != http.StatusOK || !strings.Contains(page, "declared is declared in the Caddyfile") {
		t.Fatalf("deleting the config outgoing link: %d\n%s", status, page)
	}
	if _, err := g.app().Outgoing().Link(ctx, "declared"); err != nil {
		t.Fatalf("the config outgoing link after a refused delete: %v", err)
	}
}

// TestAdminUIMethodsAndNotFound: unknown pages and links are 404 pages,
// other methods than GET and POST are 405 with Allow, for a signed-in
// administrator.
func TestAdminUIMethodsAndNotFound(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	sam := browser(t)
	signIn(t, sam, "sam", password)
	id := links.ConfigID("app")
	for _, path := range []string{
		"/applinks/admin/nope",
		"/applinks/admin/incoming/nonexistent",
		"/applinks/admin/incoming/nonexistent/credentials",
		"/applinks/admin/outgoing/nonexistent",
		"/applinks/admin/delete?incoming=nonexistent",
		"/applinks/admin/delete",
		"/applinks/admin/users/nobody",
	} {
		status, page := adminPage(t, sam, path)
		if status != http.StatusNotFound || !strings.Contains(page, "Not found") {
			t.Errorf("GET %s: %d, want the 404 page:\n%s", path, status, page)
		}
	}
	status, _, page := adminPost(t, sam, "/applinks/admin/new/incoming", "/applinks/admin/incoming/nonexistent/rotate", url.Values{})
	if status != http.StatusNotFound || !strings.Contains(page, "Not found") {
		t.Errorf("rotating a missing link: %d\n%s", status, page)
	}
	// Not following redirects: the answer itself is the 405, not a
	// redirect to another URL that gives one.
	direct := *sam
	direct.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, rq := range []struct{ method, path string }{
		{http.MethodPut, "/applinks/admin"},
		{http.MethodPut, "/applinks/admin/new/incoming"},
		{http.MethodDelete, "/applinks/admin/incoming/" + id},
		{http.MethodPatch, "/applinks/admin/outgoing/x"},
		{http.MethodPut, "/applinks/admin/users"},
		{http.MethodDelete, "/applinks/admin/nope"},
	} {
		req, err := http.NewRequest(rq.method, base+rq.path, strings.NewReader("x=1"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := direct.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" || !strings.Contains(body, "Method not allowed") {
			t.Errorf("%s %s: %d Allow %q Location %q, want the 405 page with Allow:\n%s", rq.method, rq.path, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Location"), body)
		}
	}
	if _, err := g.app().Links().Get(context.Background(), id); err != nil {
		t.Fatalf("a DELETE request touched the config link: %v", err)
	}
}
