package integration

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	client "github.com/dghubble/oauth1"

	"github.com/applinks/caddy-applinks/internal/browsertest"
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
	jira, other := spConsumerKeys(t)
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
	twoLegged := cfg.Client(context.Background(), client.NewToken("", ""))
	if status, _, problem := spCall(t, twoLegged, http.MethodGet, "/api/me", ""); status != http.StatusOK {
		t.Fatalf("two-legged through the consumer the CLI created: %d %s", status, problem)
	}

	// `edit` changes only the consumer settings it is given, felt at the
	// next signed request; OAuth 2.0 flags are refused for a consumer.
	out, err = cli(t, "edit", "bitbucket", "--two-legged=false", "--callback", "https://bitbucket.example/cb")
	if err != nil || !strings.Contains(out, "https://bitbucket.example/cb") || !strings.Contains(out, "RSA 2048 bits") || !strings.Contains(out, "WRITE") {
		t.Fatalf("edit --two-legged=false --callback: %v\n%q", err, out)
	}
	if status, _, problem := spCall(t, twoLegged, http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != "permission_denied" {
		t.Fatalf("two-legged after edit --two-legged=false: %d %s, want 401 permission_denied", status, problem)
	}
	otherFile := spWritePublicKey(t, t.TempDir(), "other.pem", other)
	if out, err = cli(t, "edit", "bitbucket", "--public-key", otherFile, "--two-legged", "--execute-as", "wendy"); err != nil {
		t.Fatalf("edit --public-key: %v\n%s", err, out)
	}
	if status, _, problem := spCall(t, twoLegged, http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != "signature_invalid" {
		t.Fatalf("the old key after edit --public-key: %d %s, want 401 signature_invalid", status, problem)
	}
	renewed := spRSAConsumer("bitbucket-key", other, spCallback).Client(context.Background(), client.NewToken("", ""))
	if status, _, problem := spCall(t, renewed, http.MethodGet, "/api/me", ""); status != http.StatusOK {
		t.Fatalf("the new key after edit --public-key: %d %s", status, problem)
	}
	if msg := cliFails(t, "edit", "bitbucket", "--require-pkce"); !strings.Contains(msg, "redirect_uris or require_pkce") {
		t.Fatalf("--require-pkce for a consumer: %s", msg)
	}
	if msg := cliFails(t, "edit", "bitbucket", "--public-key", filepath.Join(t.TempDir(), "missing.pem")); !strings.Contains(msg, "reading the consumer's public key") {
		t.Fatalf("edit --public-key with a missing file: %s", msg)
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

// newConsumerPage is the admin UI's page that creates an OAuth 1.0a
// consumer.
const newConsumerPage = "/applinks/admin/new/incoming?authentication=oauth1"

// createConsumerInUI posts the create form of an OAuth 1.0a consumer as
// the browser c and returns the status and page.
func createConsumerInUI(t *testing.T, c *http.Client, form url.Values) (int, string) {
	t.Helper()
	form.Set("authentication", "oauth1")
	form.Set("action", "save")
	status, _, page := adminPost(t, c, newConsumerPage, "/applinks/admin/new/incoming", form)
	return status, page
}

// incomingCount is how many incoming links the gateway has.
func incomingCount(t *testing.T, g *gateway) int {
	t.Helper()
	all, err := g.app().Links().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// TestIncomingOAuth1AdminUICreatesConsumers: the create page offers OAuth
// 2.0 and OAuth 1.0 as the incoming authentication; an administrator
// creates a consumer with the bare base64 public key Atlassian products
// show and one without a key, whose generated shared secret is shown on
// the page; a real OAuth 1.0a client then completes the three-legged
// flow with each, and the HMAC consumer's two-legged requests act as the
// user the form named.
func TestIncomingOAuth1AdminUICreatesConsumers(t *testing.T) {
	g, rc := spGateway(t)
	jira, _ := spConsumerKeys(t)
	sam := browser(t)
	signIn(t, sam, "sam", password).Body.Close()
	_, chooser := adminPage(t, sam, "/applinks/admin/new")
	if !strings.Contains(chooser, `href="/applinks/admin/new/incoming"`) || !strings.Contains(chooser, `href="/applinks/admin/new/incoming?authentication=oauth1"`) {
		t.Fatalf("the chooser does not offer both kinds of incoming authentication:\n%s", chooser)
	}
	status, page := adminPage(t, sam, newConsumerPage)
	if status != http.StatusOK || !strings.Contains(page, `name="public_key"`) || strings.Contains(page, `name="redirect_uris"`) ||
		!strings.Contains(page, `<a href="/applinks/admin/new/incoming?authentication=oauth1" aria-current="page">`) {
		t.Fatalf("the OAuth 1.0 create page: %d\n%s", status, page)
	}
	if _, page := adminPage(t, sam, "/applinks/admin/new/incoming"); !strings.Contains(page, `name="redirect_uris"`) || !strings.Contains(page, `<a href="/applinks/admin/new/incoming" aria-current="page">`) {
		t.Fatalf("the OAuth 2.0 create page is no longer the default:\n%s", page)
	}

	der, _ := x509.MarshalPKIXPublicKey(&jira.PublicKey)
	status, page = createConsumerInUI(t, sam, url.Values{"name": {"confluence"}, "consumer_key": {"confluence-ui"}, "public_key": {base64.StdEncoding.EncodeToString(der)}, "scope": {"WRITE"}})
	if status != http.StatusOK || copied(t, page, "consumer_key") != "confluence-ui" || strings.Contains(page, `data-name="shared_secret"`) || copied(t, page, "access_token_url") != spEndpoint.AccessTokenURL {
		t.Fatalf("creating an RSA consumer: %d\n%s", status, page)
	}
	if l := incomingNamed(t, g, "confluence"); !l.IsOAuth1() || l.Source != links.SourceRuntime || l.Ceiling.String() != "WRITE" || l.CreatedBy != "sam" {
		t.Fatalf("the RSA consumer created: %+v", l)
	}
	c := spRSAConsumer("confluence-ui", jira, spCallback).Client(context.Background(), spThreeLegged(t, spRSAConsumer("confluence-ui", jira, spCallback), "alice"))
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/me", "a=1"); status != http.StatusOK || rc.got().User != "alice" {
		t.Fatalf("alice's POST through the consumer made in the UI: %d %s", status, problem)
	}

	status, page = createConsumerInUI(t, sam, url.Values{"name": {"scripts"}, "consumer_key": {"scripts-ui"}, "scope": {"READ"}, "two_legged": {"on"}, "execute_as": {"wendy"}})
	if status != http.StatusOK || copied(t, page, "consumer_key") != "scripts-ui" {
		t.Fatalf("creating an HMAC consumer: %d\n%s", status, page)
	}
	secret := copied(t, page, "shared_secret")
	if !strings.HasPrefix(secret, "als_") {
		t.Fatalf("the shared secret shown: %q", secret)
	}
	if _, again := adminPage(t, sam, "/applinks/admin/incoming/"+incomingNamed(t, g, "scripts").ID+"/credentials"); copied(t, again, "shared_secret") != secret {
		t.Fatal("View credentials shows another shared secret than the one shown at creation")
	}
	hcfg := spHMACConsumer("scripts-ui", secret, spCallback)
	hc := hcfg.Client(context.Background(), spThreeLegged(t, hcfg, "bob"))
	if status, _, problem := spCall(t, hc, http.MethodGet, "/api/me", ""); status != http.StatusOK || rc.got().User != "bob" {
		t.Fatalf("bob's GET through the HMAC consumer: %d %s %+v", status, problem, rc.got())
	}
	two := hcfg.Client(context.Background(), client.NewToken("", ""))
	if status, _, problem := spCall(t, two, http.MethodGet, "/api/me", ""); status != http.StatusOK || rc.got().User != "wendy" || rc.got().Scope != "READ" {
		t.Fatalf("a two-legged GET: %d %s %+v, want it to act as wendy with READ", status, problem, rc.got())
	}
	_, list := adminPage(t, sam, "/applinks/admin")
	if row := linkRowOf(list, "scripts"); !strings.Contains(row, "OAuth 1.0 · Permission: Read") || !strings.Contains(row, ">Edit</a>") {
		t.Fatalf("the list's row of the consumer made in the UI:\n%s", row)
	}
}

// TestIncomingOAuth1AdminUIRefusesBadConsumers: a bad PEM key, a callback
// that is no URL, two-legged OAuth without a user to act as and
// impersonation without two-legged OAuth each get a message on their
// field in one answer, with the values kept; a consumer key another link
// has (declared or created in the UI) is refused on its field; nothing is
// created.
func TestIncomingOAuth1AdminUIRefusesBadConsumers(t *testing.T) {
	g, _ := spGateway(t)
	sam := browser(t)
	signIn(t, sam, "sam", password).Body.Close()
	before := incomingCount(t, g)
	badPEM := "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----"
	status, page := createConsumerInUI(t, sam, url.Values{"name": {"bad"}, "consumer_key": {"bad-key"}, "public_key": {badPEM}, "callback": {"jira.example.com/cb"}, "two_legged": {"on"}, "scope": {"WRITE"}})
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("a consumer with bad settings: %d\n%s", status, page)
	}
	for field, want := range map[string]string{"public_key": "public key", "callback": "absolute http(s) URL", "execute_as": "act as"} {
		if msg := fieldError(page, field); !strings.Contains(msg, want) {
			t.Errorf("the message under %s: %q, want one about %q", field, msg, want)
		}
	}
	if fieldValue(page, "callback") != "jira.example.com/cb" || fieldValue(page, "consumer_key") != "bad-key" || !strings.Contains(page, `name="two_legged" value="on" checked`) {
		t.Errorf("the refused form lost its values:\n%s", page)
	}
	status, page = createConsumerInUI(t, sam, url.Values{"name": {"imp"}, "consumer_key": {"imp-ui"}, "impersonation": {"on"}, "scope": {"READ"}})
	if msg := fieldError(page, "impersonation"); status != http.StatusUnprocessableEntity || !strings.Contains(msg, "turn on two-legged OAuth") {
		t.Fatalf("impersonation without two-legged OAuth: %d %q", status, msg)
	}
	status, page = createConsumerInUI(t, sam, url.Values{"name": {"dup"}, "consumer_key": {spJiraKey}, "scope": {"READ"}})
	if msg := fieldError(page, "consumer_key"); status != http.StatusUnprocessableEntity || !strings.Contains(msg, "another link's") {
		t.Fatalf("a declared consumer's key: %d %q", status, msg)
	}
	if status, page := createConsumerInUI(t, sam, url.Values{"name": {"first"}, "consumer_key": {"taken-ui"}, "scope": {"READ"}}); status != http.StatusOK {
		t.Fatalf("creating a consumer: %d\n%s", status, page)
	}
	status, page = createConsumerInUI(t, sam, url.Values{"name": {"second"}, "consumer_key": {"taken-ui"}, "scope": {"READ"}})
	if msg := fieldError(page, "consumer_key"); status != http.StatusUnprocessableEntity || !strings.Contains(msg, "another link's") {
		t.Fatalf("a runtime consumer's key again: %d %q", status, msg)
	}
	status, page = createConsumerInUI(t, sam, url.Values{"name": {"jira"}, "consumer_key": {"fresh-key"}, "scope": {"READ"}})
	if msg := fieldError(page, "name"); status != http.StatusUnprocessableEntity || !strings.Contains(msg, "already exists") {
		t.Fatalf("a declared link's name: %d %q", status, msg)
	}
	if after := incomingCount(t, g); after != before+1 {
		t.Fatalf("%d incoming links after the refused forms, want %d (the one valid consumer)", after, before+1)
	}
}

// TestIncomingOAuth1AdminUIEditLowersPermission: an administrator lowers
// the permission of a consumer created in the UI and the next request the
// consumer signs with the token it already holds is limited to it; a bad
// edit is refused on its field and saves nothing; turning two-legged OAuth
// on lets unsigned-token requests act as the user named; the admin API
// changes the same settings with PATCH.
func TestIncomingOAuth1AdminUIEditLowersPermission(t *testing.T) {
	g, rc := spGateway(t)
	jira, _ := spConsumerKeys(t)
	der, _ := x509.MarshalPKIXPublicKey(&jira.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	sam := browser(t)
	signIn(t, sam, "sam", password).Body.Close()
	if status, page := createConsumerInUI(t, sam, url.Values{"name": {"bitbucket"}, "consumer_key": {"bitbucket-ui"}, "public_key": {pub}, "scope": {"WRITE"}}); status != http.StatusOK {
		t.Fatalf("creating the consumer: %d\n%s", status, page)
	}
	id := incomingNamed(t, g, "bitbucket").ID
	cfg := spRSAConsumer("bitbucket-ui", jira, spCallback)
	c := cfg.Client(context.Background(), spThreeLegged(t, cfg, "alice"))
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/me", "a=1"); status != http.StatusOK {
		t.Fatalf("alice's POST with WRITE: %d %s", status, problem)
	}

	edit := "/applinks/admin/incoming/" + id
	status, page := adminPage(t, sam, edit)
	if status != http.StatusOK || !strings.Contains(page, `name="public_key"`) || !strings.Contains(page, `value="save"`) || !strings.Contains(page, "RSA-SHA1") || strings.Contains(page, `name="redirect_uris"`) {
		t.Fatalf("the consumer's edit page: %d\n%s", status, page)
	}
	status, _, page = adminPost(t, sam, edit, edit, url.Values{"public_key": {pub}, "scope": {"WRITE"}, "two_legged": {"on"}, "action": {"save"}})
	if msg := fieldError(page, "execute_as"); status != http.StatusUnprocessableEntity || msg == "" {
		t.Fatalf("two-legged without a user: %d %q", status, msg)
	}
	if l := incomingByID(t, g, id); l.OAuth1.TwoLegged || l.Ceiling.String() != "WRITE" {
		t.Fatalf("the refused edit was saved: %+v", l.OAuth1)
	}
	status, where, page := adminPost(t, sam, edit, edit, url.Values{"public_key": {pub}, "scope": {"READ"}, "two_legged": {"on"}, "execute_as": {"wendy"}, "action": {"save"}})
	if status != http.StatusOK || where != base+"/applinks/admin" || !strings.Contains(page, "bitbucket saved.") {
		t.Fatalf("saving the consumer: %d %s\n%s", status, where, page)
	}
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/me", "a=1"); status != http.StatusForbidden || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("alice's POST once the consumer may only read: %d %s, want 403 permission_denied", status, problem)
	}
	if status, _, problem := spCall(t, c, http.MethodGet, "/api/me", ""); status != http.StatusOK || rc.got().Scope != "READ" {
		t.Fatalf("alice's GET with READ: %d %s %+v", status, problem, rc.got())
	}
	two := cfg.Client(context.Background(), client.NewToken("", ""))
	if status, _, problem := spCall(t, two, http.MethodGet, "/api/me", ""); status != http.StatusOK || rc.got().User != "wendy" {
		t.Fatalf("a two-legged GET once turned on: %d %s %+v", status, problem, rc.got())
	}

	if status, m, _ := adminCall(t, http.MethodPatch, "/applinks/links/bitbucket", map[string]any{"oauth1": map[string]any{"two_legged": false}}); status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error"]), "execute as") {
		t.Fatalf("PATCH two_legged off, leaving its user: %d %v", status, m)
	}
	status, m, _ := adminCall(t, http.MethodPatch, "/applinks/links/bitbucket", map[string]any{"scope": "WRITE", "oauth1": map[string]any{"two_legged": false, "execute_as": "", "callback": spCallback}})
	if o, _ := m["oauth1"].(map[string]any); status != http.StatusOK || m["scope"] != "WRITE" || o["two_legged"] != nil || o["callback"] != spCallback || o["public_key"] != strings.TrimSpace(pub) {
		t.Fatalf("PATCH of the consumer's settings: %d %v", status, m)
	}
	if status, _, problem := spCall(t, two, http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("a two-legged GET once turned off: %d %s, want 401 permission_denied", status, problem)
	}
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/me", "a=1"); status != http.StatusOK {
		t.Fatalf("alice's POST once WRITE again: %d %s", status, problem)
	}
	if status, m, _ := adminCall(t, http.MethodPatch, "/applinks/links/bitbucket", map[string]any{"oauth1": map[string]any{"public_key": "not a key"}}); status != http.StatusBadRequest {
		t.Fatalf("PATCH a bad public key: %d %v", status, m)
	}
	if status, m, _ := adminCall(t, http.MethodPost, "/applinks/links", map[string]any{"name": "web", "scope": "READ", "redirect_uris": []string{"https://web.example/cb"}}); status != http.StatusCreated {
		t.Fatalf("creating an OAuth 2.0 link: %d %v", status, m)
	}
	if status, m, _ := adminCall(t, http.MethodPatch, "/applinks/links/web", map[string]any{"oauth1": map[string]any{"callback": spCallback}}); status != http.StatusBadRequest {
		t.Fatalf("PATCH oauth1 settings of an OAuth 2.0 link: %d %v", status, m)
	}
}

