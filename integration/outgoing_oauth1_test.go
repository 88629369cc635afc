package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/fakejira"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
)

// jiraGateway starts the gateway with two OAuth 1.0a links to the fake
// Jira: jira (per user) on /rest/*, and jira-team (shared) on
// /team/rest/* with the /team prefix stripped, so what is signed is the
// path as rewritten. reverse_proxy sends the product's host, as Jira
// without a proxy configuration judges signatures by the Host header.
func jiraGateway(t *testing.T, jira *fakejira.Server, dir, globalOption string) *gateway {
	t.Helper()
	site := fmt.Sprintf(`applinks
	handle /rest/* {
		require_token {
			session
		}
		outgoing_token jira
		reverse_proxy %[1]s {
			header_up Host {upstream_hostport}
		}
	}
	handle_path /team/* {
		require_token
		outgoing_token jira-team
		reverse_proxy %[1]s {
			header_up Host {upstream_hostport}
		}
	}`, jira.URL)
	return startGateway(t, gatewayOptions{dir: dir, globalOption: globalOption, site: site, extraGlobal: sysLinkConfig + fmt.Sprintf(`
		outgoing jira {
			oauth1 %[1]s
		}
		outgoing jira-team {
			oauth1 %[1]s/
			mode shared
		}`, jira.URL)})
}

// jiraCall sends a request to the gateway and returns the answer and, for
// a 200, what the fake Jira's REST resource received.
func jiraCall(t *testing.T, method, path string, hdr map[string]string, contentType, body string) (*http.Response, fakejira.Request, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text := readBody(t, resp)
	var seen fakejira.Request
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(text), &seen); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, text, err)
		}
	}
	return resp, seen, text
}

// consumerInfo fetches the gateway's consumer-info and checks it is
// Atlassian's XML.
func consumerInfo(t *testing.T) (key, publicKey string) {
	t.Helper()
	resp, err := http.Get(base + outgoing.ConsumerInfoPath)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") || !strings.HasPrefix(body, "<?xml") {
		t.Fatalf("consumer-info: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	info, err := outgoing.ParseConsumerInfo([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.Key, "applinks:") || info.Name != "127.0.0.1:9480" || !strings.Contains(info.Description, base) || strings.Contains(info.PublicKey, "BEGIN") || info.Callback != "" {
		t.Fatalf("consumer-info: %+v", info)
	}
	if strings.Contains(body, "PRIVATE") {
		t.Fatal("consumer-info shows a private key")
	}
	return info.Key, info.PublicKey
}

