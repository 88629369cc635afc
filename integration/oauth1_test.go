package integration

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/dghubble/oauth1"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// Consumers of the OAuth 1.0a test gateway.
const (
	spJiraKey      = "jira-key"
	spLegacyKey    = "legacy-key"
	spLegacySecret = "legacy-shared-secret-0123456789"
	spDeclaredKey  = "declared-key"
	spExecKey      = "exec-key"
	spImpKey       = "imp-key"
	spImpSecret    = "imp-shared-secret-0123456789"
	// spCallback points at a port nothing listens on: the test browser
	// stops at the redirect and reads the verifier from Location.
	spCallback         = "http://127.0.0.1:9481/oauth1/callback"
	spDeclaredCallback = "http://127.0.0.1:9481/declared"
)

// spKeys are the consumers' RSA keys, made once per test binary.
var spKeys = struct {
	once        sync.Once
	jira, other *rsa.PrivateKey
}{}

func spConsumerKeys(t testing.TB) (jira, other *rsa.PrivateKey) {
	spKeys.once.Do(func() {
		var err error
		if spKeys.jira, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if spKeys.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return spKeys.jira, spKeys.other
}

// spWritePublicKey writes k's public key as openssl does, for public_key.
func spWritePublicKey(t testing.TB, dir, name string, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// spReceived is what the recording upstream got.
type spReceived struct {
	Method, Path, Query, Body, ContentLength string
	User, Scope, ClientID, Authorization     string
}

// spRecorder is an upstream that keeps the last request it got.
type spRecorder struct {
	mu   sync.Mutex
	last spReceived
}

func (rc *spRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.last = spReceived{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(b), ContentLength: strconv.FormatInt(r.ContentLength, 10),
		User: r.Header.Get("X-Forwarded-User"), Scope: r.Header.Get("X-Forwarded-Scope"), ClientID: r.Header.Get("X-Forwarded-Client-Id"),
		Authorization: r.Header.Get("Authorization"),
	}
	rc.mu.Unlock()
	_, _ = io.WriteString(w, "upstream reached")
}

func (rc *spRecorder) got() spReceived {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.last
}

// spGateway runs the gateway with OAuth 1.0a consumers in front of a
// recording upstream: /admin/* needs ADMIN, everything else the method
// rule.
//
//	jira      RSA-SHA1, WRITE, no callback declared (oob allowed)
//	legacy    HMAC-SHA1 with a shared secret, WRITE
//	declared  RSA-SHA1 (jira's key), READ, callback declared
//	exec      RSA-SHA1 (the other key), ADMIN, two-legged as wendy (WRITE)
//	imp       HMAC-SHA1, ADMIN, two-legged with impersonation only
func spGateway(t *testing.T) (*gateway, *spRecorder) {
	jira, other := spConsumerKeys(t)
	dir := t.TempDir()
	jiraPEM := spWritePublicKey(t, dir, "jira.pem", jira)
	otherPEM := spWritePublicKey(t, dir, "other.pem", other)
	rc := &spRecorder{}
	up := httptest.NewServer(rc)
	t.Cleanup(up.Close)
	consumers := fmt.Sprintf(`incoming jira {
			oauth1 %s {
				public_key %s
			}
			scope WRITE
		}
		incoming legacy {
			oauth1 %s {
				shared_secret %s
			}
			scope WRITE
		}
		incoming declared {
			oauth1 %s {
				public_key %s
				callback %s
			}
		}
		incoming exec {
			oauth1 %s {
				public_key %s
				two_legged wendy
			}
			scope ADMIN
		}
		incoming imp {
			oauth1 %s {
				shared_secret %s
				two_legged
				impersonation
			}
			scope ADMIN
		}`, spJiraKey, jiraPEM, spLegacyKey, spLegacySecret, spDeclaredKey, jiraPEM, spDeclaredCallback, spExecKey, otherPEM, spImpKey, spImpSecret)
	site := fmt.Sprintf(`applinks
	@admin path /admin/*
	require_token @admin ADMIN
	require_token
	reverse_proxy %s`, up.URL)
	return startGateway(t, gatewayOptions{extraGlobal: consumers, site: site}), rc
}

// spEndpoint is the gateway's OAuth 1.0a endpoints at Atlassian's paths.
var spEndpoint = client.Endpoint{
	RequestTokenURL: base + "/plugins/servlet/oauth/request-token",
	AuthorizeURL:    base + "/plugins/servlet/oauth/authorize",
	AccessTokenURL:  base + "/plugins/servlet/oauth/access-token",
}

// spRSAConsumer is a dghubble/oauth1 consumer signing with RSA-SHA1.
func spRSAConsumer(key string, k *rsa.PrivateKey, callback string) *client.Config {
	return &client.Config{ConsumerKey: key, CallbackURL: callback, Endpoint: spEndpoint, Signer: &client.RSASigner{PrivateKey: k}}
}

// spHMACConsumer is a dghubble/oauth1 consumer signing with HMAC-SHA1.
func spHMACConsumer(key, secret, callback string) *client.Config {
	return &client.Config{ConsumerKey: key, ConsumerSecret: secret, CallbackURL: callback, Endpoint: spEndpoint}
}

// spToConsent opens authURL in the browser c, signing user in when the
// gateway asks, and returns the page it ends on.
func spToConsent(t *testing.T, c *http.Client, authURL, user string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	return signInWhenAsked(t, c, base, user, resp, readBody(t, resp))
}

// signInWhenAsked signs user in at the gateway origin when page, the body
// of resp, is its sign-in page, and returns where the browser c ends and
// that page; else resp and page unchanged.
func signInWhenAsked(t *testing.T, c *http.Client, origin, user string, resp *http.Response, page string) (*http.Response, string) {
	t.Helper()
	if !strings.Contains(page, `name="password"`) {
		return resp, page
	}
	f := flow.HiddenFields(page)
	f.Set("username", user)
	f.Set("password", password)
	resp, err := c.PostForm(origin+"/applinks/login", f)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

// spConsent takes the browser c, signed in as user (signing in if the
// gateway asks), from the authorization URL of requestToken to the
// consent page and answers it with decision; it returns the last
// response, whose body is read into page.
func spConsent(t *testing.T, c *http.Client, cfg *client.Config, requestToken, user, decision string) (*http.Response, string) {
	t.Helper()
	authURL, err := cfg.AuthorizationURL(requestToken)
	if err != nil {
		t.Fatal(err)
	}
	resp, page := spToConsent(t, c, authURL.String(), user)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Allow access?") {
		t.Fatalf("expected the consent page, got %d: %s", resp.StatusCode, page)
	}
	f := flow.HiddenFields(page)
	f.Set("decision", decision)
	resp, err = c.PostForm(spEndpoint.AuthorizeURL, f)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

// spThreeLegged runs the whole flow for cfg (whose callback must be
// spCallback or spDeclaredCallback): request token, the person's consent in a
// browser, the verifier from the callback, the access token.
func spThreeLegged(t *testing.T, cfg *client.Config, user string) *client.Token {
	t.Helper()
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		t.Fatalf("request token: %v", err)
	}
	verifier := spAllow(t, cfg, rt, user)
	at, as, err := cfg.AccessToken(rt, rs, verifier)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return client.NewToken(at, as)
}

// spAllow has user allow the request token and returns the verifier the
// callback got.
func spAllow(t *testing.T, cfg *client.Config, rt, user string) string {
	t.Helper()
	resp, page := spConsent(t, browser(t), cfg, rt, user, "allow")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent answered %d, want 303 to the callback: %s", resp.StatusCode, page)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Query().Get("oauth_token") != rt || loc.Query().Get("oauth_verifier") == "" {
		t.Fatalf("callback %s lacks oauth_token or oauth_verifier", loc)
	}
	return loc.Query().Get("oauth_verifier")
}

// spCall sends a request through a consumer's client and returns the
// status, the body and the OAuth problem named in WWW-Authenticate.
func spCall(t *testing.T, c *http.Client, method, path, form string) (int, string, string) {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp), spProblem(resp.Header)
}

// spProblem is the oauth_problem of an OAuth challenge.
func spProblem(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		if _, rest, ok := strings.Cut(v, `oauth_problem="`); ok {
			p, _, _ := strings.Cut(rest, `"`)
			return p
		}
	}
	return ""
}