// TestIncomingOAuth1AdminUIDeclaredConsumerIsReadOnly: the administration
// pages list a consumer declared in the Caddyfile as an OAuth 1.0 link,
// show its settings as text without a form to save (a forced post is
// refused and changes nothing), and show its consumer key, shared secret
// and endpoints under credentials.
func TestIncomingOAuth1AdminUIDeclaredConsumerIsReadOnly(t *testing.T) {
	g, _ := spGateway(t)
	c := browser(t)
	signIn(t, c, "sam", password).Body.Close()
	status, page := adminPage(t, c, "/applinks/admin")
	if row := linkRowOf(page, "legacy"); status != http.StatusOK || !strings.Contains(row, "OAuth 1.0 · Permission: Write") || !strings.Contains(row, ">View</a>") {
		t.Fatalf("links page: %d\n%s", status, page)
	}
	id := links.ConfigID("legacy")
	status, page = adminPage(t, c, "/applinks/admin/incoming/"+id)
	if status != http.StatusOK || fieldValue(page, "consumer_key") != spLegacyKey || !strings.Contains(page, "HMAC-SHA1") || strings.Contains(page, `name="redirect_uris"`) ||
		strings.Contains(page, `name="scope"`) || strings.Contains(page, `name="callback"`) || strings.Contains(page, `value="save"`) || !strings.Contains(page, "declared in the Caddyfile") {
		t.Fatalf("declared consumer's page: %d\n%s", status, page)
	}
	status, page = adminPage(t, c, "/applinks/admin/incoming/"+id+"/credentials")
	if status != http.StatusOK || copied(t, page, "shared_secret") != spLegacySecret || copied(t, page, "request_token_url") != base+"/plugins/servlet/oauth/request-token" {
		t.Fatalf("credentials page: %d\n%s", status, page)
	}
	if status, _, _ := adminPost(t, c, "/applinks/admin/incoming/"+id, "/applinks/admin/incoming/"+id, url.Values{"scope": {"ADMIN"}, "two_legged": {"on"}, "execute_as": {"sam"}, "action": {"save"}}); status != http.StatusConflict {
		t.Fatalf("a post to a declared consumer's page: %d, want 409", status)
	}
	if l, err := g.app().Links().Get(context.Background(), id); err != nil || l.Ceiling.String() != "WRITE" || l.OAuth1.TwoLegged || l.OAuth1.ExecuteAs != "" {
		t.Fatalf("the consumer after the refused post: %+v %v", l.OAuth1, err)
	}
}

