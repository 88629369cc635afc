package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// The gateway's credentials at the fake provider, as in the Caddyfile.
const (
	fakeOPClientID     = "gw"
	fakeOPClientSecret = "s"
)

// fakeOPBehaviour is what a fake OpenID Connect provider does; tests change
// it to make the provider misbehave.
type fakeOPBehaviour struct {
	// sub and claims describe the account that signs in; claims are added
	// to the ID token (e.g. groups, email, email_verified).
	sub    string
	claims map[string]any
	// mutate, when set, changes the ID token's claims just before signing.
	mutate func(claims map[string]any)
	// signWith, when set, signs ID tokens with this key (under kid) instead
	// of the published one.
	signWith *ecdsa.PrivateKey
	kid      string
	// noIDToken leaves the ID token out of the token response.
	noIDToken bool
	// authError, when set, answers the authorization request with this
	// OAuth error instead of a code.
	authError string
	// clientSecret the token endpoint expects; default fakeOPClientSecret.
	clientSecret string
	// clientAuth the token endpoint accepts: "basic", "post" or "" (both).
	clientAuth string
	// iss, when set, is sent as the authorization response's iss (RFC
	// 9207).
	iss string
}

// fakeOP is an OpenID Connect provider: discovery, an authorization
// endpoint that approves at once, a token endpoint that checks client
// credentials, code, redirect URI and PKCE S256, and a JWKS with one ES256
// key.
type fakeOP struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey
	kid string

	mu    sync.Mutex
	b     fakeOPBehaviour
	codes map[string]fakeOPCode
	// problems are protocol violations the provider saw in the gateway's
	// requests; authRequests and tokenAuth record what it was sent.
	problems     []string
	authRequests []url.Values
	tokenAuth    []string
	// advertiseIss puts authorization_response_iss_parameter_supported in
	// the metadata; set it before the gateway discovers the provider.
	advertiseIss bool
}

type fakeOPCode struct {
	nonce, challenge, redirectURI, clientID string
}

// newFakeOP starts a fake provider on a free loopback port.
func newFakeOP(t testing.TB) *fakeOP {
	t.Helper()
	f := newUnstartedFakeOP(t)
	f.srv.Start()
	return f
}

// newUnstartedFakeOP makes a fake provider whose server the test starts.
func newUnstartedFakeOP(t testing.TB) *fakeOP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeOP{key: key, kid: "fake-" + rand.Text()[:8], codes: map[string]fakeOPCode{}}
	f.reset()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.serveDiscovery)
	mux.HandleFunc("GET /authorize", f.serveAuthorize)
	mux.HandleFunc("POST /token", f.serveToken)
	mux.HandleFunc("GET /jwks", f.serveJWKS)
	f.srv = httptest.NewUnstartedServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// issuer is the provider's URL, also its issuer identifier.
func (f *fakeOP) issuer() string { return f.srv.URL }

// reset makes the provider behave again, for account sub with no claims.
func (f *fakeOP) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.b = fakeOPBehaviour{sub: "user-" + rand.Text()[:8], claims: map[string]any{}}
	f.problems, f.authRequests, f.tokenAuth = nil, nil, nil
}

// sub is the subject of the account that signs in.
func (f *fakeOP) sub() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b.sub
}

// behave changes the provider's behaviour.
func (f *fakeOP) behave(change func(b *fakeOPBehaviour)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.b)
}

func (f *fakeOP) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

// checkNoProblems fails the test if the gateway broke the protocol.
func (f *fakeOP) checkNoProblems(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) > 0 {
		t.Errorf("the provider saw protocol violations: %q", f.problems)
	}
}

func (f *fakeOP) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	advertiseIss := f.advertiseIss
	f.mu.Unlock()
	writeJSONFake(w, http.StatusOK, map[string]any{
		"authorization_response_iss_parameter_supported": advertiseIss,
		"issuer":                                f.issuer(),
		"authorization_endpoint":                f.issuer() + "/authorize",
		"token_endpoint":                        f.issuer() + "/token",
		"jwks_uri":                              f.issuer() + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
	})
}

func (f *fakeOP) serveJWKS(w http.ResponseWriter, r *http.Request) {
	writeJSONFake(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &f.key.PublicKey, KeyID: f.kid, Algorithm: string(jose.ES256), Use: "sig"},
	}})
}

