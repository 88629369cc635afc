package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLeakedSecretStopsWorkingWhenRotatedWithoutOverlap: a client secret
// that leaked keeps authenticating its holder no longer than the admin
// wants: rotating with overlap 0 (admin API, UI) revokes it at once, a
// negative overlap is refused, and no overlap given keeps the default.
func TestLeakedSecretStopsWorkingWhenRotatedWithoutOverlap(t *testing.T) {
	startGateway(t, gatewayOptions{})
	const cb = "http://127.0.0.1:9481/leak"
	status, created, _ := adminCall(t, "POST", "/applinks/links", map[string]any{"name": "leaky", "redirect_uris": []string{cb}, "scope": "READ"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, created)
	}
	id, cid, leaked := created["id"].(string), created["client_id"].(string), created["client_secret"].(string)
	authenticates := func(sec string) bool {
		t.Helper()
		status, _ := introspectAs(t, "ala_unknown", cid, sec)
		return status == http.StatusOK
	}

	// No overlap given: the default keeps the old secret working.
	status, m, _ := adminCall(t, "POST", "/applinks/links/"+id+"/rotate-secret", nil)
	kept := m["client_secret"].(string)
	if status != http.StatusOK || !authenticates(leaked) || !authenticates(kept) {
		t.Fatalf("default rotation: %d %v; old works=%v", status, m, authenticates(leaked))
	}
	if status, m, _ := adminCall(t, "POST", "/applinks/links/"+id+"/rotate-secret", map[string]any{"overlap": "-1h"}); status != http.StatusBadRequest {
		t.Fatalf("negative overlap: %d %v", status, m)
	}

	// Overlap 0 through the API: every previous secret is dead at once.
	status, m, _ = adminCall(t, "POST", "/applinks/links/"+id+"/rotate-secret", map[string]any{"overlap": "0"})
	fresh, _ := m["client_secret"].(string)
	if status != http.StatusOK || fresh == "" {
		t.Fatalf("rotation with overlap 0: %d %v", status, m)
	}
	for name, sec := range map[string]string{"leaked": leaked, "overlapping": kept} {
		if authenticates(sec) {
			t.Errorf("the %s secret still authenticates after a rotation with overlap 0", name)
		}
	}
	if !authenticates(fresh) {
		t.Fatal("the new secret does not authenticate")
	}

	// The UI offers the same, and says the old secret is gone.
	sam := browser(t)
	signIn(t, sam, "sam", password)
	rotate := "/applinks/admin/incoming/" + id + "/rotate"
	if _, confirm := adminPage(t, sam, rotate); !strings.Contains(confirm, `value="revoke"`) {
		t.Fatalf("the rotation page offers no rotation that revokes the old secret:\n%s", confirm)
	}
	status, _, page := adminPost(t, sam, rotate, rotate, url.Values{"action": {"revoke"}})
	if status != http.StatusOK || !strings.Contains(page, "previous secret no longer works") {
		t.Fatalf("UI rotation with overlap 0: %d\n%s", status, page)
	}
	newest := copied(t, page, "client_secret")
	if authenticates(fresh) || !authenticates(newest) {
		t.Fatalf("after the UI rotation: old works=%v, new works=%v", authenticates(fresh), authenticates(newest))
	}
	status, _, final := adminPost(t, sam, rotate, rotate, url.Values{"overlap": {"-5m"}, "action": {"keep"}})
	if status != http.StatusOK || !strings.Contains(final, "must be a duration") || !authenticates(newest) {
		t.Fatalf("UI rotation with a negative overlap: %d; current works=%v\n%s", status, authenticates(newest), final)
	}
}