// TestIncomingOAuth1AdminUIInBrowser: in a real headless Chromium, an
// administrator goes from Create link to the OAuth 1.0 tab, pastes a PEM
// public key, turns two-legged OAuth on with a bad callback and no user
// (both marked on their fields), corrects them and gets the consumer's
// credentials; what the browser submitted (checkbox and all) works: the
// consumer's two-legged requests act as the user typed.
func TestIncomingOAuth1AdminUIInBrowser(t *testing.T) {
	_, rc := spGateway(t)
	jira, _ := spConsumerKeys(t)
	der, _ := x509.MarshalPKIXPublicKey(&jira.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	dir := screenshotDir(t)
	ctx := browsertest.New(t)
	run := func(actions ...chromedp.Action[chromedp.Void]) { t.Helper(); browsertest.Run(t, ctx, actions...) }

	run(chromedp.Navigate(base+"/applinks/admin/new"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "sam"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/applinks/admin/new/incoming?authentication=oauth1"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/applinks/admin/new/incoming?authentication=oauth1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-public_key")))
	if got := browsertest.Text(t, ctx, `nav[aria-label="Incoming authentication"] a[aria-current="page"]`); got != "OAuth 1.0 (as Atlassian products)" {
		t.Fatalf("the current tab: %q", got)
	}
	run(chromedp.SendKeys(chromedp.CSS("#f-name"), "Confluence"),
		chromedp.SendKeys(chromedp.CSS("#f-consumer_key"), "confluence-browser"),
		chromedp.SendKeys(chromedp.CSS("#f-public_key"), pub),
		chromedp.SendKeys(chromedp.CSS("#f-callback"), "confluence.example.com/plugins/servlet/applinks/oauth/login.dance/access"),
		chromedp.Click(chromedp.CSS("#f-two_legged")),
		chromedp.SetValue(chromedp.CSS("#f-scope"), "WRITE"),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS("#e-execute_as")))
	if got := browsertest.Text(t, ctx, "#e-callback"); !strings.Contains(got, "absolute http(s) URL") {
		t.Fatalf("the callback's message: %q", got)
	}
	browsertest.Screenshot(t, ctx, filepath.Join(dir, "create-consumer-error.png"))
	run(chromedp.SetValue(chromedp.CSS("#f-callback"), "https://confluence.example.com/plugins/servlet/applinks/oauth/login.dance/access"),
		chromedp.SendKeys(chromedp.CSS("#f-execute_as"), "wendy"),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`code[data-name="request_token_url"]`)))
	if got := browsertest.Text(t, ctx, `code[data-name="consumer_key"]`); got != "confluence-browser" {
		t.Fatalf("the consumer key shown: %q", got)
	}
	two := spRSAConsumer("confluence-browser", jira, "").Client(context.Background(), client.NewToken("", ""))
	if status, _, problem := spCall(t, two, http.MethodPost, "/api/pages", "a=1"); status != http.StatusOK || rc.got().User != "wendy" || rc.got().Scope != "WRITE" {
		t.Fatalf("a two-legged POST of the consumer made in the browser: %d %s %+v", status, problem, rc.got())
	}
}