func (f *fakeOP) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.authRequests = append(f.authRequests, q)
	b := f.b
	f.mu.Unlock()
	redirectURI := q.Get("redirect_uri")
	back, err := url.Parse(redirectURI)
	if err != nil || redirectURI == "" {
		f.problem("authorize: bad redirect_uri %q", redirectURI)
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	switch {
	case q.Get("response_type") != "code":
		f.problem("authorize: response_type %q", q.Get("response_type"))
	case q.Get("client_id") != fakeOPClientID:
		f.problem("authorize: client_id %q", q.Get("client_id"))
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		f.problem("authorize: scope %q has no openid", q.Get("scope"))
	case q.Get("state") == "" || q.Get("nonce") == "":
		f.problem("authorize: state %q nonce %q", q.Get("state"), q.Get("nonce"))
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		f.problem("authorize: PKCE %q %q", q.Get("code_challenge_method"), q.Get("code_challenge"))
	}
	answer := back.Query()
	if b.authError != "" {
		answer.Set("error", b.authError)
		answer.Set("error_description", "The user said no.")
	} else {
		code := rand.Text()
		f.mu.Lock()
		f.codes[code] = fakeOPCode{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: redirectURI, clientID: q.Get("client_id")}
		f.mu.Unlock()
		answer.Set("code", code)
	}
	answer.Set("state", q.Get("state"))
	if b.iss != "" {
		answer.Set("iss", b.iss)
	}
	back.RawQuery = answer.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (f *fakeOP) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSONFake(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f.mu.Lock()
	b := f.b
	f.mu.Unlock()
	wantSecret := b.clientSecret
	if wantSecret == "" {
		wantSecret = fakeOPClientSecret
	}
	// Client authentication: client_secret_basic (form-encoded id and
	// secret, RFC 6749 §2.3.1) or client_secret_post.
	var id, secret, style string
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
		style = "basic"
	} else if r.PostForm.Has("client_secret") {
		id, secret, style = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), "post"
	}
	if id != fakeOPClientID || secret != wantSecret || (b.clientAuth != "" && b.clientAuth != style) {
		writeJSONFake(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	f.tokenAuth = append(f.tokenAuth, style)
	code, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code")) // single use
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code":
		f.problem("token: grant_type %q", r.PostForm.Get("grant_type"))
	case !ok:
		// Not a protocol violation by itself: replays land here.
		writeJSONFake(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "unknown or used code"})
		return
	case code.clientID != id:
		f.problem("token: code of client %q redeemed by %q", code.clientID, id)
	case r.PostForm.Get("redirect_uri") != code.redirectURI:
		f.problem("token: redirect_uri %q, authorized %q", r.PostForm.Get("redirect_uri"), code.redirectURI)
	case base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge:
		f.problem("token: code_verifier does not match the S256 challenge")
	default:
		answer := map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300}
		if !b.noIDToken {
			idt, err := f.idToken(b, code.nonce)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			answer["id_token"] = idt
		}
		writeJSONFake(w, http.StatusOK, answer)
		return
	}
	writeJSONFake(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
}

// idToken signs the ID token of b's account for the gateway.
func (f *fakeOP) idToken(b fakeOPBehaviour, nonce string) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"iss":   f.issuer(),
		"sub":   b.sub,
		"aud":   fakeOPClientID,
		"iat":   now.Unix(),
		"exp":   now.Add(5 * time.Minute).Unix(),
		"nonce": nonce,
	}
	maps.Copy(claims, b.claims)
	if b.mutate != nil {
		b.mutate(claims)
	}
	key, kid := f.key, f.kid
	if b.signWith != nil {
		key = b.signWith
		if b.kid != "" {
			kid = b.kid
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func writeJSONFake(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fakeOPSite shows who is signed in through a session.
const fakeOPSite = `applinks
	handle {
		require_token {
			session
		}
		respond "{http.auth.user.id} {http.auth.user.scope}" 200
	}`

// fakeOPGateway runs the gateway with sign-in through the provider at
// issuer; more adds lines to its login block.
func fakeOPGateway(t testing.TB, issuer, defaultRole, more string) *gateway {
	t.Helper()
	return startGateway(t, gatewayOptions{site: fakeOPSite, extraGlobal: fmt.Sprintf(`login oidc %s {
			name Fake
			client_id %s
			client_secret %s
			role_claim groups
			role admins ADMIN
			role writers WRITE
			default_role %s
			%s
		}`, issuer, fakeOPClientID, fakeOPClientSecret, defaultRole, more)})
}

// opBrowser keeps cookies and follows redirects, noting the provider's
// callback to the gateway; with stopAtCallback it stops there.
type opBrowser struct {
	*http.Client
	jar            *cookiejar.Jar
	callback       string
	stopAtCallback bool
}

func newOPBrowser(t testing.TB) *opBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &opBrowser{jar: jar}
	b.Client = &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) > 10 {
			return fmt.Errorf("too many redirects")
		}
		if r.URL.Host == fmt.Sprintf("127.0.0.1:%d", httpPort) && strings.HasPrefix(r.URL.Path, users.OIDCCallbackPrefix) {
			b.callback = r.URL.String()
			if b.stopAtCallback {
				return http.ErrUseLastResponse
			}
		}
		return nil
	}}
	return b
}

