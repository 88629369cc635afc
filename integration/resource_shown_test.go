package integration

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestConsentAndGrantsShowResource: the consent page names the RFC 8707
// resource the client asks for (and none when it asks for none), and the
// admin API and the CLI show the grant's resource.
func TestConsentAndGrantsShowResource(t *testing.T) {
	startMCPGateway(t, "")
	b := browser(t)
	signIn(t, b, "alice", password).Body.Close()
	conf := oauthConfig(oauth2.AuthStyleInHeader)
	conf.Scopes = []string{"READ"}
	consent := func(opts ...oauth2.AuthCodeOption) string {
		t.Helper()
		resp, err := b.Get(conf.AuthCodeURL("st", opts...))
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Allow access?") {
			t.Fatalf("expected the consent page, got %d:\n%s", resp.StatusCode, body)
		}
		return body
	}
	if body := consent(oauth2.SetAuthURLParam("resource", mcpEndpoint)); !strings.Contains(body, `<code class="resource">`+mcpEndpoint+`</code>`) {
		t.Fatalf("the consent page does not show the resource asked for:\n%s", body)
	}
	if body := consent(); strings.Contains(body, `class="resource"`) {
		t.Fatalf("the consent page shows a resource nobody asked for:\n%s", body)
	}

	resourceToken(t, "alice", "READ", mcpEndpoint)
	resourceToken(t, "bob", "READ", "")
	_, _, list := adminCall(t, "GET", "/applinks/grants", nil)
	var id string
	for _, v := range list {
		g := v.(map[string]any)
		switch g["user_id"] {
		case "alice":
			if g["resource"] != mcpEndpoint {
				t.Fatalf("the API lists alice's grant without its resource: %v", g)
			}
			id = g["id"].(string)
		case "bob":
			if _, ok := g["resource"]; ok {
				t.Fatalf("the API lists a resource for a grant without one: %v", g)
			}
		}
	}
	if id == "" {
		t.Fatalf("the API lists no grant of alice: %v", list)
	}
	if testing.Short() {
		return
	}
	if out, err := cli(t, "grants", "show", id); err != nil || !fieldIs(out, "Resource", mcpEndpoint) {
		t.Fatalf("grants show: %v\n%s", err, out)
	}
	if out, err := cli(t, "grants", "--user", "alice"); err != nil || !strings.Contains(out, "RESOURCE") || !strings.Contains(out, mcpEndpoint) {
		t.Fatalf("grants: %v\n%s", err, out)
	}
}