// TestIncomingOAuth1ThreeLeggedRSA: a consumer signing with RSA-SHA1 (the
// dghubble/oauth1 client, as Jira's application links sign) obtains a
// request token, the person signs in and allows it on the consent page,
// the verifier comes back on the callback, and the access token works
// through require_token: GET with a query and a form POST reach the
// upstream with the identity headers, without the gateway's signature
// (no Authorization, no oauth_* parameters) and with the body as sent;
// the link's ceiling bounds the user's role (403 permission_denied).
func TestIncomingOAuth1ThreeLeggedRSA(t *testing.T) {
	g, rc := spGateway(t)
	jira, _ := spConsumerKeys(t)
	cfg := spRSAConsumer(spJiraKey, jira, spCallback)
	tok := spThreeLegged(t, cfg, "alice")
	if !strings.HasPrefix(tok.Token, "alo_") || tok.TokenSecret == "" {
		t.Fatalf("access token %q (secret set: %v) is not one of the gateway's", tok.Token[:4], tok.TokenSecret != "")
	}
	c := cfg.Client(context.Background(), tok)

	status, body, problem := spCall(t, c, http.MethodGet, "/rest/api/2/issue/ABC-1?expand=names%2Crenderedfields&x=a+b", "")
	if status != http.StatusOK || body != "upstream reached" {
		t.Fatalf("signed GET: %d %q %s", status, body, problem)
	}
	got := rc.got()
	// alice is ADMIN; the link's ceiling is WRITE.
	if got.User != "alice" || got.Scope != "WRITE" || got.ClientID != spJiraKey {
		t.Fatalf("upstream identity %+v", got)
	}
	if got.Authorization != "" || got.Query != "expand=names%2Crenderedfields&x=a+b" {
		t.Fatalf("upstream got Authorization %q and query %q; want none and the query as sent", got.Authorization, got.Query)
	}

	const form = "summary=a+b+%26+c&n=1&empty="
	status, body, problem = spCall(t, c, http.MethodPost, "/rest/api/2/issue", form)
	if status != http.StatusOK {
		t.Fatalf("signed form POST: %d %q %s", status, body, problem)
	}
	if got := rc.got(); got.Body != form || got.Method != http.MethodPost || got.User != "alice" || got.Authorization != "" {
		t.Fatalf("upstream got %+v; want the form body unchanged, alice and no Authorization", got)
	}

	status, _, problem = spCall(t, c, http.MethodGet, "/admin/settings", "")
	if status != http.StatusForbidden || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("an ADMIN path with a WRITE link: %d %s, want 403 permission_denied", status, problem)
	}

	gs, err := g.app().Grants().List(context.Background(), store.GrantFilter{UserID: "alice", LinkID: links.ConfigID("jira")})
	if err != nil || len(gs) != 1 || gs[0].Scope != "WRITE" {
		t.Fatalf("alice's grant of jira: %+v %v", gs, err)
	}
}