var fakeButton = regexp.MustCompile(`<a class="button" href="([^"]+)">Sign in with Fake</a>`)

// button opens the sign-in page (coming back to returnTo) and returns the
// address of its "Sign in with Fake" button.
func (b *opBrowser) button(t testing.TB, returnTo string) string {
	t.Helper()
	resp, err := b.Get(base + users.LoginURL(returnTo))
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	m := fakeButton.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("sign-in page %d has no Fake button:\n%s", resp.StatusCode, page)
	}
	return base + html.UnescapeString(m[1])
}

// get fetches u and returns the status, the unescaped body and where the
// browser ended.
func (b *opBrowser) get(t testing.TB, u string) (int, string, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, html.UnescapeString(readBody(t, resp)), resp.Request.URL.String()
}

// signIn clicks the Fake button on the sign-in page and follows the
// browser to wherever it ends.
func (b *opBrowser) signIn(t testing.TB, returnTo string) (int, string, string) {
	t.Helper()
	return b.get(t, b.button(t, returnTo))
}

// wantSignedIn signs in through the provider and checks the site shows
// who with role.
func (b *opBrowser) wantSignedIn(t testing.TB, who, role string) {
	t.Helper()
	status, body, at := b.signIn(t, "/hello?x=1")
	if status != http.StatusOK || body != who+" "+role || at != base+"/hello?x=1" {
		t.Fatalf("sign-in ended at %s with %d %q, want %q", at, status, body, who+" "+role)
	}
	b.wantSite(t, who, role)
}

// wantSite checks the site sees who with role in the browser's session.
func (b *opBrowser) wantSite(t testing.TB, who, role string) {
	t.Helper()
	if status, body, _ := b.get(t, base+"/whoami"); status != http.StatusOK || body != who+" "+role {
		t.Fatalf("site: %d %q, want %q", status, body, who+" "+role)
	}
}

