package integration

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

	client "github.com/dghubble/oauth1"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
)

// TestIncomingOAuth1AdminAPI: an administrator creates OAuth 1.0a
// consumers through the admin API, one with its RSA public key and one
// with a generated shared secret shown once (and again under
// credentials); both complete the three-legged flow; the list and show
// say they link with OAuth 1.0a; their permission can change but OAuth
// 2.0 settings cannot be given to them; an RSA consumer has no secret to
// rotate; deleting one ends its tokens.
func TestIncomingOAuth1AdminAPI(t *testing.T) {
	spGateway(t)
	jira, _ := spConsumerKeys(t)
	der, _ := x509.MarshalPKIXPublicKey(&jira.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	status, created, _ := adminCall(t, http.MethodPost, "/applinks/links", map[string]any{
		"name": "confluence", "scope": "WRITE",
		"oauth1": map[string]any{"consumer_key": "confluence-key", "public_key": pub, "two_legged": true, "execute_as": "wendy"},
	})
	o, _ := created["oauth1"].(map[string]any)
	if status != http.StatusCreated || created["authentication"] != "oauth1" || created["client_id"] != "confluence-key" || o["signature_method"] != "RSA-SHA1" || o["execute_as"] != "wendy" || o["shared_secret"] != nil {
		t.Fatalf("create an RSA consumer: %d %v", status, created)
	}
	id := created["id"].(string)
	cfg := spRSAConsumer("confluence-key", jira, spCallback)
	c := cfg.Client(context.Background(), spThreeLegged(t, cfg, "alice"))
	if status, _, problem := spCall(t, c, http.MethodGet, "/api/me", ""); status != http.StatusOK {
		t.Fatalf("the runtime consumer's token: %d %s", status, problem)
	}

	status, created, _ = adminCall(t, http.MethodPost, "/applinks/links", map[string]any{"name": "scripts", "scope": "READ", "oauth1": map[string]any{"consumer_key": "scripts-key"}})
	o, _ = created["oauth1"].(map[string]any)
	secret, _ := o["shared_secret"].(string)
	if status != http.StatusCreated || o["signature_method"] != "HMAC-SHA1" || !strings.HasPrefix(secret, "als_") {
		t.Fatalf("create an HMAC consumer: %d %v", status, created)
	}
	hid := created["id"].(string)
	if _, cred, _ := adminCall(t, http.MethodGet, "/applinks/links/scripts/credentials", nil); cred["shared_secret"] != secret || cred["consumer_key"] != "scripts-key" {
		t.Fatalf("credentials of the HMAC consumer: %v", cred)
	}
	hcfg := spHMACConsumer("scripts-key", secret, spCallback)
	hc := hcfg.Client(context.Background(), spThreeLegged(t, hcfg, "bob"))
	if status, _, problem := spCall(t, hc, http.MethodGet, "/api/me", ""); status != http.StatusOK {
		t.Fatalf("the HMAC consumer's token: %d %s", status, problem)
	}
	if status, _, problem := spCall(t, hc, http.MethodPost, "/api/me", "a=1"); status != http.StatusForbidden || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("a POST through a READ consumer: %d %s", status, problem)
	}

	_, _, list := adminCall(t, http.MethodGet, "/applinks/links", nil)
	kinds := map[string]string{}
	for _, v := range list {
		m := v.(map[string]any)
		kinds[m["name"].(string)] = m["authentication"].(string)
	}
	if kinds["confluence"] != "oauth1" || kinds["jira"] != "oauth1" || kinds["app"] != "oauth2" {
		t.Fatalf("list: %v", kinds)
	}
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/me", "a=1"); status != http.StatusOK {
		t.Fatalf("alice's POST through the WRITE consumer: %d %s", status, problem)
	}
	if status, m, _ := adminCall(t, http.MethodPatch, "/applinks/links/confluence", map[string]any{"scope": "READ"}); status != http.StatusOK || m["scope"] != "READ" {
		t.Fatalf("lower the RSA consumer's permission: %d %v", status, m)
	}
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/me", "a=1"); status != http.StatusForbidden || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("alice's POST once the consumer may only read: %d %s, want 403 permission_denied", status, problem)
	}
	if status, m, _ := adminCall(t, http.MethodPatch, "/applinks/links/scripts", map[string]any{"redirect_uris": []string{"https://a.example/cb"}}); status != http.StatusBadRequest {
		t.Fatalf("a redirect URI for a consumer: %d %v", status, m)
	}
	if status, m, _ := adminCall(t, http.MethodPost, "/applinks/links", map[string]any{"name": "x", "scope": "READ", "redirect_uris": []string{"https://a.example/cb"}, "oauth1": map[string]any{"consumer_key": "x"}}); status != http.StatusBadRequest {
		t.Fatalf("a consumer created with a redirect URI: %d %v", status, m)
	}
	if status, m, _ := adminCall(t, http.MethodPost, "/applinks/links", map[string]any{"name": "dup", "scope": "READ", "oauth1": map[string]any{"consumer_key": spJiraKey}}); status != http.StatusConflict {
		t.Fatalf("a consumer with a declared link's key: %d %v", status, m)
	}
	if status, _, _ := adminCall(t, http.MethodPost, "/applinks/links/confluence/rotate-secret", nil); status != http.StatusConflict {
		t.Fatalf("rotate the secret of an RSA consumer: %d", status)
	}

	if status, _, _ := adminCall(t, http.MethodDelete, "/applinks/links/"+id, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, _, problem := spCall(t, c, http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemConsumerKeyUnknown {
		t.Fatalf("a deleted consumer's token: %d %s", status, problem)
	}
	if status, _, _ := adminCall(t, http.MethodGet, "/applinks/links/"+hid, nil); status != http.StatusOK {
		t.Fatalf("the other consumer is gone too: %d", status)
	}
}

// TestIncomingOAuth1CLI: `caddy applinks create --oauth1` makes a
// consumer from a PEM file, `show` names it an OAuth 1.0a consumer with
// its key's fingerprint, and a consumer without a key gets a shared
// secret printed once.
func TestIncomingOAuth1CLI(t *testing.T) {
	spGateway(t)
	jira, _ := spConsumerKeys(t)
	pemFile := spWritePublicKey(t, t.TempDir(), "bitbucket.pem", jira)
	out, err := cli(t, "create", "--name", "bitbucket", "--oauth1", "bitbucket-key", "--public-key", pemFile, "--scope", "write", "--execute-as", "wendy")
	if err != nil {
		t.Fatalf("create --oauth1: %v\n%s", err, out)
	}
	for _, want := range []string{"Consumer key:", "bitbucket-key", "RSA-SHA1", "RSA 2048 bits", "as wendy", "WRITE"} {
		if !strings.Contains(out, want) {
			t.Errorf("create --oauth1 printed no %q:\n%s", want, out)
		}
	}
	var shown linkViewJSON
	cliJSON(t, &shown, "show", "bitbucket")
	if shown.Authentication != "oauth1" || shown.OAuth1.ConsumerKey != "bitbucket-key" || !strings.Contains(shown.OAuth1.PublicKey, "BEGIN PUBLIC KEY") {
		t.Fatalf("show --json: %+v", shown)
	}
	out, err = cli(t, "create", "--name", "cron", "--oauth1", "cron-key")
	if err != nil || !strings.Contains(out, "Shared secret:") || !strings.Contains(out, "als_") {
		t.Fatalf("create --oauth1 without a key: %v\n%s", err, out)
	}
	if msg := cliFails(t, "create", "--name", "bad", "--oauth1", "bad-key", "--redirect-uri", "https://a.example/cb"); !strings.Contains(msg, "OAuth 2.0 links") {
		t.Fatalf("--redirect-uri with --oauth1: %s", msg)
	}
	cfg := spRSAConsumer("bitbucket-key", jira, spCallback)
	if status, _, problem := spCall(t, cfg.Client(context.Background(), client.NewToken("", "")), http.MethodGet, "/api/me", ""); status != http.StatusOK {
		t.Fatalf("two-legged through the consumer the CLI created: %d %s", status, problem)
	}
}

// linkViewJSON is the part of the admin API's link the CLI test reads.
type linkViewJSON struct {
	Authentication string `json:"authentication"`
	OAuth1         struct {
		ConsumerKey string `json:"consumer_key"`
		PublicKey   string `json:"public_key"`
	} `json:"oauth1"`
}

// TestIncomingOAuth1AdminUIShowsConsumersReadOnly: the administration
// pages list an OAuth 1.0a consumer as such, show it without a form that
// would save OAuth 2.0 settings into it (a post is refused), and show
// its consumer key, shared secret and endpoints under credentials.
func TestIncomingOAuth1AdminUIShowsConsumersReadOnly(t *testing.T) {
	g, _ := spGateway(t)
	c := browser(t)
	signIn(t, c, "sam", password).Body.Close()
	status, page := adminPage(t, c, "/applinks/admin")
	if status != http.StatusOK || !strings.Contains(page, "OAuth 1.0 · Permission: Write") {
		t.Fatalf("links page: %d\n%s", status, page)
	}
	id := links.ConfigID("legacy")
	status, page = adminPage(t, c, "/applinks/admin/incoming/"+id)
	if status != http.StatusOK || !strings.Contains(page, "Consumer key") || !strings.Contains(page, "HMAC-SHA1") || strings.Contains(page, `name="redirect_uris"`) {
		t.Fatalf("consumer page: %d\n%s", status, page)
	}
	status, page = adminPage(t, c, "/applinks/admin/incoming/"+id+"/credentials")
	if status != http.StatusOK || copied(t, page, "shared_secret") != spLegacySecret || copied(t, page, "request_token_url") != base+"/plugins/servlet/oauth/request-token" {
		t.Fatalf("credentials page: %d\n%s", status, page)
	}
	if status, _, _ := adminPost(t, c, "/applinks/admin/incoming/"+id, "/applinks/admin/incoming/"+id, url.Values{"scope": {"ADMIN"}, "redirect_uris": {"https://a.example/cb"}}); status != http.StatusConflict && status != http.StatusForbidden {
		t.Fatalf("a post to a declared consumer's page: %d, want it refused", status)
	}
	if l, err := g.app().Links().Get(context.Background(), id); err != nil || l.Ceiling.String() != "WRITE" || len(l.RedirectURIs) != 0 {
		t.Fatalf("the consumer after the refused post: %+v %v", l, err)
	}
}