// TestIncomingOAuth1ThreeLeggedHMAC: a consumer with a shared secret signs every
// step with HMAC-SHA1 and the token secrets the gateway gave it; a
// request signed with another token secret is signature_invalid.
func TestIncomingOAuth1ThreeLeggedHMAC(t *testing.T) {
	_, rc := spGateway(t)
	cfg := spHMACConsumer(spLegacyKey, spLegacySecret, spCallback)
	tok := spThreeLegged(t, cfg, "wendy")
	c := cfg.Client(context.Background(), tok)
	status, body, problem := spCall(t, c, http.MethodPost, "/api/notes?draft=1", "text=hello+world")
	if status != http.StatusOK {
		t.Fatalf("signed POST: %d %q %s", status, body, problem)
	}
	if got := rc.got(); got.User != "wendy" || got.Scope != "WRITE" || got.ClientID != spLegacyKey || got.Body != "text=hello+world" || got.Query != "draft=1" {
		t.Fatalf("upstream got %+v", got)
	}
	guessed := cfg.Client(context.Background(), client.NewToken(tok.Token, "alt_guessed"))
	if status, _, problem := spCall(t, guessed, http.MethodGet, "/api/notes", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemSignatureInvalid {
		t.Fatalf("signed with a wrong token secret: %d %s, want 401 signature_invalid", status, problem)
	}
	// The consumer's secret is no other consumer's.
	other := spHMACConsumer(spImpKey, spLegacySecret, "")
	if status, _, problem := spCall(t, other.Client(context.Background(), client.NewToken("", "")), http.MethodGet, "/api/notes", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemSignatureInvalid {
		t.Fatalf("another consumer's key with legacy's secret: %d %s", status, problem)
	}
}

// TestIncomingOAuth1OutOfBand: a consumer that cannot receive a callback (oob)
// gets a verifier shown to the person, which it exchanges as usual.
func TestIncomingOAuth1OutOfBand(t *testing.T) {
	spGateway(t)
	jira, _ := spConsumerKeys(t)
	cfg := spRSAConsumer(spJiraKey, jira, "oob")
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	authURL, _ := cfg.AuthorizationURL(rt)
	c := browser(t)
	_, page := spToConsent(t, c, authURL.String(), "bob")
	if !strings.Contains(page, "verification code") || strings.Contains(page, "you go to") {
		t.Fatalf("the consent page of an oob consumer does not say a code follows:\n%s", page)
	}
	resp, page := spConsent(t, c, cfg, rt, "bob", "allow")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("oob consent: %d %s", resp.StatusCode, page)
	}
	_, rest, ok := strings.Cut(page, `<code class="verifier">`)
	verifier, _, _ := strings.Cut(rest, "<")
	if !ok || len(verifier) < 10 {
		t.Fatalf("no verifier on the page:\n%s", page)
	}
	at, as, err := cfg.AccessToken(rt, rs, verifier)
	if err != nil {
		t.Fatalf("access token with the shown verifier: %v", err)
	}
	if status, body, problem := spCall(t, cfg.Client(context.Background(), client.NewToken(at, as)), http.MethodGet, "/api/me", ""); status != http.StatusOK {
		t.Fatalf("oob token: %d %s %s", status, body, problem)
	}
}

// TestIncomingOAuth1DeclaredCallbackCannotBeRedirected: where a link declares its
// consumer's callback, a request token asked for with a callback elsewhere
// (the attacker's site, a sibling host, a path climbing out with dot
// segments, oob) is refused, so the verifier only ever goes to the
// declared application; without one the declared callback is used.
func TestIncomingOAuth1DeclaredCallbackCannotBeRedirected(t *testing.T) {
	spGateway(t)
	jira, _ := spConsumerKeys(t)
	for _, cb := range []string{"https://evil.example/cb", "http://127.0.0.1:9482/declared", "http://127.0.0.1:9481/declared-not", "http://127.0.0.1:9481/declared/../steal", "http://127.0.0.1:9481/declared/%2e%2e/steal", "oob"} {
		_, _, err := spRSAConsumer(spDeclaredKey, jira, cb).RequestToken()
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), oauth1.ProblemParameterRejected) {
			t.Errorf("callback %s: %v, want 400 parameter_rejected", cb, err)
		}
	}
	cfg := spRSAConsumer(spDeclaredKey, jira, spDeclaredCallback+"/sub?state=1")
	rt, _, err := cfg.RequestToken()
	if err != nil {
		t.Fatalf("a callback under the declared one: %v", err)
	}
	resp, _ := spConsent(t, browser(t), cfg, rt, "bob", "allow")
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, spDeclaredCallback+"/sub?") || !strings.Contains(loc, "state=1") {
		t.Fatalf("sent to %q", loc)
	}
	cfg = spRSAConsumer(spDeclaredKey, jira, "")
	rt, _, err = cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = spConsent(t, browser(t), cfg, rt, "bob", "deny")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), spDeclaredCallback+"?") || loc.Query().Get("oauth_problem") != oauth1.ProblemPermissionDenied || loc.Query().Get("oauth_verifier") != "" {
		t.Fatalf("denied without a callback: %d %s", resp.StatusCode, loc)
	}
}

