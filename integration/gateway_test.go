// Package integration runs the gateway in a real in-process Caddy with real
// Badger storage in a temp dir, and drives it over real HTTP.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/applinks/caddy-applinks"
	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore"
)

const (
	httpPort    = 9480
	clientID    = "app-client"
	secretValue = "app-secret-0123456789-abcdef"
	// redirectURI points at a port nothing listens on: the test browser
	// stops at the redirect and reads the code from Location.
	redirectURI = "http://127.0.0.1:9481/callback"
	password    = "correct horse battery staple"
)

var base = fmt.Sprintf("http://127.0.0.1:%d", httpPort)

// gatewayOptions tune the test gateway's Caddyfile.
type gatewayOptions struct {
	dir          string // storage dir; default t.TempDir()
	storage      string // the storage option instead of badger in dir, e.g. "postgres <dsn>"
	extraGlobal  string // more lines in the applinks block
	globalOption string // more lines in the Caddy global block
	site         string // the site block's body; default: applinks + a static response
	noUsers      bool   // declare no local users
}

type gateway struct {
	t      testing.TB
	tester *caddytest.Tester
	dir    string
	config string
}

// hashes are made once per test binary at a low bcrypt cost.
var hashes = map[string]string{}

func hashFor(t testing.TB, pw string) string {
	if h, ok := hashes[pw]; ok {
		return h
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hashes[pw] = string(b)
	return string(b)
}

func startGateway(t testing.TB, o gatewayOptions) *gateway {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	h := hashFor(t, password)
	users := fmt.Sprintf("user alice %[1]s ADMIN\n\t\tuser bob %[1]s READ\n\t\tuser sam %[1]s SYSTEM_ADMIN\n\t\tuser wendy %[1]s WRITE", h)
	if o.noUsers {
		users = ""
	}
	if o.site == "" {
		o.site = "applinks\n\trespond \"upstream reached\" 200"
	}
	storage := "badger " + o.dir
	if o.storage != "" {
		storage = o.storage + "\n\t\tsecret_key \"the test gateway's at-rest key, 32 characters or more\""
	}
	cfg := fmt.Sprintf(`{
	admin localhost:2999
	http_port %d
	https_port 9443
	grace_period 1ns
	%s
	applinks {
		storage %s
		refresh_grace 2s
		%s
		incoming app {
			redirect_uri %s
			scope WRITE
			client_id %s
			client_secret %s
		}
		incoming other {
			redirect_uri http://127.0.0.1:9481/other
			scope ADMIN
			client_id other-client
			client_secret other-secret-0123456789
			require_pkce
		}
		%s
	}
}
:%d {
	%s
}
`, httpPort, o.globalOption, storage, users, redirectURI, clientID, secretValue, o.extraGlobal, httpPort, o.site)
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	g := &gateway{t: t, tester: tester, dir: o.dir, config: cfg}
	// Close Badger before t.TempDir removes its directory (cleanups run
	// last-registered first).
	t.Cleanup(g.unload)
	return g
}

// app returns the running applinks app, for setting up state in process.
func (g *gateway) app() *applinks.App {
	g.t.Helper()
	a, err := caddy.ActiveContext().App("applinks")
	if err != nil {
		g.t.Fatal(err)
	}
	return a.(*applinks.App)
}

// inStore runs fn with the running gateway's store, for setting up and
// checking what no service shows: the Badger database in g.dir, which the
// storage module's pool shares with the app that has it open. The test's
// hold on it ends when fn returns.
func (g *gateway) inStore(fn func(st store.Store)) {
	g.t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	s := &badgerstore.Storage{Dir: g.dir}
	if err := s.Provision(ctx); err != nil {
		g.t.Fatal(err)
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		g.t.Fatal(err)
	}
	defer func() {
		if err := s.Cleanup(); err != nil {
			g.t.Error(err)
		}
	}()
	fn(st)
}

// unload stops the applinks app (and closes its Badger) by loading a
// config without it.
func (g *gateway) unload() {
	g.t.Helper()
	g.tester.InitServer(`{
	admin localhost:2999
}`, "caddyfile")
}

// oauthConfig is the test client app's configuration, with endpoints from
// metadata and the given client authentication style.
func oauthConfig(style oauth2.AuthStyle) *oauth2.Config {
	conf := &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secretValue,
		RedirectURL:  redirectURI,
		Scopes:       []string{"WRITE"},
		Endpoint:     discover(),
	}
	conf.Endpoint.AuthStyle = style
	return conf
}

// discover reads the endpoints from the RFC 8414 metadata, as a client
// configured with the issuer alone would.
func discover() oauth2.Endpoint {
	resp, err := http.Get(base + "/.well-known/oauth-authorization-server")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var md struct {
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		panic(err)
	}
	return oauth2.Endpoint{AuthURL: md.AuthorizationEndpoint, TokenURL: md.TokenEndpoint}
}

// browser is a cookie-keeping client that stops at redirects leaving the
// gateway, as a browser would hand them to the client app.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != fmt.Sprintf("127.0.0.1:%d", httpPort) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signIn opens the sign-in page and posts the form; it returns the page
// the browser ends on.
func signIn(t testing.TB, c *http.Client, user, pw string) *http.Response {
	t.Helper()
	resp, err := c.Get(base + "/applinks/login")
	if err != nil {
		t.Fatal(err)
	}
	f := flow.HiddenFields(readBody(t, resp))
	f.Set("username", user)
	f.Set("password", pw)
	resp, err = c.PostForm(base+"/applinks/login", f)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// authorize runs the browser part of the flow: it follows authURL through
// sign-in and consent, answers with decision, and returns the redirect
// sent to the client.
func authorize(t testing.TB, c *http.Client, authURL, user, decision string) *url.URL {
	t.Helper()
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if strings.Contains(body, `name="password"`) {
		f := flow.HiddenFields(body)
		f.Set("username", user)
		f.Set("password", password)
		resp, err = c.PostForm(base+"/applinks/login", f)
		if err != nil {
			t.Fatal(err)
		}
		body = readBody(t, resp)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Allow access?") {
		t.Fatalf("expected the consent page, got %d: %s", resp.StatusCode, body)
	}
	f := flow.HiddenFields(body)
	f.Set("decision", decision)
	resp, err = c.PostForm(base+"/applinks/consent", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent answered %d, want 303", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// obtainTokens runs the whole authorization-code flow with PKCE S256 for
// user and returns the token.
func obtainTokens(t testing.TB, user string, style oauth2.AuthStyle) *oauth2.Token {
	t.Helper()
	conf := oauthConfig(style)
	verifier := oauth2.GenerateVerifier()
	loc := authorize(t, browser(t), conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), user, "allow")
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// postForm posts a form to a gateway path with client_secret_post
// credentials added when id is set, and decodes the JSON answer.
func postForm(t testing.TB, path string, form url.Values, id, sec string) (int, map[string]any, http.Header) {
	t.Helper()
	if id != "" {
		form.Set("client_id", id)
		form.Set("client_secret", sec)
	}
	resp, err := http.PostForm(base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	var m map[string]any
	if body != "" {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%s answered non-JSON %q", path, body)
		}
	}
	return resp.StatusCode, m, resp.Header
}

func introspect(t testing.TB, tok string) map[string]any {
	t.Helper()
	status, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {tok}}, clientID, secretValue)
	if status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, m)
	}
	return m
}

func refresh(t testing.TB, rt string) (int, map[string]any) {
	t.Helper()
	status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, clientID, secretValue)
	return status, m
}