// wantSignedOut checks the browser has no session: no cookie, the site
// sends it to sign in, and answers 401 to a non-browser request.
func (b *opBrowser) wantSignedOut(t testing.TB) {
	t.Helper()
	u, _ := url.Parse(base + "/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == users.SessionCookie {
			t.Fatalf("a session cookie was set")
		}
	}
	noFollow := &http.Client{Jar: b.jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, _ := http.NewRequest(http.MethodGet, base+"/whoami", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := noFollow.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != users.LoginURL("/whoami") {
		t.Fatalf("site for a browser: %d %s, want to be sent to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = noFollow.Get(base + "/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("site for an API client: %d, want 401", resp.StatusCode)
	}
}

// wantFailed checks a sign-in ended on the "Sign-in failed" page with
// status and a message containing each of msgs.
func wantFailed(t testing.TB, status int, body, at string, wantStatus int, msgs ...string) {
	t.Helper()
	if status != wantStatus || !strings.Contains(body, "Sign-in failed") || !strings.HasPrefix(at, base+users.OIDCCallbackPrefix) {
		t.Fatalf("ended at %s with %d, want %d and the Sign-in failed page:\n%s", at, status, wantStatus, body)
	}
	for _, m := range msgs {
		if !strings.Contains(body, m) {
			t.Fatalf("the page does not say %q:\n%s", m, body)
		}
	}
}

// TestOIDCLoginSignsIn: the sign-in page offers the provider; signing in
// ends at the page asked for with the role mapped from the groups claim,
// and the name from the verified e-mail else sub@host. PKCE, nonce, state
// and client authentication reach the provider as they should.
func TestOIDCLoginSignsIn(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "READ", "")

	// The button carries the provider and the page to come back to.
	b := newOPBrowser(t)
	if got, want := b.button(t, "/hello?x=1"), base+users.OIDCStartPath+"?provider=Fake&return_to=%2Fhello%3Fx%3D1"; got != want {
		t.Fatalf("button %s, want %s", got, want)
	}

	// Highest group wins; named by the verified e-mail, lowercased.
	f.behave(func(o *fakeOPBehaviour) {
		o.claims = map[string]any{"groups": []string{"writers", "admins"}, "email": "Carol@Example.COM", "email_verified": true}
	})
	b.wantSignedIn(t, "carol@example.com", "ADMIN")
	f.checkNoProblems(t)
	f.mu.Lock()
	ar := f.authRequests[len(f.authRequests)-1]
	f.mu.Unlock()
	if ar.Get("redirect_uri") != base+users.OIDCCallbackPath("Fake") || ar.Get("scope") != "openid profile email" {
		t.Errorf("authorization request %v", ar)
	}
	if !strings.HasPrefix(b.callback, base+users.OIDCCallbackPath("Fake")+"?") {
		t.Errorf("callback %q", b.callback)
	}
	// The state cookie is gone once used.
	u, _ := url.Parse(base + users.OIDCCallbackPath("Fake"))
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "applinks_oidc" {
			t.Errorf("the state cookie outlived the sign-in")
		}
	}

	// No groups: the default role; no e-mail: sub@issuer-host.
	f.reset()
	sub := f.sub()
	b2 := newOPBrowser(t)
	b2.wantSignedIn(t, sub+"@127.0.0.1", "READ")
	// An e-mail that is not verified does not name the user.
	f.behave(func(o *fakeOPBehaviour) {
		o.claims = map[string]any{"email": "boss@example.com", "email_verified": false, "groups": "unknown"}
	})
	newOPBrowser(t).wantSignedIn(t, sub+"@127.0.0.1", "READ")
	f.checkNoProblems(t)

	// The role follows the provider at the next sign-in, and sessions
	// already open see it too.
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": "writers"} })
	b3 := newOPBrowser(t)
	b3.wantSignedIn(t, sub+"@127.0.0.1", "WRITE")
	b2.wantSite(t, sub+"@127.0.0.1", "WRITE")
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": []string{"admins"}} })
	b3.wantSignedIn(t, sub+"@127.0.0.1", "ADMIN")
	b2.wantSite(t, sub+"@127.0.0.1", "ADMIN")
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{} })
	newOPBrowser(t).wantSignedIn(t, sub+"@127.0.0.1", "READ")
	b3.wantSite(t, sub+"@127.0.0.1", "READ")
	b.wantSite(t, "carol@example.com", "ADMIN")
	f.checkNoProblems(t)

	// A provider that takes client credentials in the form only.
	f.behave(func(o *fakeOPBehaviour) { o.clientAuth = "post" })
	newOPBrowser(t).wantSignedIn(t, sub+"@127.0.0.1", "READ")
	f.mu.Lock()
	auth := f.tokenAuth[len(f.tokenAuth)-1]
	f.mu.Unlock()
	if auth != "post" {
		t.Errorf("client authentication %q", auth)
	}
	f.checkNoProblems(t)

	// An unknown provider name is refused.
	if status, body, _ := newOPBrowser(t).get(t, base+users.OIDCStartPath+"?provider=Other"); status != http.StatusNotFound || !strings.Contains(body, "Unknown sign-in provider") {
		t.Fatalf("unknown provider: %d %s", status, body)
	}
}