// TestOAuth1OutgoingLinks: the fake Jira's administrator creates the
// incoming authentication from the gateway's consumer-info; alice
// connects her Jira account through the three-legged dance and her API
// calls (a GET with a repeated query name, a form POST) reach Jira signed
// as hers, which Jira's verifier accepts; bob, not connected, is told
// where to connect; an administrator connects the shared link, whose
// token every user's requests then use, on a path the route rewrote.
// When alice revokes the gateway's access in Jira, Jira's 401
// token_rejected makes her connection UNRECOVERABLE and she is asked to
// connect again; once she has, her calls work again.
func TestOAuth1OutgoingLinks(t *testing.T) {
	jira := fakejira.New(t)
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	g := jiraGateway(t, jira, dir, "log {\n\t\toutput file "+logFile+"\n\t\tlevel DEBUG\n\t}")

	key, publicKey := consumerInfo(t)
	if got, err := jira.TrustConsumerInfo(base + outgoing.ConsumerInfoPath); err != nil || got != key {
		t.Fatalf("the product's wizard reading consumer-info: %q %v", got, err)
	}
	if again, _ := consumerInfo(t); again != key {
		t.Fatalf("the consumer key changed from %s to %s", key, again)
	}

	gwAlice, gwBob := mint(t, g, "alice", scope.Write), mint(t, g, "bob", scope.Read)
	resp, _, body := jiraCall(t, "GET", "/rest/api/2/myself", bearer(gwAlice.AccessToken), "", "")
	outAuthorizationRequired(t, resp, body, "jira", "/rest/api/2/myself")

	jira.Approve("alice-in-jira", false)
	alice := outBrowser(t)
	outConnected(t, alice, "jira", "alice", "/done")
	if s := outStatus(t, g, "jira", "alice"); s != outgoing.StatusValid {
		t.Fatalf("alice's status after connecting: %q", s)
	}

	const query = "jql=project%20%3D%20ABC%20AND%20text~%22a%2Bb%22&fields=summary&fields=status&expand="
	resp, seen, body := jiraCall(t, "GET", "/rest/api/2/search?"+query, bearer(gwAlice.AccessToken), "", "")
	if resp.StatusCode != http.StatusOK || seen.User != "alice-in-jira" || seen.Consumer != key || seen.RawQuery != query || seen.Path != "/rest/api/2/search" {
		t.Fatalf("alice's signed GET: %d %s %+v", resp.StatusCode, body, seen)
	}
	accessToken := seen.Token
	const form = "body=Looks+good+%E2%9C%93&visibility=role&visibility=group&empty="
	resp, seen, body = jiraCall(t, "POST", "/rest/api/2/issue/ABC-1/comment?notify=true", bearer(gwAlice.AccessToken), "application/x-www-form-urlencoded", form)
	if resp.StatusCode != http.StatusOK || seen.Method != "POST" || seen.Form.Get("body") != "Looks good ✓" || len(seen.Form["visibility"]) != 2 || seen.RawQuery != "notify=true" {
		t.Fatalf("alice's signed form POST: %d %s %+v", resp.StatusCode, body, seen)
	}
	// The session of alice's browser works too (require_token session).
	req, _ := http.NewRequest("GET", base+"/rest/api/2/myself", nil)
	if resp, err := alice.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("alice's browser: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, _, body = jiraCall(t, "GET", "/rest/api/2/myself", bearer(gwBob.AccessToken), "", "")
	outAuthorizationRequired(t, resp, body, "jira", "/rest/api/2/myself")

	// The shared link: bob may not connect it; alice (ADMIN) does, as
	// Jira's jira-admin.
	if resp, body := outConnect(t, outBrowser(t), "jira-team", "bob", "/done"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Administrators only") {
		t.Fatalf("bob connecting the shared link: %d %s", resp.StatusCode, body)
	}
	jira.Approve("jira-admin", false)
	outConnected(t, outBrowser(t), "jira-team", "alice", "/done")
	for _, gw := range []string{gwBob.AccessToken, gwAlice.AccessToken} {
		resp, seen, body := jiraCall(t, "GET", "/team/rest/api/2/project?a=1&a=2", bearer(gw), "", "")
		if resp.StatusCode != http.StatusOK || seen.User != "jira-admin" || seen.Path != "/rest/api/2/project" || seen.RawQuery != "a=1&a=2" {
			t.Fatalf("a call through the shared link: %d %s %+v", resp.StatusCode, body, seen)
		}
	}

	// alice revokes the gateway in Jira: asked to connect again.
	jira.Revoke("alice-in-jira")
	resp, _, body = jiraCall(t, "GET", "/rest/api/2/myself", bearer(gwAlice.AccessToken), "", "")
	outAuthorizationRequired(t, resp, body, "jira", "/rest/api/2/myself")
	if strings.Contains(resp.Header.Get("WWW-Authenticate"), "oauth_problem") {
		t.Errorf("Jira's challenge reached the client: %q", resp.Header.Get("WWW-Authenticate"))
	}
	if s := outStatus(t, g, "jira", "alice"); s != outgoing.StatusUnrecoverable {
		t.Fatalf("alice's status after Jira refused her token: %q", s)
	}
	refused := jira.Refused(oauth1.ProblemTokenRejected)
	req, _ = http.NewRequest("GET", base+"/rest/api/2/myself", nil)
	req.Header.Set("Accept", "text/html")
	browserResp, err := outBrowser(t).Do(withBearer(req, gwAlice.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	browserResp.Body.Close()
	if loc := browserResp.Request.URL; !strings.HasPrefix(loc.Path, "/applinks/") {
		t.Errorf("a browser of alice's, UNRECOVERABLE, was sent to %s, want to connect", loc)
	}
	if jira.Refused(oauth1.ProblemTokenRejected) != refused {
		t.Error("the gateway sent Jira a request signed with the refused token")
	}
	if s := outStatus(t, g, "jira-team", ""); s != outgoing.StatusValid {
		t.Errorf("the shared connection is %q after alice's was refused", s)
	}
	jira.Approve("alice-in-jira", false)
	outConnected(t, alice, "jira", "alice", "/done")
	if resp, seen, body := jiraCall(t, "GET", "/rest/api/2/myself", bearer(gwAlice.AccessToken), "", ""); resp.StatusCode != http.StatusOK || seen.Token == accessToken {
		t.Fatalf("after connecting again: %d %s %+v", resp.StatusCode, body, seen)
	}

	// Neither the access tokens nor the consumer's private key reach the
	// disk or the log in clear: the private key's DER holds the modulus,
	// which nothing stores unsealed.
	modulus := modulusOf(t, publicKey)
	g.unload()
	files := 0
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, modulus) || bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds the consumer's private key in clear", filepath.Base(path))
		}
		for _, r := range jira.Requests() {
			if bytes.Contains(b, []byte(r.Token)) {
				t.Errorf("%s holds an access token in clear", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walking the data dir: %v (%d files)", err, files)
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "outgoing token refused by the remote product") {
		t.Error("the audit log does not say Jira refused alice's token")
	}
	for _, r := range jira.Requests() {
		if strings.Contains(string(logs), r.Token) {
			t.Error("the log holds an access token")
		}
	}
	if strings.Contains(string(logs), "PRIVATE KEY") || strings.Contains(string(logs), "oauth_signature=") {
		t.Error("the log holds a private key or a signature")
	}
}

// withBearer sets a bearer token on req.
func withBearer(req *http.Request, tok string) *http.Request {
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}

// modulusOf returns the modulus of the RSA public key in base64 DER, as
// big-endian bytes.
func modulusOf(t *testing.T, publicKey string) []byte {
	t.Helper()
	pub, err := oauth1.ParsePublicKey([]byte(publicKey))
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).Set(pub.N).Bytes()
}

// TestOAuth1ConsumerUnknownToJira: connecting a link whose product has no
// incoming authentication for the gateway shows what to do, and stores
// nothing.
func TestOAuth1ConsumerUnknownToJira(t *testing.T) {
	jira := fakejira.New(t)
	g := jiraGateway(t, jira, "", "")
	resp, body := outConnect(t, outBrowser(t), "jira", "alice", "/done")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "does not know this gateway&#39;s consumer key") {
		t.Fatalf("connecting with an unknown consumer: %d %s", resp.StatusCode, body)
	}
	if s := outStatus(t, g, "jira", "alice"); s != "" {
		t.Fatalf("status: %q", s)
	}
	if jira.Refused(oauth1.ProblemConsumerKeyUnknown) != 1 {
		t.Fatalf("Jira refused %d request-token requests as consumer_key_unknown, want 1", jira.Refused(oauth1.ProblemConsumerKeyUnknown))
	}
}

// TestOAuth1RuntimeLinkThroughCLIAndAdminAPI: an OAuth 1.0a link created
// with `caddy applinks outgoing create --oauth1` prints the consumer key
// and public key to enter in Jira (those of `outgoing consumer` and
// consumer-info), is shown and edited like other outgoing links, refuses
// OAuth 2.0 settings, survives a restart and, once Jira trusts its
// consumer key, connects and signs; its admin UI page shows what to enter
// in Jira and the connection's status.
func TestOAuth1RuntimeLinkThroughCLIAndAdminAPI(t *testing.T) {
	jira := fakejira.New(t)
	dir := t.TempDir()
	startGateway(t, gatewayOptions{dir: dir, extraGlobal: sysLinkConfig + "\n\t\tallow_private_endpoints"})
	key, publicKey := consumerInfo(t)

	out, stderr, err := cliIO(t, "", "outgoing", "create", "--name", "jira-rt", "--oauth1", jira.URL)
	if err != nil || !fieldIs(out, "Name", "jira-rt") || !strings.Contains(out, " "+key+"  (enter it") {
		t.Fatalf("outgoing create --oauth1: %v\n%s%s", err, out, stderr)
	}
	block := out[strings.Index(out, "-----BEGIN PUBLIC KEY-----"):]
	if pub, err := oauth1.ParsePublicKey([]byte(block)); err != nil || modulusOf(t, publicKey) == nil || !bytes.Equal(pub.N.Bytes(), modulusOf(t, publicKey)) {
		t.Fatalf("the public key printed is not consumer-info's: %v\n%s", err, out)
	}
	if out, err := cli(t, "outgoing", "consumer"); err != nil || !fieldIs(out, "Consumer key", key) || !fieldIs(out, "Public key", publicKey) {
		t.Fatalf("outgoing consumer: %v\n%s", err, out)
	}
	if line := cliFails(t, "outgoing", "create", "--name", "x", "--oauth1", jira.URL, "--client-id", "c"); !strings.Contains(line, "--client-id is for OAuth 2.0 links") {
		t.Fatalf("--oauth1 with --client-id: %s", line)
	}
	if out, err := cli(t, "outgoing", "edit", "jira-rt", "--consumer-key", "gw-rt", "--mode", "per_user"); err != nil || !fieldIs(out, "Consumer key", "gw-rt") || !fieldIs(out, "OAuth 1.0a to", jira.URL) {
		t.Fatalf("outgoing edit --consumer-key: %v\n%s", err, out)
	}
	if status, m, _ := adminCall(t, "PATCH", "/applinks/outgoing/jira-rt", map[string]any{"client_id": "c"}); status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error"]), "OAuth 1.0a link") {
		t.Fatalf("PATCH client_id of an OAuth 1.0a link: %d %v", status, m)
	}
	status, m, _ := adminCall(t, "GET", "/applinks/outgoing/jira-rt", nil)
	o, _ := m["oauth1"].(map[string]any)
	if status != http.StatusOK || o["consumer_key"] != "gw-rt" || o["own_consumer_key"] != true || o["request_token_url"] != jira.URL+outgoing.OAuth1RequestTokenPath || !strings.Contains(fmt.Sprint(o["public_key"]), "BEGIN PUBLIC KEY") {
		t.Fatalf("GET the OAuth 1.0a link: %d %v", status, m)
	}
	if out, err := cli(t, "outgoing"); err != nil || !tableRow(out, "jira-rt", "runtime", "per_user", "gw-rt") {
		t.Fatalf("outgoing: %v\n%s", err, out)
	}

	// Restarted with a route through the runtime link; Jira trusts gw-rt.
	pub, _ := oauth1.ParsePublicKey([]byte(publicKey))
	jira.Trust("gw-rt", pub)
	g := startGateway(t, gatewayOptions{dir: dir, extraGlobal: sysLinkConfig + "\n\t\tallow_private_endpoints", site: fmt.Sprintf(`applinks
	handle /rest/* {
		require_token
		outgoing_token jira-rt
		reverse_proxy %s {
			header_up Host {upstream_hostport}
		}
	}`, jira.URL)})
	if again, _ := consumerInfo(t); again != key {
		t.Fatalf("the consumer key changed across the restart: %s, %s", key, again)
	}
	jira.Approve("wendy-in-jira", false)
	outConnected(t, outBrowser(t), "jira-rt", "wendy", "/done")
	resp, seen, body := jiraCall(t, "GET", "/rest/api/2/myself?expand=groups", bearer(mint(t, g, "wendy", scope.Read).AccessToken), "", "")
	if resp.StatusCode != http.StatusOK || seen.Consumer != "gw-rt" || seen.User != "wendy-in-jira" {
		t.Fatalf("a call through the runtime link: %d %s %+v", resp.StatusCode, body, seen)
	}
	if out, err := cli(t, "connections", "--link", "jira-rt"); err != nil || !tableRow(out, "jira-rt", "wendy", outgoing.StatusValid) {
		t.Fatalf("connections: %v\n%s", err, out)
	}

	sam := browser(t)
	signIn(t, sam, "sam", password).Body.Close()
	for path, want := range map[string][]string{
		"/applinks/admin":                  {"OAuth 1.0 (Atlassian)", "jira-rt"},
		"/applinks/admin/outgoing/jira-rt": {"gw-rt", publicKey, "Connected: 1 user", jira.URL + outgoing.OAuth1AuthorizePath, outgoing.ConsumerInfoPath},
	} {
		resp, err := sam.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		page := html.UnescapeString(readBody(t, resp))
		for _, w := range want {
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, w) {
				t.Errorf("%s: %d, no %q", path, resp.StatusCode, w)
			}
		}
	}
	if out, err := cli(t, "outgoing", "delete", "jira-rt"); err != nil || !strings.Contains(out, `Deleted outgoing link "jira-rt" (per_user, OAuth 1.0a to `+jira.URL+`) with its 1 connection(s).`) {
		t.Fatalf("outgoing delete: %v\n%s", err, out)
	}
}