// spCapture is a transport that keeps the Authorization spHeader of each
// request and passes it on.
type spCapture struct {
	mu   sync.Mutex
	auth []string
}

func (c *spCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// TestIncomingOAuth1ReplayedRequestIsRefused: a signed request captured on the
// wire and sent again, while its timestamp is still acceptable, is
// refused with nonce_used, at the guard and at the token endpoints, so a
// captured request cannot be repeated (a second POST that creates twice).
func TestIncomingOAuth1ReplayedRequestIsRefused(t *testing.T) {
	spGateway(t)
	jira, _ := spConsumerKeys(t)
	cfg := spRSAConsumer(spJiraKey, jira, spCallback)
	tok := spThreeLegged(t, cfg, "alice")
	cp := &spCapture{}
	c := cfg.Client(context.WithValue(context.Background(), client.HTTPClient, &http.Client{Transport: cp}), tok)
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/transfer", "amount=100"); status != http.StatusOK {
		t.Fatalf("the original request: %d %s", status, problem)
	}
	replay := func(path, form string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", cp.auth[len(cp.auth)-1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, spProblem(resp.Header)
	}
	if status, problem := replay("/api/transfer", "amount=100"); status != http.StatusUnauthorized || problem != oauth1.ProblemNonceUsed {
		t.Fatalf("replayed request: %d %s, want 401 nonce_used", status, problem)
	}
	// The same at the request-token spEndpoint.
	rtCapture := &spCapture{}
	cfg.HTTPClient = &http.Client{Transport: rtCapture}
	if _, _, err := cfg.RequestToken(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, spEndpoint.RequestTokenURL, nil)
	req.Header.Set("Authorization", rtCapture.auth[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || spProblem(resp.Header) != oauth1.ProblemNonceUsed {
		t.Fatalf("replayed request-token request: %d %s", resp.StatusCode, spProblem(resp.Header))
	}
}

// spSign returns the oauth_signature of a request by hand (RFC 5849
// §3.4), for requests dghubble/oauth1 does not make: an old timestamp,
// parameters in the query or the form body. With k it signs RSA-SHA1,
// else HMAC-SHA1 with the two secrets.
func spSign(method, rawURL string, params url.Values, k *rsa.PrivateKey, consumerSecret, tokenSecret string) string {
	u, _ := url.Parse(rawURL)
	all := url.Values{}
	for n, vs := range u.Query() {
		all[n] = append(all[n], vs...)
	}
	for n, vs := range params {
		all[n] = append(all[n], vs...)
	}
	var pairs []string
	for n, vs := range all {
		for _, v := range vs {
			pairs = append(pairs, oauth1.Encode(n)+"="+oauth1.Encode(v))
		}
	}
	sort.Strings(pairs)
	baseString := method + "&" + oauth1.Encode(oauth1.BaseURI(u)) + "&" + oauth1.Encode(strings.Join(pairs, "&"))
	if k != nil {
		sum := sha1.Sum([]byte(baseString))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA1, sum[:])
		return base64.StdEncoding.EncodeToString(sig)
	}
	m := hmac.New(sha1.New, []byte(oauth1.Encode(consumerSecret)+"&"+oauth1.Encode(tokenSecret)))
	m.Write([]byte(baseString))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// spParams are the oauth_* parameters of a request signed at ts.
func spParams(key, tok, method string, ts time.Time) url.Values {
	v := url.Values{
		"oauth_consumer_key":     {key},
		"oauth_signature_method": {method},
		"oauth_timestamp":        {strconv.FormatInt(ts.Unix(), 10)},
		"oauth_nonce":            {rand.Text()},
		"oauth_version":          {"1.0"},
	}
	if tok != "" {
		v.Set("oauth_token", tok)
	}
	return v
}

// spHeader writes protocol parameters and their signature as an
// Authorization spHeader.
func spHeader(p url.Values, sig string) string {
	var parts []string
	for n := range p {
		parts = append(parts, n+`="`+oauth1.Encode(p.Get(n))+`"`)
	}
	sort.Strings(parts)
	return `OAuth realm="applinks", ` + strings.Join(parts, ", ") + `, oauth_signature="` + oauth1.Encode(sig) + `"`
}

// TestIncomingOAuth1StaleRequestIsRefused: a correctly signed request whose
// timestamp is outside the window (an old spCapture, or a consumer whose
// clock is off) is refused with timestamp_refused and the acceptable
// range; the same request signed now passes, so the hand-made signature
// is right.
func TestIncomingOAuth1StaleRequestIsRefused(t *testing.T) {
	spGateway(t)
	cfg := spHMACConsumer(spLegacyKey, spLegacySecret, spCallback)
	tok := spThreeLegged(t, cfg, "wendy")
	send := func(ts time.Time) (int, string, string) {
		p := spParams(spLegacyKey, tok.Token, "HMAC-SHA1", ts)
		uri := base + "/api/issues?q=open"
		req, _ := http.NewRequest(http.MethodGet, uri, nil)
		req.Header.Set("Authorization", spHeader(p, spSign(http.MethodGet, uri, p, nil, spLegacySecret, tok.TokenSecret)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(t, resp), spProblem(resp.Header)
	}
	if status, body, problem := send(time.Now()); status != http.StatusOK {
		t.Fatalf("the hand-signed request: %d %s %s", status, body, problem)
	}
	for _, ts := range []time.Time{time.Now().Add(-time.Hour), time.Now().Add(10 * time.Minute)} {
		status, body, problem := send(ts)
		if status != http.StatusUnauthorized || problem != oauth1.ProblemTimestampRefused || !strings.Contains(body, "oauth_acceptable_timestamps=") {
			t.Fatalf("timestamp %v: %d %s %q, want 401 timestamp_refused with the acceptable range", ts, status, problem, body)
		}
	}
}

// TestIncomingOAuth1ParametersInQueryAndFormBody: a consumer may send the
// protocol parameters in the query or the form body instead of the
// spHeader (RFC 5849 §3.5.2, §3.5.3); the request passes, and the upstream
// gets neither the parameters nor the signature, its own parameters
// unchanged.
func TestIncomingOAuth1ParametersInQueryAndFormBody(t *testing.T) {
	_, rc := spGateway(t)
	jira, _ := spConsumerKeys(t)
	tok := spThreeLegged(t, spRSAConsumer(spJiraKey, jira, spCallback), "alice")

	p := spParams(spJiraKey, tok.Token, "RSA-SHA1", time.Now())
	uri := base + "/api/search?jql=project%3DABC&max=5"
	p.Set("oauth_signature", spSign(http.MethodGet, uri, p, jira, "", ""))
	resp, err := http.Get(uri + "&" + p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("parameters in the query: %d %s %s", resp.StatusCode, body, spProblem(resp.Header))
	}
	if got := rc.got(); got.Query != "jql=project%3DABC&max=5" || got.User != "alice" {
		t.Fatalf("upstream got query %q, user %q", got.Query, got.User)
	}

	p = spParams(spJiraKey, tok.Token, "RSA-SHA1", time.Now())
	uri = base + "/api/comment"
	own := url.Values{"text": {"a & b"}}
	all := url.Values{"text": own["text"]}
	for n, vs := range p {
		all[n] = vs
	}
	p.Set("oauth_signature", spSign(http.MethodPost, uri, all, jira, "", ""))
	form := "text=a+%26+b&" + p.Encode()
	resp, err = http.Post(uri, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("parameters in the form body: %d %s %s", resp.StatusCode, body, spProblem(resp.Header))
	}
	if got := rc.got(); got.Body != "text=a+%26+b" || got.ContentLength != strconv.Itoa(len("text=a+%26+b")) || got.User != "alice" {
		t.Fatalf("upstream got body %q (length %s), user %q; want the body without the protocol parameters", got.Body, got.ContentLength, got.User)
	}
}

// TestIncomingOAuth1ForgedSignaturesAreRefused: a consumer key signed with
// another RSA key (an attacker who knows the public consumer key), an
// unknown consumer key, and a malformed or foreign token are refused,
// with the problem Atlassian's products name, before any request token
// or access reaches them.
func TestIncomingOAuth1ForgedSignaturesAreRefused(t *testing.T) {
	spGateway(t)
	jira, other := spConsumerKeys(t)
	if _, _, err := spRSAConsumer(spJiraKey, other, spCallback).RequestToken(); err == nil || !strings.Contains(err.Error(), oauth1.ProblemSignatureInvalid) {
		t.Fatalf("request token signed with another key: %v, want signature_invalid", err)
	}
	if _, _, err := spRSAConsumer("nobody", jira, spCallback).RequestToken(); err == nil || !strings.Contains(err.Error(), oauth1.ProblemConsumerKeyUnknown) {
		t.Fatalf("unknown consumer: %v, want consumer_key_unknown", err)
	}
	if _, _, err := spRSAConsumer(clientID, jira, spCallback).RequestToken(); err == nil || !strings.Contains(err.Error(), oauth1.ProblemConsumerKeyUnknown) {
		t.Fatalf("an OAuth 2.0 client id as consumer key: %v, want consumer_key_unknown", err)
	}
	tok := spThreeLegged(t, spRSAConsumer(spJiraKey, jira, spCallback), "alice")
	for name, c := range map[string]*http.Client{
		"another key":         spRSAConsumer(spJiraKey, other, "").Client(context.Background(), tok),
		"an unknown consumer": spRSAConsumer("nobody", jira, "").Client(context.Background(), tok),
		"a made-up token":     spRSAConsumer(spJiraKey, jira, "").Client(context.Background(), client.NewToken("alo_made-up", "")),
		"another consumer's":  spRSAConsumer(spExecKey, other, "").Client(context.Background(), tok),
	} {
		status, _, problem := spCall(t, c, http.MethodGet, "/api/me", "")
		want := map[string]string{"another key": oauth1.ProblemSignatureInvalid, "an unknown consumer": oauth1.ProblemConsumerKeyUnknown, "a made-up token": oauth1.ProblemTokenRejected, "another consumer's": oauth1.ProblemTokenRejected}[name]
		if status != http.StatusUnauthorized || problem != want {
			t.Errorf("%s: %d %s, want 401 %s", name, status, problem, want)
		}
	}
}

// TestIncomingOAuth1RequestTokenIsExchangedOnce: a request token exchanged a
// second time (a replayed access-token request signed anew, or a race) is
// token_used, and the access token the first exchange gave is revoked, as
// a reused authorization code revokes its grant; a wrong verifier spends
// the request token, so verifiers cannot be guessed by trying.
func TestIncomingOAuth1RequestTokenIsExchangedOnce(t *testing.T) {
	spGateway(t)
	cfg := spHMACConsumer(spLegacyKey, spLegacySecret, spCallback)
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	verifier := spAllow(t, cfg, rt, "wendy")
	at, as, err := cfg.AccessToken(rt, rs, verifier)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Client(context.Background(), client.NewToken(at, as))
	if status, _, _ := spCall(t, c, http.MethodGet, "/api/me", ""); status != http.StatusOK {
		t.Fatalf("the access token: %d", status)
	}
	if _, _, err := cfg.AccessToken(rt, rs, verifier); err == nil || !strings.Contains(err.Error(), oauth1.ProblemTokenUsed) {
		t.Fatalf("second exchange: %v, want token_used", err)
	}
	if status, _, problem := spCall(t, c, http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemTokenRejected {
		t.Fatalf("the first exchange's token after a second exchange: %d %s, want 401 token_rejected", status, problem)
	}

	rt, rs, err = cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cfg.AccessToken(rt, rs, "guess"); err == nil || !strings.Contains(err.Error(), oauth1.ProblemPermissionUnknown) {
		t.Fatalf("exchange before the person decided: %v, want permission_unknown", err)
	}
	verifier = spAllow(t, cfg, rt, "wendy")
	if _, _, err := cfg.AccessToken(rt, rs, verifier+"x"); err == nil || !strings.Contains(err.Error(), oauth1.ProblemTokenRejected) {
		t.Fatalf("a wrong verifier: %v, want token_rejected", err)
	}
	if _, _, err := cfg.AccessToken(rt, rs, verifier); err == nil || !strings.Contains(err.Error(), oauth1.ProblemTokenUsed) {
		t.Fatalf("the right verifier after a wrong one: %v, want token_used (spent)", err)
	}
	// The authorization page of a decided token is gone too.
	authURL, _ := cfg.AuthorizationURL(rt)
	resp, page := spToConsent(t, browser(t), authURL.String(), "wendy")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "not found") {
		t.Fatalf("authorize page of a spent token: %d %s", resp.StatusCode, page)
	}
}

// TestIncomingOAuth1RevocationIsFeltOnTheNextRequest: an OAuth 1.0a access token
// is a grant like any: revoked on the account page, by an administrator,
// with its link, or by demoting or disabling its user, it is refused (or
// held to the new role) on the very next request.
func TestIncomingOAuth1RevocationIsFeltOnTheNextRequest(t *testing.T) {
	g, rc := spGateway(t)
	jira, _ := spConsumerKeys(t)
	cfg := spRSAConsumer(spJiraKey, jira, spCallback)
	ctx := context.Background()
	works := func(c *http.Client) bool {
		status, _, _ := spCall(t, c, http.MethodGet, "/api/me", "")
		return status == http.StatusOK
	}
	refused := func(what string, c *http.Client) {
		t.Helper()
		if status, _, problem := spCall(t, c, http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemTokenRejected {
			t.Fatalf("after %s: %d %s, want 401 token_rejected", what, status, problem)
		}
	}

	// The account page.
	b := browser(t)
	c := cfg.Client(ctx, spThreeLegged(t, cfg, "alice"))
	if !works(c) {
		t.Fatal("the token does not work")
	}
	signIn(t, b, "alice", password).Body.Close()
	resp, err := b.Get(base + "/applinks/account")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	if !strings.Contains(page, "<td>jira</td>") {
		t.Fatalf("the account page does not list jira:\n%s", page)
	}
	gs, _ := g.app().Grants().List(ctx, store.GrantFilter{UserID: "alice"})
	resp, err = b.PostForm(base+"/applinks/account", url.Values{"csrf_token": {flow.HiddenFields(page).Get("csrf_token")}, "action": {"revoke"}, "grant": {gs[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	refused("revocation on the account page", c)

	// An administrator.
	c = cfg.Client(ctx, spThreeLegged(t, cfg, "alice"))
	gs, _ = g.app().Grants().List(ctx, store.GrantFilter{UserID: "alice"})
	if status, _, _ := adminCall(t, http.MethodDelete, "/applinks/grants/"+gs[0].ID, nil); status != http.StatusNoContent && status != http.StatusOK {
		t.Fatalf("admin revoke: %d", status)
	}
	refused("revocation by an administrator", c)

	// Demotion and disabling of a runtime user.
	setRole(t, g, "carol", scope.Admin, false)
	c = cfg.Client(ctx, spThreeLegged(t, cfg, "carol"))
	if status, _, _ := spCall(t, c, http.MethodPost, "/api/x", "a=1"); status != http.StatusOK || rc.got().Scope != "WRITE" {
		t.Fatalf("carol's POST: %d %+v", status, rc.got())
	}
	setRole(t, g, "carol", scope.Read, false)
	if status, _, problem := spCall(t, c, http.MethodPost, "/api/x", "a=1"); status != http.StatusForbidden || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("POST after carol became READ: %d %s, want 403 permission_denied", status, problem)
	}
	if !works(c) || rc.got().Scope != "READ" {
		t.Fatalf("GET after demotion: scope %q, want READ", rc.got().Scope)
	}
	setRole(t, g, "carol", scope.Read, true)
	refused("disabling the user", c)

	// Deleting a runtime consumer's link.
	pub := spWritePublicKey(t, t.TempDir(), "rt.pem", jira)
	pemText, _ := os.ReadFile(pub)
	l, _, err := g.app().Links().CreateConsumer(ctx, links.NewConsumer{Name: "runtime-jira", ConsumerKey: "runtime-key", PublicKey: string(pemText), Ceiling: scope.Write, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := spRSAConsumer("runtime-key", jira, spCallback)
	c = rcfg.Client(ctx, spThreeLegged(t, rcfg, "alice"))
	if !works(c) {
		t.Fatal("the runtime consumer's token does not work")
	}
	if err := g.app().Links().Delete(ctx, l.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if status, _, problem := spCall(t, c, http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemConsumerKeyUnknown {
		t.Fatalf("after the link was deleted: %d %s, want 401 consumer_key_unknown", status, problem)
	}
}

// TestIncomingOAuth1TwoLegged: a consumer whose link allows two-legged OAuth
// signs without a token and acts as its execute-as user under the link's
// ceiling; naming another user (xoauth_requestor_id) is refused unless
// the link allows impersonation, where it acts as that user and that
// user's role; a link without two-legged OAuth refuses tokenless requests
// (permission_denied), so a consumer key and signature alone never act
// for anyone by default.
func TestIncomingOAuth1TwoLegged(t *testing.T) {
	_, rc := spGateway(t)
	jira, other := spConsumerKeys(t)
	ctx := context.Background()
	twoLegged := func(cfg *client.Config) *http.Client { return cfg.Client(ctx, client.NewToken("", "")) }

	exec := twoLegged(spRSAConsumer(spExecKey, other, ""))
	if status, body, problem := spCall(t, exec, http.MethodPost, "/api/build", "job=1"); status != http.StatusOK {
		t.Fatalf("two-legged as wendy: %d %s %s", status, body, problem)
	}
	if got := rc.got(); got.User != "wendy" || got.Scope != "WRITE" || got.ClientID != spExecKey || got.Body != "job=1" {
		t.Fatalf("upstream got %+v, want wendy with WRITE (her role under the ADMIN ceiling)", got)
	}
	if status, _, problem := spCall(t, exec, http.MethodGet, "/api/build?xoauth_requestor_id=alice", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("impersonation where the link does not spAllow it: %d %s, want 401 permission_denied", status, problem)
	}
	if status, _, problem := spCall(t, twoLegged(spRSAConsumer(spJiraKey, jira, "")), http.MethodGet, "/api/me", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("two-legged where the link does not spAllow it: %d %s, want 401 permission_denied", status, problem)
	}

	imp := twoLegged(spHMACConsumer(spImpKey, spImpSecret, ""))
	if status, body, problem := spCall(t, imp, http.MethodGet, "/admin/report?xoauth_requestor_id=alice&fmt=csv", ""); status != http.StatusOK {
		t.Fatalf("impersonating alice: %d %s %s", status, body, problem)
	}
	if got := rc.got(); got.User != "alice" || got.Scope != "ADMIN" || got.Query != "fmt=csv" {
		t.Fatalf("upstream got %+v, want alice with ADMIN and the query without xoauth_requestor_id", got)
	}
	if status, _, problem := spCall(t, imp, http.MethodPost, "/api/x?xoauth_requestor_id=bob", "a=1"); status != http.StatusForbidden || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("a POST as READ bob: %d %s, want 403 permission_denied", status, problem)
	}
	if status, _, problem := spCall(t, imp, http.MethodGet, "/api/x?xoauth_requestor_id=nobody", ""); status != http.StatusUnauthorized || problem != oauth1.ProblemPermissionDenied {
		t.Fatalf("impersonating a user who does not exist: %d %s", status, problem)
	}
	if status, _, problem := spCall(t, imp, http.MethodGet, "/api/x", ""); status != http.StatusBadRequest || problem != oauth1.ProblemParameterAbsent {
		t.Fatalf("impersonation only, no user named: %d %s, want 400 parameter_absent", status, problem)
	}
}

// TestIncomingOAuth1ConsumerIsNoOAuth2Client: an OAuth 1.0a consumer's key is not
// an OAuth 2.0 client id: the authorization spEndpoint does not know it,
// and its key with its shared secret is invalid_client at the token
// (every grant type, client_credentials included), revocation and
// introspection endpoints, so a consumer cannot obtain bearer tokens or
// read other tokens.
func TestIncomingOAuth1ConsumerIsNoOAuth2Client(t *testing.T) {
	spGateway(t)
	resp, err := browser(t).Get(base + "/rest/oauth2/latest/authorize?response_type=code&client_id=" + spLegacyKey + "&redirect_uri=" + url.QueryEscape(spCallback))
	if err != nil {
		t.Fatal(err)
	}
	if page := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Unknown application") {
		t.Fatalf("authorize with a consumer key: %d %s", resp.StatusCode, page)
	}
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/rest/oauth2/latest/token", url.Values{"grant_type": {"client_credentials"}}},
		{"/rest/oauth2/latest/token", url.Values{"grant_type": {"authorization_code"}, "code": {"alc_x"}, "redirect_uri": {spCallback}}},
		{"/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"alr_x"}}},
		{"/rest/oauth2/latest/revoke", url.Values{"token": {"alo_x"}}},
		{"/rest/oauth2/latest/introspect", url.Values{"token": {"alo_x"}}},
	} {
		for _, sec := range []string{spLegacySecret, ""} {
			status, m, _ := postForm(t, c.path, c.form, spLegacyKey, sec)
			if status != http.StatusUnauthorized || m["error"] != "invalid_client" {
				t.Errorf("%s %s with the consumer's key (secret %v): %d %v, want 401 invalid_client", c.path, c.form.Get("grant_type"), sec != "", status, m)
			}
		}
	}
}

// TestIncomingOAuth1ChallengeOffered: a request without credentials to a guarded
// path of a gateway with OAuth 1.0a consumers is offered both schemes;
// with a bearer token the refusals stay as they were.
func TestIncomingOAuth1ChallengeOffered(t *testing.T) {
	spGateway(t)
	resp, err := http.Get(base + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch := resp.Header.Values("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || len(ch) != 2 || !strings.HasPrefix(ch[0], "Bearer ") || ch[1] != `OAuth realm="applinks"` {
		t.Fatalf("without credentials: %d %q", resp.StatusCode, ch)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer ala_not-a-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || m["error"] != "invalid_token" || len(resp.Header.Values("WWW-Authenticate")) != 1 {
		t.Fatalf("a bad bearer token: %d %v %q", resp.StatusCode, m, resp.Header.Values("WWW-Authenticate"))
	}
}