// TestOIDCLoginRefused: every way the provider's answer can be wrong ends
// on the "Sign-in failed" page with a clear message and no session.
func TestOIDCLoginRefused(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "READ", "")
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(o *fakeOPBehaviour)
		status int
		msgs   []string
	}{
		{"wrong audience", func(o *fakeOPBehaviour) {
			o.mutate = func(c map[string]any) { c["aud"] = "someone-else" }
		}, http.StatusUnauthorized, []string{"The ID token from Fake is not valid", "audience"}},
		{"expired", func(o *fakeOPBehaviour) {
			o.mutate = func(c map[string]any) {
				c["iat"] = time.Now().Add(-time.Hour).Unix()
				c["exp"] = time.Now().Add(-time.Minute).Unix()
			}
		}, http.StatusUnauthorized, []string{"The ID token from Fake is not valid", "expired"}},
		{"unknown key", func(o *fakeOPBehaviour) { o.signWith = otherKey }, http.StatusUnauthorized, []string{"The ID token from Fake is not valid", "signature"}},
		{"unknown key id", func(o *fakeOPBehaviour) { o.signWith, o.kid = otherKey, "other-kid" }, http.StatusUnauthorized, []string{"The ID token from Fake is not valid"}},
		{"other issuer", func(o *fakeOPBehaviour) {
			o.mutate = func(c map[string]any) { c["iss"] = "https://evil.example" }
		}, http.StatusUnauthorized, []string{"The ID token from Fake is not valid", "different provider"}},
		{"nonce mismatch", func(o *fakeOPBehaviour) {
			o.mutate = func(c map[string]any) { c["nonce"] = "another-sign-in" }
		}, http.StatusUnauthorized, []string{"nonce mismatch"}},
		{"nonce missing", func(o *fakeOPBehaviour) {
			o.mutate = func(c map[string]any) { delete(c, "nonce") }
		}, http.StatusUnauthorized, []string{"nonce mismatch"}},
		{"no id_token", func(o *fakeOPBehaviour) { o.noIDToken = true }, http.StatusBadGateway, []string{"Fake sent no ID token"}},
		{"client refused", func(o *fakeOPBehaviour) { o.clientSecret = "another-secret" }, http.StatusBadGateway, []string{"Fake did not accept the sign-in code"}},
		{"access denied", func(o *fakeOPBehaviour) { o.authError = "access_denied" }, http.StatusUnauthorized, []string{"Fake refused the sign-in: access_denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.reset()
			f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": "admins"} })
			f.behave(tt.change)
			b := newOPBrowser(t)
			status, body, at := b.signIn(t, "/hello")
			wantFailed(t, status, body, at, tt.status, tt.msgs...)
			b.wantSignedOut(t)
			f.checkNoProblems(t)
		})
	}

	t.Run("state mismatch", func(t *testing.T) {
		f.reset()
		b := newOPBrowser(t)
		b.stopAtCallback = true
		b.signIn(t, "/hello")
		cb, err := url.Parse(b.callback)
		if err != nil || cb.Query().Get("state") == "" {
			t.Fatalf("callback %q", b.callback)
		}
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		b.stopAtCallback = false
		status, body, at := b.get(t, cb.String())
		wantFailed(t, status, body, at, http.StatusBadRequest, "state mismatch")
		b.wantSignedOut(t)
		// The attempt used up the state: the genuine answer fails too.
		status, body, at = b.get(t, b.callback)
		wantFailed(t, status, body, at, http.StatusBadRequest, "expired or was already used")
		b.wantSignedOut(t)
		f.checkNoProblems(t)
	})

	t.Run("replayed callback", func(t *testing.T) {
		f.reset()
		b := newOPBrowser(t)
		b.stopAtCallback = true
		b.signIn(t, "/hello")
		callback := b.callback
		// The state cookie, as an attacker who copied it would send it.
		var stateCookie *http.Cookie
		u, _ := url.Parse(callback)
		for _, c := range b.jar.Cookies(u) {
			if c.Name == "applinks_oidc" {
				stateCookie = c
			}
		}
		if stateCookie == nil {
			t.Fatal("no state cookie after the start of sign-in")
		}
		b.stopAtCallback = false
		if status, body, _ := b.get(t, callback); status != http.StatusOK || body != f.sub()+"@127.0.0.1 READ" {
			t.Fatalf("first use of the callback: %d %q", status, body)
		}
		// Again in the same browser: the state cookie was single-use.
		status, body, at := b.get(t, callback)
		wantFailed(t, status, body, at, http.StatusBadRequest, "expired or was already used")
		// In another browser, without the state cookie.
		other := newOPBrowser(t)
		status, body, at = other.get(t, callback)
		wantFailed(t, status, body, at, http.StatusBadRequest, "expired or was already used")
		other.wantSignedOut(t)
		// With a copy of the state cookie: the provider's code is
		// single-use.
		thief := newOPBrowser(t)
		thief.jar.SetCookies(u, []*http.Cookie{{Name: stateCookie.Name, Value: stateCookie.Value, Path: "/applinks/login"}})
		status, body, at = thief.get(t, callback)
		wantFailed(t, status, body, at, http.StatusBadGateway, "Fake did not accept the sign-in code")
		thief.wantSignedOut(t)
		f.checkNoProblems(t)
	})

	t.Run("callback without sign-in", func(t *testing.T) {
		b := newOPBrowser(t)
		status, body, at := b.get(t, base+users.OIDCCallbackPath("Fake")+"?code=x&state=y")
		wantFailed(t, status, body, at, http.StatusBadRequest, "expired or was already used")
		b.wantSignedOut(t)
	})
}

