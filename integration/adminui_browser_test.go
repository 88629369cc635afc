package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/applinks/caddy-applinks/internal/browsertest"
	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/store"
)

// screenshotDir is where the journey saves its screenshots: the
// repository's docs/screenshots when SCREENSHOTS=1 (to refresh the
// README's pictures), a temp dir otherwise.
func screenshotDir(t *testing.T) string {
	if os.Getenv("SCREENSHOTS") == "1" {
		return filepath.Join("..", "docs", "screenshots")
	}
	return t.TempDir()
}

// TestAdminJourneyInBrowser drives the administration UI in a real
// headless Chromium: sign in, create an incoming link (a refused form
// first), read its credentials, use them in a token flow, delete the link
// and see the token refused by the guard; create a custom outgoing link
// (to this gateway's own endpoints) and connect it; see a link's activity
// and rotate its secret after confirming; revoke an application on the
// account page.
func TestAdminJourneyInBrowser(t *testing.T) {
	g := apiGateway(t)
	dir := screenshotDir(t)
	ctx := browsertest.New(t)
	shot := func(name string) { browsertest.Screenshot(t, ctx, filepath.Join(dir, name+".png")) }
	run := func(actions ...chromedp.Action[chromedp.Void]) { t.Helper(); browsertest.Run(t, ctx, actions...) }
	notice := func(want string) {
		t.Helper()
		if got := browsertest.Text(t, ctx, ".notice"); !strings.Contains(got, want) {
			t.Fatalf("notice %q, want %q", got, want)
		}
	}

	// Sign in: the admin page sends an anonymous browser to sign in first.
	run(chromedp.Navigate(base+"/applinks/admin"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "sam"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.links")))
	shot("links-before")

	// Create an incoming link; a bad redirect URL comes back marked.
	run(chromedp.Click(chromedp.CSS(`a[href="/applinks/admin/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/applinks/admin/new/incoming"]`)))
	shot("create-link")
	run(chromedp.Click(chromedp.CSS(`a[href="/applinks/admin/new/incoming"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Wiki"),
		chromedp.SendKeys(chromedp.CSS("#f-redirect_uris"), "http://wiki.example.com/oauth/callback"),
		chromedp.SetValue(chromedp.CSS("#f-scope"), "WRITE"),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS("#e-redirect_uris")))
	if got := browsertest.Text(t, ctx, "#e-redirect_uris"); !strings.Contains(got, "must use https") {
		t.Fatalf("redirect URL error %q", got)
	}
	shot("create-incoming-error")
	const wikiRedirect = "http://127.0.0.1:9481/wiki"
	run(chromedp.SetValue(chromedp.CSS("#f-redirect_uris"), wikiRedirect),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`code[data-name="client_secret"]`)))
	shot("credentials")
	clientID := browsertest.Text(t, ctx, `code[data-name="client_id"]`)
	secret := browsertest.Text(t, ctx, `code[data-name="client_secret"]`)

	// View credentials again from the list.
	wiki := idOf(t, "Wiki")
	run(chromedp.Navigate(base+"/applinks/admin"),
		chromedp.Click(chromedp.CSS(`a[href="/applinks/admin/incoming/`+wiki+`/credentials"]`)),
		chromedp.WaitVisible(chromedp.CSS(`code[data-name="client_secret"]`)))
	if got := browsertest.Text(t, ctx, `code[data-name="client_secret"]`); got != secret {
		t.Fatalf("view credentials shows secret %q, want %q", got, secret)
	}

	// The credentials work in a token flow, and the token passes the guard.
	tok, err := flow.Run(base, "wendy", password, clientID, secret, wikiRedirect, "WRITE")
	if err != nil {
		t.Fatalf("token flow with the UI's credentials: %v", err)
	}
	if resp, got, _ := call(t, http.MethodPost, "/api/pages", bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK || got.User != "wendy" || got.Scope != "WRITE" {
		t.Fatalf("guarded call: %d %+v", resp.StatusCode, got)
	}

	// Delete, confirmed on its own page: the token is refused at once.
	run(chromedp.Navigate(base+"/applinks/admin"),
		chromedp.Click(chromedp.CSS(`a.danger[href*="incoming=`+wiki+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("button.danger")))
	shot("delete-confirm")
	run(chromedp.Click(chromedp.CSS("button.danger")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	notice("Wiki deleted.")
	if resp, _, _ := call(t, http.MethodGet, "/api/pages", bearer(tok.AccessToken)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token of the deleted link: %d, want 401", resp.StatusCode)
	}

	// A custom outgoing link to this gateway's own endpoints, with the
	// incoming link it needs there.
	run(chromedp.Navigate(base+"/applinks/admin/new/incoming"),
		chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "CRM"),
		chromedp.SendKeys(chromedp.CSS("#f-redirect_uris"), base+"/applinks/callback/crm"),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`code[data-name="client_secret"]`)))
	crmID := browsertest.Text(t, ctx, `code[data-name="client_id"]`)
	crmSecret := browsertest.Text(t, ctx, `code[data-name="client_secret"]`)
	run(chromedp.Navigate(base+"/applinks/admin/new/outgoing?provider=custom"),
		chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "crm"),
		chromedp.SendKeys(chromedp.CSS("#f-authorization_endpoint"), base+"/rest/oauth2/latest/authorize"),
		chromedp.SendKeys(chromedp.CSS("#f-token_endpoint"), base+"/rest/oauth2/latest/token"),
		chromedp.Click(chromedp.CSS(`button[value="preview"]`)),
		chromedp.WaitVisible(chromedp.CSS(`code[data-name="redirect_uri"]`)))
	if got := browsertest.Text(t, ctx, `code[data-name="redirect_uri"]`); got != base+"/applinks/callback/crm" {
		t.Fatalf("redirect URL to register %q", got)
	}
	run(chromedp.SendKeys(chromedp.CSS("#f-client_id"), crmID),
		chromedp.SendKeys(chromedp.CSS("#f-client_secret"), crmSecret),
		chromedp.SendKeys(chromedp.CSS("#f-scopes"), "READ"),
		chromedp.SetValue(chromedp.CSS("#f-mode"), "shared"))
	shot("create-outgoing")
	run(chromedp.Click(chromedp.CSS(`button[value="save"]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	notice("Outgoing link crm created.")
	if row := browsertest.Text(t, ctx, "table.links"); !strings.Contains(row, "Not connected") {
		t.Fatalf("a new shared link should show Not connected:\n%s", row)
	}

	// Connect it: consent at the provider (this gateway), back to the list.
	run(chromedp.Click(chromedp.CSS(`a[href^="/applinks/connect/crm"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	shot("consent")
	run(chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.links")))
	if got := browsertest.Location(t, ctx); got != base+"/applinks/admin" {
		t.Fatalf("after connecting, at %s", got)
	}
	if row := browsertest.Text(t, ctx, "table.links"); !strings.Contains(row, "Connected") {
		t.Fatalf("the connected link should show Connected:\n%s", row)
	}

	// Another caddy-applinks gateway (this one, on loopback) through the
	// two-way wizard: the pair becomes one Two-way row.
	run(chromedp.Navigate(base+"/applinks/admin/new"),
		chromedp.Click(chromedp.CSS(`a[href="/applinks/admin/new/gateway"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-url")),
		chromedp.SendKeys(chromedp.CSS("#f-url"), base),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "jira"),
		chromedp.Click(chromedp.CSS(`button[value="discover"]`)),
		chromedp.WaitVisible(chromedp.CSS(`code[data-name="remote_token_endpoint"]`)))
	shot("two-way-step2")
	run(chromedp.Click(chromedp.CSS(`button[value="incoming"]`)),
		chromedp.WaitVisible(chromedp.CSS(`code[data-name="client_secret"]`)))
	peerID := browsertest.Text(t, ctx, `code[data-name="client_id"]`)
	peerSecret := browsertest.Text(t, ctx, `code[data-name="client_secret"]`)
	run(chromedp.SendKeys(chromedp.CSS("#f-client_id"), peerID),
		chromedp.SendKeys(chromedp.CSS("#f-client_secret"), peerSecret))
	shot("two-way-step3")
	run(chromedp.Click(chromedp.CSS(`button[value="outgoing"]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	notice("Two-way link jira created")
	if rows := browsertest.Text(t, ctx, "table.links"); !strings.Contains(rows, "jira") || !strings.Contains(rows, "Two-way") {
		t.Fatalf("no Two-way row for jira:\n%s", rows)
	}
	shot("links")
	run(browsertest.Phone(), chromedp.Reload())
	shot("links-phone")
	run(browsertest.Desktop())

	// Users page.
	run(chromedp.Navigate(base+"/applinks/admin/users"), chromedp.WaitVisible(chromedp.CSS("table.users")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "carol"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), "carol-password-1"),
		chromedp.SetValue(chromedp.CSS("#f-role"), "WRITE"),
		chromedp.Click(chromedp.CSS(`button[value="add"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	notice("User carol added.")
	if _, err := flow.Run(base, "carol", "carol-password-1", crmID, crmSecret, base+"/applinks/callback/crm", "READ"); err != nil {
		t.Fatalf("the user added in the browser cannot authorize: %v", err)
	}
	shot("users")

	// CRM's page: its activity of the day (sam's connection and carol's
	// flow each issued a token pair); then rotate its secret, confirmed.
	crm := idOf(t, "CRM")
	run(chromedp.Navigate(base+"/applinks/admin/incoming/"+crm), chromedp.WaitVisible(chromedp.CSS("ul.stats")))
	if got := browsertest.Text(t, ctx, `[data-stat="issued"]`); got != "2" {
		t.Fatalf("CRM's page shows %s tokens issued, want 2", got)
	}
	shot("link-activity")
	run(chromedp.Navigate(base+"/applinks/admin"),
		chromedp.Click(chromedp.CSS(`a[href="/applinks/admin/incoming/`+crm+`/rotate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="keep"]`)))
	if got := browsertest.Text(t, ctx, `button[value="keep"]`); got != "Rotate, keep the old secret for 24 hours" {
		t.Fatalf("rotation's first choice reads %q", got)
	}
	shot("rotate-confirm")
	run(chromedp.Click(chromedp.CSS(`button[value="keep"]`)), chromedp.WaitVisible(chromedp.CSS(`code[data-name="client_secret"]`)))
	if got := browsertest.Text(t, ctx, `code[data-name="client_secret"]`); got == crmSecret {
		t.Fatal("rotation shows the old secret")
	}

	// The account page: sam authorized CRM while connecting; revoke it.
	run(chromedp.Navigate(base+"/applinks/account"), chromedp.WaitVisible(chromedp.CSS("table")))
	shot("account")
	if page := browsertest.Text(t, ctx, "main"); !strings.Contains(page, "CRM") {
		t.Fatalf("account page lacks the CRM authorization:\n%s", page)
	}
	run(chromedp.Click(chromedp.CSS(`form[action="/applinks/account"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)))
	if page := browsertest.Text(t, ctx, "main"); !strings.Contains(page, "Access revoked.") || strings.Contains(page, "CRM") {
		t.Fatalf("after revoking:\n%s", page)
	}
	gs, err := g.app().Grants().List(context.Background(), store.GrantFilter{UserID: "sam"})
	if err != nil || len(gs) != 0 {
		t.Fatalf("sam's grants after revoking: %v %v", gs, err)
	}
}
