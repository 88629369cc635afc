package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/links"
)

// TestAdminUIDisableIncoming: the link's page disables it after a
// confirmation page (asking changes nothing); while disabled the list
// says so, its token is refused and its authorization requests get a
// page; Enable gives the same token back. A Caddyfile link offers no
// button, and a forced POST is refused as a warning.
func TestAdminUIDisableIncoming(t *testing.T) {
	g := apiGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password)
	const redirect = "http://127.0.0.1:9481/switch"
	l, secret := createIncoming(t, g, sam, "Switch", redirect, "WRITE")
	tok, err := flow.Run(base, "wendy", password, l.ClientID, secret, redirect, "WRITE")
	if err != nil {
		t.Fatalf("token flow: %v", err)
	}
	tokenAnswers := func(what string, want int) {
		t.Helper()
		if resp, _, _ := call(t, http.MethodGet, "/api/pages", bearer(tok.AccessToken)); resp.StatusCode != want {
			t.Fatalf("%s: the link's token answered %d, want %d", what, resp.StatusCode, want)
		}
	}
	tokenAnswers("enabled", http.StatusOK)

	page := "/applinks/admin/incoming/" + l.ID
	disable := page + "/disable"
	if _, body := adminPage(t, sam, page); !strings.Contains(body, `action="`+disable+`"`) || !strings.Contains(body, `value="disable" class="danger">Disable link<`) {
		t.Fatalf("the link's page offers no Disable button:\n%s", body)
	}
	status, _, body := adminPost(t, sam, page, disable, url.Values{"action": {"disable"}})
	if status != http.StatusOK || !strings.Contains(body, "Disable Switch?") || !strings.Contains(body, "stops working at its next request") || incomingByID(t, g, l.ID).Disabled {
		t.Fatalf("asking to disable: %d, disabled %v\n%s", status, incomingByID(t, g, l.ID).Disabled, body)
	}
	tokenAnswers("asked to disable", http.StatusOK)

	status, final, body := adminPost(t, sam, disable, disable, url.Values{"action": {"disable"}, "confirm": {"yes"}})
	if status != http.StatusOK || !strings.HasSuffix(strings.SplitN(final, "?", 2)[0], "/applinks/admin") || !strings.Contains(body, "Switch disabled.") {
		t.Fatalf("disable: %d at %s\n%s", status, final, body)
	}
	if row := linkRowOf(body, "Switch"); !strings.Contains(row, `class="status bad">Disabled<`) {
		t.Fatalf("the list row of the disabled link:\n%s", row)
	}
	tokenAnswers("disabled", http.StatusUnauthorized)
	resp, err := noRedirects.Get(base + "/rest/oauth2/latest/authorize?" + url.Values{"response_type": {"code"}, "client_id": {l.ClientID}, "redirect_uri": {redirect}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Application disabled") {
		t.Fatalf("authorization by the disabled link: %d\n%s", resp.StatusCode, body)
	}
	if _, body := adminPage(t, sam, page); !strings.Contains(body, "This link is disabled") || !strings.Contains(body, `value="enable" class="secondary">Enable link<`) {
		t.Fatalf("the disabled link's page:\n%s", body)
	}

	status, _, body = adminPost(t, sam, page, disable, url.Values{"action": {"enable"}})
	if status != http.StatusOK || !strings.Contains(body, "Enable Switch?") || !incomingByID(t, g, l.ID).Disabled {
		t.Fatalf("asking to enable: %d\n%s", status, body)
	}
	status, _, body = adminPost(t, sam, disable, disable, url.Values{"action": {"enable"}, "confirm": {"yes"}})
	if status != http.StatusOK || !strings.Contains(body, "Switch enabled.") || !strings.Contains(linkRowOf(body, "Switch"), `class="status ok">Active<`) {
		t.Fatalf("enable: %d\n%s", status, body)
	}
	tokenAnswers("enabled again", http.StatusOK)

	cfg := "/applinks/admin/incoming/" + links.ConfigID("app")
	if _, body := adminPage(t, sam, cfg); strings.Contains(body, "/disable") {
		t.Fatalf("a Caddyfile link's page offers Disable:\n%s", body)
	}
	_, _, body = adminPost(t, sam, cfg, cfg+"/disable", url.Values{"action": {"disable"}, "confirm": {"yes"}})
	if !strings.Contains(body, `class="error banner" role="alert">app is declared in the Caddyfile`) || incomingByID(t, g, links.ConfigID("app")).Disabled {
		t.Fatalf("disabling a Caddyfile link:\n%s", body)
	}
}