// TestOIDCLoginAllowedDomains: with allowed_domains, only verified e-mail
// addresses of those domains sign in.
func TestOIDCLoginAllowedDomains(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "READ", "allowed_domains example.com example.org")
	for _, tt := range []struct {
		name   string
		claims map[string]any
	}{
		{"other domain", map[string]any{"email": "mallory@evil.example", "email_verified": true}},
		{"subdomain", map[string]any{"email": "mallory@evil.example.com", "email_verified": true}},
		{"not verified", map[string]any{"email": "mallory@example.com", "email_verified": false}},
		{"no e-mail", map[string]any{"groups": "admins"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.reset()
			f.behave(func(o *fakeOPBehaviour) { o.claims = tt.claims })
			b := newOPBrowser(t)
			status, body, at := b.signIn(t, "/hello")
			wantFailed(t, status, body, at, http.StatusForbidden, "not in a domain allowed to sign in here")
			b.wantSignedOut(t)
		})
	}
	f.reset()
	f.behave(func(o *fakeOPBehaviour) {
		o.claims = map[string]any{"email": "Dave@Example.org", "email_verified": true, "groups": "writers"}
	})
	newOPBrowser(t).wantSignedIn(t, "dave@example.org", "WRITE")
	f.checkNoProblems(t)
}

// TestOIDCLoginDefaultRoleNone: with default_role NONE, an account in no
// mapped group is refused with 403.
func TestOIDCLoginDefaultRoleNone(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "NONE", "")
	for _, claims := range []map[string]any{{}, {"groups": []string{"staff", "Admins"}}} {
		f.reset()
		f.behave(func(o *fakeOPBehaviour) { o.claims = claims })
		b := newOPBrowser(t)
		status, body, at := b.signIn(t, "/hello")
		wantFailed(t, status, body, at, http.StatusForbidden, "Your account has no role on this gateway")
		b.wantSignedOut(t)
	}
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": []string{"staff", "writers"}} })
	newOPBrowser(t).wantSignedIn(t, f.sub()+"@127.0.0.1", "WRITE")
	f.checkNoProblems(t)
}

// TestOIDCLoginProviderDownAtStart: a provider that is down does not stop
// the gateway from starting; its button answers 502 until it is up, and
// sign-in works once the discovery is tried again.
func TestOIDCLoginProviderDownAtStart(t *testing.T) {
	addr := portToReuse(t)
	fakeOPGateway(t, "http://"+addr, "READ", "")

	b := newOPBrowser(t)
	button := b.button(t, "/hello")
	status, body, _ := b.get(t, button)
	if status != http.StatusBadGateway || !strings.Contains(body, "Sign-in provider unavailable") || !strings.Contains(body, "Fake cannot be reached") {
		t.Fatalf("button while the provider is down: %d %s", status, body)
	}
	b.wantSignedOut(t)

	f := newUnstartedFakeOP(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	if f.issuer() != "http://"+addr {
		t.Fatalf("fake at %s, want http://%s", f.issuer(), addr)
	}
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": "writers"} })

	// Discovery is tried again at most every 2s (discoveryRetry).
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, at := b.get(t, button)
		if status == http.StatusOK {
			if body != f.sub()+"@127.0.0.1 WRITE" || at != base+"/hello" {
				t.Fatalf("sign-in once the provider is up ended at %s: %q", at, body)
			}
			break
		}
		if status != http.StatusBadGateway || time.Now().After(deadline) {
			t.Fatalf("button once the provider is up: %d %s", status, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.wantSite(t, f.sub()+"@127.0.0.1", "WRITE")
	f.checkNoProblems(t)
}

// TestOIDCLoginRoleWithdrawnEndsSessions: when the provider no longer gives
// a signed-in account any role (default_role NONE), its next sign-in is
// refused and the sessions it already has stop working at once.
func TestOIDCLoginRoleWithdrawnEndsSessions(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "NONE", "")
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": []string{"admins"}} })
	first := newOPBrowser(t)
	first.wantSignedIn(t, f.sub()+"@127.0.0.1", "ADMIN")

	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{} })
	second := newOPBrowser(t)
	status, body, at := second.signIn(t, "/hello")
	wantFailed(t, status, body, at, http.StatusForbidden, "Your account has no role on this gateway")
	second.wantSignedOut(t)
	if status, body, _ := first.get(t, base+"/whoami"); status != http.StatusUnauthorized {
		t.Fatalf("the earlier session after the role was withdrawn: %d %q, want 401", status, body)
	}

	// The role comes back with the next sign-in.
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": []string{"writers"}} })
	newOPBrowser(t).wantSignedIn(t, f.sub()+"@127.0.0.1", "WRITE")
	f.checkNoProblems(t)
}