// TestOAuth1OutgoingLinkCreatedInAdminUI: the outgoing choices offer
// OAuth 1.0 (Atlassian); an application URL on loopback is refused on its
// field while the gateway may not reach private addresses, and nothing is
// created; an incoming link's name is refused; with
// allow_private_endpoints the link is created and the
// browser lands on its page, which shows the consumer key and public key
// of consumer-info; once the fake Jira's administrator has entered those
// two values, a user connects through the link and calls reach Jira
// signed.
func TestOAuth1OutgoingLinkCreatedInAdminUI(t *testing.T) {
	jira := fakejira.New(t)
	dir := t.TempDir()
	const newPage = "/applinks/admin/new/outgoing?provider=oauth1"
	create := func(c *http.Client, name string) (int, string, string) {
		return adminPost(t, c, newPage, "/applinks/admin/new/outgoing", url.Values{"provider": {"oauth1"}, "name": {name}, "application_url": {jira.URL}, "mode": {outgoing.ModePerUser}, "action": {"save"}})
	}

	g := startGateway(t, gatewayOptions{dir: dir, extraGlobal: sysLinkConfig})
	sam := browser(t)
	signIn(t, sam, "sam", password).Body.Close()
	if _, chooser := adminPage(t, sam, "/applinks/admin/new"); !strings.Contains(chooser, `href="/applinks/admin/new/outgoing?provider=oauth1"`) {
		t.Fatalf("the chooser offers no OAuth 1.0 outgoing link:\n%s", chooser)
	}
	if status, page := adminPage(t, sam, newPage); status != http.StatusOK || !strings.Contains(page, `name="application_url"`) || strings.Contains(page, `name="client_secret"`) {
		t.Fatalf("the OAuth 1.0 create page: %d\n%s", status, page)
	}
	status, _, page := create(sam, "jira-ui")
	if msg := fieldError(page, "application_url"); status != http.StatusUnprocessableEntity || !strings.Contains(msg, "This gateway does not connect to "+jira.URL) {
		t.Fatalf("a loopback application URL without allow_private_endpoints: %d %q\n%s", status, msg, page)
	}
	if names, err := g.app().Outgoing().Names(context.Background()); err != nil || slices.Contains(names, "jira-ui") {
		t.Fatalf("the refused link was created: %v %v", names, err)
	}

	startGateway(t, gatewayOptions{dir: dir, extraGlobal: sysLinkConfig + allowPrivate})
	key, publicKey := consumerInfo(t)
	sam = browser(t)
	signIn(t, sam, "sam", password).Body.Close()
	if status, _, page := create(sam, "sys"); status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "name"), "already exists") {
		t.Fatalf("the name of the incoming link sys: %d\n%s", status, page)
	}
	status, where, page := create(sam, "jira-ui")
	if status != http.StatusOK || where != base+"/applinks/admin/outgoing/jira-ui" || !strings.Contains(page, "Outgoing link jira-ui created.") {
		t.Fatalf("creating the link: %d %s\n%s", status, where, page)
	}
	if copied(t, page, "consumer_key") != key || copied(t, page, "public_key") != publicKey || copied(t, page, "callback") != base+outgoing.CallbackPrefix+"jira-ui" {
		t.Fatalf("the link's page does not show consumer-info's key and public key:\n%s", page)
	}
	if _, again := adminPage(t, sam, "/applinks/admin/outgoing/jira-ui"); strings.Contains(again, "created.") {
		t.Fatal("the notice of creation is shown twice")
	}

	pub, err := oauth1.ParsePublicKey([]byte(copied(t, page, "public_key")))
	if err != nil {
		t.Fatal(err)
	}
	jira.Trust(copied(t, page, "consumer_key"), pub)
	g = startGateway(t, gatewayOptions{dir: dir, extraGlobal: sysLinkConfig + allowPrivate, site: fmt.Sprintf(`applinks
	handle /rest/* {
		require_token
		outgoing_token jira-ui
		reverse_proxy %s {
			header_up Host {upstream_hostport}
		}
	}`, jira.URL)})
	jira.Approve("wendy-in-jira", false)
	outConnected(t, outBrowser(t), "jira-ui", "wendy", "/done")
	resp, seen, body := jiraCall(t, "GET", "/rest/api/2/myself", bearer(mint(t, g, "wendy", scope.Read).AccessToken), "", "")
	if resp.StatusCode != http.StatusOK || seen.Consumer != key || seen.User != "wendy-in-jira" {
		t.Fatalf("a call through the link made in the UI: %d %s %+v", resp.StatusCode, body, seen)
	}
}