// TestOIDCLoginAllowedDomainsIgnoreCase: configured domains match whatever
// their case.
func TestOIDCLoginAllowedDomainsIgnoreCase(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "READ", "allowed_domains Example.ORG")
	f.behave(func(o *fakeOPBehaviour) {
		o.claims = map[string]any{"email": "erin@example.org", "email_verified": true}
	})
	newOPBrowser(t).wantSignedIn(t, "erin@example.org", "READ")
}

// TestOIDCLoginDisabledLocally: an administrator can disable a provider's
// account on the gateway: its session stops working and the provider
// cannot sign it in again.
func TestOIDCLoginDisabledLocally(t *testing.T) {
	f := newFakeOP(t)
	g := fakeOPGateway(t, f.issuer(), "READ", "")
	f.behave(func(o *fakeOPBehaviour) { o.claims = map[string]any{"groups": []string{"writers"}} })
	b := newOPBrowser(t)
	name := f.sub() + "@127.0.0.1"
	b.wantSignedIn(t, name, "WRITE")

	ctx := context.Background()
	g.inStore(func(st store.Store) {
		u, err := st.GetUser(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		u.Disabled = true
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	})
	g.app().Epoch().Bump()
	if status, body, _ := b.get(t, base+"/whoami"); status != http.StatusUnauthorized {
		t.Fatalf("session of a disabled user: %d %q", status, body)
	}
	status, body, at := newOPBrowser(t).signIn(t, "/hello")
	wantFailed(t, status, body, at, http.StatusForbidden, "disabled")
}

// TestOIDCLoginOnlyShowsPasswordFormForLocalUsers: with only a provider
// and no local users the sign-in page has no password form; once an
// administrator creates a local user, the form appears and they sign in.
func TestOIDCLoginOnlyShowsPasswordFormForLocalUsers(t *testing.T) {
	f := newFakeOP(t)
	startGateway(t, gatewayOptions{noUsers: true, site: fakeOPSite, extraGlobal: fmt.Sprintf(`login oidc %s {
			name Fake
			client_id %s
			client_secret %s
		}`, f.issuer(), fakeOPClientID, fakeOPClientSecret)})
	page := func() string {
		resp, err := http.Get(base + "/applinks/login")
		if err != nil {
			t.Fatal(err)
		}
		return readBody(t, resp)
	}
	if p := page(); strings.Contains(p, `name="password"`) || !strings.Contains(p, "Sign in with Fake") {
		t.Fatalf("provider-only sign-in page:\n%s", p)
	}
	if status, m, _ := adminCall(t, "PUT", "/applinks/users/lou", map[string]any{"password": "lou-password-1", "role": "READ"}); status != http.StatusCreated {
		t.Fatalf("create lou: %d %v", status, m)
	}
	if p := page(); !strings.Contains(p, `name="password"`) || !strings.Contains(p, "or with a local account") {
		t.Fatalf("sign-in page with a local user:\n%s", p)
	}
	resp := signIn(t, browser(t), "lou", "lou-password-1")
	resp.Body.Close()
	if resp.Request.URL.Path == "/applinks/login" {
		t.Fatalf("lou could not sign in: %d", resp.StatusCode)
	}
}

// portToReuse returns a loopback address free now, for a server the test
// starts later on it. The port is below Linux's ephemeral range
// (32768–60999), so that no outgoing connection of the test binary (to
// PostgreSQL, say) takes it meanwhile.
func portToReuse(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mathrand.N(10000))
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}
