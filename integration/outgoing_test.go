package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// The gateway's credentials at the fake provider.
const (
	outClientID     = "gw"
	outClientSecret = "gw-secret"
)

// outFake is a fake OAuth 2.0 provider behaving like Microsoft (refresh
// tokens rotate at every refresh) or Google (refresh tokens do not rotate
// and are issued only for access_type=offline and prompt=consent).
//
// It knows no gateway users: every authorization is a new provider
// account numbered from 1, and the tokens it issues name the account and
// a generation: at-<account>-<generation>, rt-<account>-<generation>.
type outFake struct {
	t      testing.TB
	srv    *httptest.Server
	google bool

	mu sync.Mutex
	// Behaviour, set by the tests.
	expiresIn        int    // of tokens from the authorization code
	refreshExpiresIn int    // of tokens from a refresh
	refreshFailure   string // "", "503", "invalid_grant" or "no_access_token"
	exchangeFailure  string // "" or "no_access_token"
	deny             bool   // the authorization endpoint answers error=access_denied
	noRefreshToken   bool   // never issue a refresh token
	iss              string // sent as the authorization response's iss (RFC 9207)
	// What happened.
	accounts        int
	codes           map[string]*outCode
	refreshTokens   map[string]int // valid refresh token → account
	generation      map[int]int    // account → generation of its latest token
	authQueries     []url.Values   // authorization requests
	callbacks       []string       // redirects back to the gateway
	exchanges       int            // successful code exchanges
	lastAccount     int            // account of the latest successful exchange
	refreshAttempts int
	refreshedWith   []string // refresh tokens presented, in order
	metadataFetches int      // requests for its RFC 8414 metadata
}

type outCode struct {
	account     int
	challenge   string
	redirectURI string
	offline     bool // access_type=offline and prompt=consent were asked
	used        bool
}

func newOutFake(t testing.TB, google bool) *outFake {
	f := &outFake{
		t: t, google: google,
		expiresIn: 3600, refreshExpiresIn: 3600,
		codes: map[string]*outCode{}, refreshTokens: map[string]int{}, generation: map[int]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", f.authorize)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", f.metadata)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// set changes the fake's behaviour under its lock.
func (f *outFake) set(change func(f *outFake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// get reads the fake's state under its lock.
func get[T any](f *outFake, read func(f *outFake) T) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return read(f)
}

// metadata serves RFC 8414 metadata naming the fake's endpoints, its
// issuer being its URL.
func (f *outFake) metadata(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.metadataFetches++
	f.mu.Unlock()
	outJSON(w, http.StatusOK, map[string]any{
		"issuer":                                f.srv.URL,
		"authorization_endpoint":                f.srv.URL + "/authorize",
		"token_endpoint":                        f.srv.URL + "/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		"response_types_supported":              []string{"code"},
	})
}

func (f *outFake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.authQueries = append(f.authQueries, q)
	redirect := q.Get("redirect_uri")
	if !strings.HasPrefix(redirect, base+"/applinks/callback/") {
		f.t.Errorf("fake provider: redirect_uri %q is not the gateway's callback", redirect)
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != outClientID || q.Get("response_type") != "code" || q.Get("state") == "" {
		f.t.Errorf("fake provider: bad authorization request %v", q)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if f.deny {
		back.Set("error", "access_denied")
		back.Set("error_description", "The user declined")
	} else {
		f.accounts++
		code := fmt.Sprintf("code-%d", f.accounts)
		f.codes[code] = &outCode{
			account:     f.accounts,
			redirectURI: redirect,
			offline:     q.Get("access_type") == "offline" && q.Get("prompt") == "consent",
		}
		if q.Get("code_challenge_method") == "S256" {
			f.codes[code].challenge = q.Get("code_challenge")
		}
		back.Set("code", code)
	}
	if f.iss != "" {
		back.Set("iss", f.iss)
	}
	target := redirect + "?" + back.Encode()
	f.callbacks = append(f.callbacks, target)
	http.Redirect(w, r, target, http.StatusFound)
}

func (f *outFake) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, basic := r.BasicAuth(); basic {
		f.t.Errorf("fake provider: client credentials sent in the Authorization header, want the body")
	}
	if r.PostForm.Get("client_id") != outClientID || r.PostForm.Get("client_secret") != outClientSecret {
		f.t.Errorf("fake provider: client credentials %q/%q in the body", r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"))
		outJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		c := f.codes[r.PostForm.Get("code")]
		if c == nil || c.used {
			f.t.Errorf("fake provider: unknown or used code %q", r.PostForm.Get("code"))
			outJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
			return
		}
		c.used = true
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if c.challenge == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			f.t.Errorf("fake provider: PKCE verifier does not match the S256 challenge")
			outJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
			return
		}
		if r.PostForm.Get("redirect_uri") != c.redirectURI {
			f.t.Errorf("fake provider: redirect_uri %q at the token endpoint, %q at authorization", r.PostForm.Get("redirect_uri"), c.redirectURI)
			outJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
			return
		}
		if f.exchangeFailure == "no_access_token" {
			outJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600})
			return
		}
		f.exchanges++
		f.lastAccount = c.account
		f.generation[c.account] = 1
		resp := map[string]any{"access_token": fmt.Sprintf("at-%d-1", c.account), "token_type": "Bearer", "expires_in": f.expiresIn}
		if !f.noRefreshToken && (!f.google || c.offline) {
			rt := fmt.Sprintf("rt-%d-1", c.account)
			f.refreshTokens[rt] = c.account
			resp["refresh_token"] = rt
		}
		outJSON(w, http.StatusOK, resp)
	case "refresh_token":
		f.refreshAttempts++
		rt := r.PostForm.Get("refresh_token")
		f.refreshedWith = append(f.refreshedWith, rt)
		switch f.refreshFailure {
		case "503":
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		case "invalid_grant":
			outJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "refresh token revoked"})
			return
		case "429":
			w.Header().Set("Retry-After", "1")
			outJSON(w, http.StatusTooManyRequests, map[string]any{"error": "temporarily_unavailable"})
			return
		case "no_access_token":
			outJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600})
			return
		}
		account, ok := f.refreshTokens[rt]
		if !ok {
			f.t.Errorf("fake provider: refresh with an unknown or rotated-out refresh token %q", rt)
			outJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
			return
		}
		f.generation[account]++
		gen := f.generation[account]
		resp := map[string]any{"access_token": fmt.Sprintf("at-%d-%d", account, gen), "token_type": "Bearer", "expires_in": f.refreshExpiresIn}
		if !f.google { // Microsoft rotates: the old refresh token is spent
			delete(f.refreshTokens, rt)
			next := fmt.Sprintf("rt-%d-%d", account, gen)
			f.refreshTokens[next] = account
			resp["refresh_token"] = next
		}
		outJSON(w, http.StatusOK, resp)
	default:
		f.t.Errorf("fake provider: grant_type %q", r.PostForm.Get("grant_type"))
		outJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
	}
}

func outJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// outLinkConfig declares an outgoing link whose provider (microsoft or
// google) is the fake.
func outLinkConfig(name, provider, mode string, f *outFake) string {
	return fmt.Sprintf(`outgoing %s {
			provider %s {
				authorization_endpoint %s/authorize
				token_endpoint %s/token
			}
			client_id %s
			client_secret %s
			scopes User.Read
			mode %s
		}`, name, provider, f.srv.URL, f.srv.URL, outClientID, outClientSecret, mode)
}

// outSite proxies /api/* (gateway token) and /web/* (gateway token or
// session) to up with the provider token of link.
func outSite(link string, up *httptest.Server) string {
	return fmt.Sprintf(`applinks
	handle /api/* {
		require_token
		outgoing_token %[1]s
		reverse_proxy %[2]s
	}
	handle /web/* {
		require_token {
			session
		}
		outgoing_token %[1]s
		reverse_proxy %[2]s
	}`, link, up.URL)
}

// outGateway starts the gateway with the sys incoming link and one
// outgoing link to the fake.
func outGateway(t *testing.T, f *outFake, up *httptest.Server, link, provider, mode, dir string) *gateway {
	t.Helper()
	return startGateway(t, gatewayOptions{
		dir:         dir,
		extraGlobal: sysLinkConfig + "\n\t\t" + outLinkConfig(link, provider, mode, f),
		site:        outSite(link, up),
	})
}

// outBrowser is a cookie-keeping client that follows redirects between
// the gateway and the fake provider but stops at the gateway's answer to
// the provider's callback, so where it sends the browser can be checked.
func outBrowser(t testing.TB) *http.Client {
	c := browser(t)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return fmt.Errorf("stopped after %d redirects", len(via))
		}
		if strings.HasPrefix(via[len(via)-1].URL.Path, outgoing.CallbackPrefix) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

// outConnect opens /applinks/connect/<link>?return_to=…, signs user in if
// asked to, and follows the browser through the fake provider back to the
// callback. It returns the last answer and its body.
func outConnect(t testing.TB, c *http.Client, link, user, returnTo string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(base + outgoing.ConnectPrefix + link + "?return_to=" + url.QueryEscape(returnTo))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if strings.Contains(body, `name="password"`) {
		if resp.Request.URL.Path != "/applinks/login" {
			t.Fatalf("sign-in form at %s", resp.Request.URL)
		}
		f := flow.HiddenFields(body)
		f.Set("username", user)
		f.Set("password", password)
		resp, err = c.PostForm(base+"/applinks/login", f)
		if err != nil {
			t.Fatal(err)
		}
		body = readBody(t, resp)
	}
	return resp, body
}

// outConnected connects and checks the gateway sent the browser on to
// returnTo.
func outConnected(t testing.TB, c *http.Client, link, user, returnTo string) {
	t.Helper()
	resp, body := outConnect(t, c, link, user, returnTo)
	if !strings.HasPrefix(resp.Request.URL.Path, outgoing.CallbackPrefix+link) || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != returnTo {
		t.Fatalf("connecting %s as %s ended at %s with %d Location %q: %s", link, user, resp.Request.URL.Path, resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// outStatus is the connection status of link for user ("" for shared).
func outStatus(t testing.TB, g *gateway, link, user string) string {
	t.Helper()
	l, err := g.app().Outgoing().Link(context.Background(), link)
	if err != nil {
		t.Fatalf("outgoing link %q: %v", link, err)
	}
	s, err := g.app().Outgoing().Status(context.Background(), l, user)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// outAuthorizationRequired checks a 401 authorization_required answer
// whose authorize_url is the connect URL returning to returnTo.
func outAuthorizationRequired(t testing.TB, resp *http.Response, body, link, returnTo string) {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON (%d): %q", resp.StatusCode, body)
	}
	want := base + outgoing.ConnectPrefix + link + "?return_to=" + url.QueryEscape(returnTo)
	if resp.StatusCode != http.StatusUnauthorized || m["error"] != "authorization_required" || m["authorize_url"] != want {
		t.Fatalf("got %d %v, want 401 authorization_required with authorize_url %s", resp.StatusCode, m, want)
	}
	if strings.Contains(body, "at-") {
		t.Fatalf("a provider token in the error: %s", body)
	}
}

// outWaitExpired sleeps until tokens issued with expires_in 1 at or before
// now have expired.
func outWaitExpired() { time.Sleep(1200 * time.Millisecond) }

// TestOutgoingPerUser: alice connects her account in a browser (sign-in,
// provider, callback, back to return_to); her API calls reach the upstream
// with her provider token in place of the gateway token; bob, not
// connected, is told where to connect and never gets alice's token.
func TestOutgoingPerUser(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")

	if s := outStatus(t, g, "ms", "alice"); s != "" {
		t.Fatalf("status before connecting: %q", s)
	}
	alice := outBrowser(t)
	outConnected(t, alice, "ms", "alice", "/done")
	q := get(f, func(f *outFake) url.Values { return f.authQueries[len(f.authQueries)-1] })
	if scopes := strings.Fields(q.Get("scope")); !slices.Contains(scopes, "User.Read") || !slices.Contains(scopes, "offline_access") {
		t.Errorf("scope asked for: %q, want User.Read and offline_access", q.Get("scope"))
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		t.Errorf("no PKCE S256 challenge: %v", q)
	}
	if q.Get("redirect_uri") != base+"/applinks/callback/ms" {
		t.Errorf("redirect_uri %q", q.Get("redirect_uri"))
	}
	aliceTok := fmt.Sprintf("at-%d-1", get(f, func(f *outFake) int { return f.lastAccount }))
	if s := outStatus(t, g, "ms", "alice"); s != outgoing.StatusValid {
		t.Fatalf("alice's status after connecting: %q", s)
	}

	gwAlice := mint(t, g, "alice", scope.Write)
	resp, s, body := call(t, "GET", "/api/items?x=1", bearer(gwAlice.AccessToken))
	if resp.StatusCode != http.StatusOK || s.Authorization != "Bearer "+aliceTok {
		t.Fatalf("alice's API call: %d %+v %s, want her provider token %s", resp.StatusCode, s, body, aliceTok)
	}
	if s.User != "alice" {
		t.Errorf("upstream saw user %q", s.User)
	}
	// Alice's signed-in browser on the session route gets her token too.
	r, _ := http.NewRequest(http.MethodGet, base+"/web/page", nil)
	r.Header.Set("Accept", "text/html")
	resp, err := alice.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var ws seen
	_ = json.NewDecoder(resp.Body).Decode(&ws)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ws.Authorization != "Bearer "+aliceTok {
		t.Fatalf("alice's browser: %d %+v", resp.StatusCode, ws)
	}

	// Bob has not connected: an API client is told where to connect.
	gwBob := mint(t, g, "bob", scope.Read)
	resp, s, body = call(t, "GET", "/api/items?x=1", bearer(gwBob.AccessToken))
	if strings.Contains(body, aliceTok) || strings.Contains(s.Authorization, aliceTok) {
		t.Fatalf("bob got alice's token: %s", body)
	}
	outAuthorizationRequired(t, resp, body, "ms", "/api/items?x=1")
	resp, _, body = call(t, "HEAD", "/api/items", bearer(gwBob.AccessToken))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bob's HEAD: %d", resp.StatusCode)
	}
	if s := outStatus(t, g, "ms", "bob"); s != "" {
		t.Fatalf("bob's status: %q", s)
	}
	// A browser (bob signed in) is sent to connect, and back.
	bob := outBrowser(t)
	bob.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	signIn(t, bob, "bob", password).Body.Close()
	r, _ = http.NewRequest(http.MethodGet, base+"/web/page?y=2", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err = bob.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if want := base + "/applinks/connect/ms?return_to=%2Fweb%2Fpage%3Fy%3D2"; resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Fatalf("bob's browser: %d Location %q, want 303 %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if strings.Contains(body, aliceTok) {
		t.Fatal("bob's browser got alice's token")
	}

	// Bob connects his own account; each keeps their own token.
	bob = outBrowser(t)
	outConnected(t, bob, "ms", "bob", "/api/items")
	bobTok := fmt.Sprintf("at-%d-1", get(f, func(f *outFake) int { return f.lastAccount }))
	if bobTok == aliceTok {
		t.Fatal("the fake gave both the same account")
	}
	if _, s, _ := call(t, "GET", "/api/x", bearer(gwBob.AccessToken)); s.Authorization != "Bearer "+bobTok {
		t.Fatalf("bob's call carried %q, want %s", s.Authorization, bobTok)
	}
	if _, s, _ := call(t, "GET", "/api/x", bearer(gwAlice.AccessToken)); s.Authorization != "Bearer "+aliceTok {
		t.Fatalf("alice's call carried %q, want %s", s.Authorization, aliceTok)
	}
	// No gateway token, no provider token.
	resp, _, body = call(t, "GET", "/api/x", nil)
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "at-") {
		t.Fatalf("anonymous call: %d %s", resp.StatusCode, body)
	}
	// An off-site return_to is dropped: the connected page is shown.
	resp, body = outConnect(t, alice, "ms", "alice", "https://evil.example/x")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ms is connected") || strings.Contains(body, "evil.example") {
		t.Fatalf("off-site return_to: %d Location %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// TestOutgoingConcurrentRefresh: 100 concurrent requests with an expired
// provider token cause one refresh; all carry the new token; the rotated
// refresh token is stored and works at the next refresh.
func TestOutgoingConcurrentRefresh(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")
	f.set(func(f *outFake) { f.expiresIn, f.refreshExpiresIn = 1, 65 }) // fresh for 5 s past the skew
	outConnected(t, outBrowser(t), "ms", "alice", "/done")
	acct := get(f, func(f *outFake) int { return f.lastAccount })
	gw := mint(t, g, "alice", scope.Write)
	outWaitExpired()

	const n = 100
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Go(func() {
			r, _ := http.NewRequest(http.MethodGet, base+"/api/x", nil)
			r.Header.Set("Authorization", "Bearer "+gw.AccessToken)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var s seen
			if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK {
				errs <- fmt.Sprintf("%d %v", resp.StatusCode, err)
				return
			}
			if want := fmt.Sprintf("Bearer at-%d-2", acct); s.Authorization != want {
				errs <- fmt.Sprintf("upstream saw %q, want %q", s.Authorization, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if elapsed := time.Since(start); elapsed > 4*time.Second {
		t.Logf("the burst took %v: the refreshed token may have gone stale during it", elapsed)
	}
	if got := get(f, func(f *outFake) int { return f.refreshAttempts }); got != 1 {
		t.Fatalf("%d refreshes for %d concurrent requests, want 1", got, n)
	}
	if s := outStatus(t, g, "ms", "alice"); s != outgoing.StatusValid {
		t.Fatalf("status after refresh: %q", s)
	}

	// Once the refreshed token is within the skew, the next request
	// refreshes with the rotated refresh token (the fake refuses the old).
	time.Sleep(time.Until(start.Add(5500 * time.Millisecond)))
	resp, s, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
	if want := fmt.Sprintf("Bearer at-%d-3", acct); resp.StatusCode != http.StatusOK || s.Authorization != want {
		t.Fatalf("second refresh: %d %+v %s, want %s", resp.StatusCode, s, body, want)
	}
	used := get(f, func(f *outFake) []string { return slices.Clone(f.refreshedWith) })
	if want := []string{fmt.Sprintf("rt-%d-1", acct), fmt.Sprintf("rt-%d-2", acct)}; !slices.Equal(used, want) {
		t.Fatalf("refresh tokens presented: %v, want %v", used, want)
	}
}

// TestOutgoingRefreshUnavailable: a 503 from the token endpoint while the
// token has expired gives 502 provider_unavailable and RECOVERABLE; the
// provider is not asked again before the backoff ends; when the provider is
// back, the first request after the backoff refreshes and the status is
// VALID again.
func TestOutgoingRefreshUnavailable(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")
	f.set(func(f *outFake) { f.expiresIn = 1 })
	outConnected(t, outBrowser(t), "ms", "alice", "/done")
	acct := get(f, func(f *outFake) int { return f.lastAccount })
	gw := mint(t, g, "alice", scope.Write)
	outWaitExpired()

	f.set(func(f *outFake) { f.refreshFailure = "503" })
	resp, _, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil || resp.StatusCode != http.StatusBadGateway || m["error"] != "provider_unavailable" {
		t.Fatalf("refresh against a 503: %d %s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if strings.Contains(body, "at-") || strings.Contains(body, "rt-") {
		t.Errorf("a provider token in the error: %s", body)
	}
	if s := outStatus(t, g, "ms", "alice"); s != outgoing.StatusRecoverable {
		t.Fatalf("status after a 503: %q, want RECOVERABLE", s)
	}

	f.set(func(f *outFake) { f.refreshFailure, f.refreshExpiresIn = "", 3600 })
	// Backing off: until RetryAt (2 s after the first failure) the provider
	// is not asked again, and the expired token still cannot be used.
	if resp, _, body := call(t, "GET", "/api/x", bearer(gw.AccessToken)); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("during the backoff: %d %s, want 502", resp.StatusCode, body)
	}
	if used := get(f, func(f *outFake) []string { return slices.Clone(f.refreshedWith) }); len(used) != 1 {
		t.Fatalf("the provider was asked again during the backoff: %v", used)
	}
	time.Sleep(2100 * time.Millisecond)
	resp, s, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
	if want := fmt.Sprintf("Bearer at-%d-2", acct); resp.StatusCode != http.StatusOK || s.Authorization != want {
		t.Fatalf("after the provider recovered: %d %+v %s, want %s", resp.StatusCode, s, body, want)
	}
	if st := outStatus(t, g, "ms", "alice"); st != outgoing.StatusValid {
		t.Fatalf("status after recovery: %q, want VALID", st)
	}
	// The failed attempt did not spend the refresh token.
	if used := get(f, func(f *outFake) []string { return slices.Clone(f.refreshedWith) }); len(used) != 2 || used[0] != used[1] {
		t.Fatalf("refresh tokens presented: %v", used)
	}
}

// TestOutgoingRefreshRevoked: invalid_grant at refresh makes the
// connection UNRECOVERABLE: API clients are told to connect again, the
// provider is not asked again, and connecting again makes it VALID.
func TestOutgoingRefreshRevoked(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")
	f.set(func(f *outFake) { f.expiresIn = 1 })
	alice := outBrowser(t)
	outConnected(t, alice, "ms", "alice", "/done")
	gw := mint(t, g, "alice", scope.Write)
	outWaitExpired()

	f.set(func(f *outFake) { f.refreshFailure = "invalid_grant" })
	resp, _, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
	outAuthorizationRequired(t, resp, body, "ms", "/api/x")
	if s := outStatus(t, g, "ms", "alice"); s != outgoing.StatusUnrecoverable {
		t.Fatalf("status after invalid_grant: %q, want UNRECOVERABLE", s)
	}
	resp, _, body = call(t, "GET", "/api/x", bearer(gw.AccessToken))
	outAuthorizationRequired(t, resp, body, "ms", "/api/x")
	if got := get(f, func(f *outFake) int { return f.refreshAttempts }); got != 1 {
		t.Fatalf("%d refresh attempts, want 1 (an unrecoverable connection is not retried)", got)
	}

	f.set(func(f *outFake) { f.refreshFailure, f.expiresIn = "", 3600 })
	outConnected(t, alice, "ms", "alice", "/api/x")
	acct := get(f, func(f *outFake) int { return f.lastAccount })
	resp, s, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
	if want := fmt.Sprintf("Bearer at-%d-1", acct); resp.StatusCode != http.StatusOK || s.Authorization != want {
		t.Fatalf("after connecting again: %d %+v %s, want %s", resp.StatusCode, s, body, want)
	}
	if st := outStatus(t, g, "ms", "alice"); st != outgoing.StatusValid {
		t.Fatalf("status after connecting again: %q", st)
	}
}

// TestOutgoingShared: a shared link is connected by an administrator only,
// and every user's requests carry its one token.
func TestOutgoingShared(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "team", "microsoft", "shared", "")
	gwAlice, gwBob := mint(t, g, "alice", scope.Write), mint(t, g, "bob", scope.Read)

	resp, _, body := call(t, "GET", "/api/x", bearer(gwBob.AccessToken))
	outAuthorizationRequired(t, resp, body, "team", "/api/x")

	resp, body = outConnect(t, outBrowser(t), "team", "bob", "/done")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Administrators only") {
		t.Fatalf("bob (READ) connecting the shared link: %d %s", resp.StatusCode, body)
	}
	if n := len(get(f, func(f *outFake) []url.Values { return f.authQueries })); n != 0 {
		t.Fatalf("bob was sent to the provider (%d authorization requests)", n)
	}
	if s := outStatus(t, g, "team", ""); s != "" {
		t.Fatalf("shared status after bob's attempt: %q", s)
	}

	outConnected(t, outBrowser(t), "team", "sam", "/done")
	shared := fmt.Sprintf("Bearer at-%d-1", get(f, func(f *outFake) int { return f.lastAccount }))
	if s := outStatus(t, g, "team", ""); s != outgoing.StatusValid {
		t.Fatalf("shared status: %q", s)
	}
	if s := outStatus(t, g, "team", "sam"); s != "" {
		t.Fatalf("a shared connection was stored for sam: %q", s)
	}
	for user, gw := range map[string]string{"bob": gwBob.AccessToken, "alice": gwAlice.AccessToken} {
		resp, s, body := call(t, "GET", "/api/x", bearer(gw))
		if resp.StatusCode != http.StatusOK || s.Authorization != shared {
			t.Fatalf("%s's call: %d %+v %s, want %s", user, resp.StatusCode, s, body, shared)
		}
	}
}

// TestOutgoingRestart: a connection survives stopping the gateway and
// starting it on the same storage.
func TestOutgoingRestart(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	dir := t.TempDir()
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", dir)
	outConnected(t, outBrowser(t), "ms", "alice", "/done")
	want := fmt.Sprintf("Bearer at-%d-1", get(f, func(f *outFake) int { return f.lastAccount }))
	gw := mint(t, g, "alice", scope.Write)
	g.unload()

	g = outGateway(t, f, up, "ms", "microsoft", "per_user", dir)
	resp, s, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
	if resp.StatusCode != http.StatusOK || s.Authorization != want {
		t.Fatalf("after restart: %d %+v %s, want %s", resp.StatusCode, s, body, want)
	}
	if st := outStatus(t, g, "ms", "alice"); st != outgoing.StatusValid {
		t.Fatalf("status after restart: %q", st)
	}
	if n := get(f, func(f *outFake) int { return f.refreshAttempts + f.exchanges }); n != 1 {
		t.Fatalf("%d token requests, want the one exchange", n)
	}
}

// TestOutgoingBadCallbacks: every refused callback shows a page saying
// connecting failed and stores nothing.
func TestOutgoingBadCallbacks(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")
	failed := func(resp *http.Response, body string, status int, message string) {
		t.Helper()
		if resp.StatusCode != status || !strings.Contains(body, "Connecting ms failed") || !strings.Contains(body, message) {
			t.Fatalf("got %d, want %d with %q: %s", resp.StatusCode, status, message, body)
		}
		if strings.Contains(body, "is connected") {
			t.Fatalf("a failed callback shows the connected page: %s", body)
		}
	}
	open := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := outBrowser(t).Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		return resp, readBody(t, resp)
	}

	// A state nobody issued, and one that is not even a state.
	resp, body := open("/applinks/callback/ms?code=code-1&state=" + token.New(token.Session))
	failed(resp, body, http.StatusBadRequest, "expired or was already used")
	resp, body = open("/applinks/callback/ms?code=code-1&state=forged")
	failed(resp, body, http.StatusBadRequest, "no valid state")
	resp, body = open("/applinks/callback/ms?code=code-1")
	failed(resp, body, http.StatusBadRequest, "no valid state")

	// The same callback twice: the second is refused and changes nothing.
	outConnected(t, outBrowser(t), "ms", "alice", "/done")
	lastCallback := func(f *outFake) string { return f.callbacks[len(f.callbacks)-1] }
	resp, err := outBrowser(t).Get(get(f, lastCallback))
	if err != nil {
		t.Fatal(err)
	}
	failed(resp, readBody(t, resp), http.StatusBadRequest, "already used")
	exchanges := func(f *outFake) int { return f.exchanges }
	if n := get(f, exchanges); n != 1 {
		t.Fatalf("%d code exchanges, want 1", n)
	}
	l, _ := g.app().Outgoing().Link(context.Background(), "ms")
	if tok, err := g.app().Outgoing().Token(context.Background(), l, "alice"); err != nil || tok != fmt.Sprintf("at-%d-1", get(f, func(f *outFake) int { return f.lastAccount })) {
		t.Fatalf("alice's token after the replay: %q %v", tok, err)
	}

	// The provider refuses.
	f.set(func(f *outFake) { f.deny = true })
	resp, body = outConnect(t, outBrowser(t), "ms", "wendy", "/done")
	failed(resp, body, http.StatusBadGateway, "The provider refused the authorization: access_denied")
	if s := outStatus(t, g, "ms", "wendy"); s != "" {
		t.Fatalf("wendy's status after access_denied: %q", s)
	}
	// Replaying the error redirect is refused too.
	resp, err = outBrowser(t).Get(get(f, lastCallback))
	if err != nil {
		t.Fatal(err)
	}
	failed(resp, readBody(t, resp), http.StatusBadRequest, "already used")

	// The provider's token answer has no access token.
	f.set(func(f *outFake) { f.deny, f.exchangeFailure = false, "no_access_token" })
	resp, body = outConnect(t, outBrowser(t), "ms", "bob", "/done")
	failed(resp, body, http.StatusBadGateway, "")
	if s := outStatus(t, g, "ms", "bob"); s != "" {
		t.Fatalf("bob's status after an answer without access token: %q", s)
	}
	gwBob := mint(t, g, "bob", scope.Read)
	resp, _, body = call(t, "GET", "/api/x", bearer(gwBob.AccessToken))
	outAuthorizationRequired(t, resp, body, "ms", "/api/x")
	if n := get(f, exchanges); n != 1 {
		t.Fatalf("%d successful code exchanges, want 1", n)
	}

	// Unknown links.
	for _, p := range []string{"/applinks/connect/nope?return_to=/done", "/applinks/callback/nope?code=c&state=" + token.New(token.Session)} {
		resp, body := open(p)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Unknown link") {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// TestOutgoingGoogle: the Google provider asks for offline access with
// consent and keeps its (non-rotating) refresh token; without a refresh
// token and with a short-lived access token the connected page warns, and
// once the token has expired the user is told to connect again.
func TestOutgoingGoogle(t *testing.T) {
	f := newOutFake(t, true)
	up := upstream(t)
	g := outGateway(t, f, up, "gg", "google", "per_user", "")

	f.set(func(f *outFake) { f.expiresIn, f.refreshExpiresIn = 1, 1 })
	outConnected(t, outBrowser(t), "gg", "alice", "/done")
	q := get(f, func(f *outFake) url.Values { return f.authQueries[len(f.authQueries)-1] })
	if q.Get("access_type") != "offline" || q.Get("prompt") != "consent" {
		t.Fatalf("authorization request without offline access and consent: %v", q)
	}
	if q.Get("scope") != "User.Read" || q.Get("code_challenge") == "" {
		t.Fatalf("authorization request: %v", q)
	}
	acct := get(f, func(f *outFake) int { return f.lastAccount })
	// Each call refreshes (the tokens live 1 s, less than the skew) with
	// the same refresh token: Google does not rotate it.
	gw := mint(t, g, "alice", scope.Write)
	outWaitExpired()
	for gen := 2; gen <= 3; gen++ {
		resp, s, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
		if want := fmt.Sprintf("Bearer at-%d-%d", acct, gen); resp.StatusCode != http.StatusOK || s.Authorization != want {
			t.Fatalf("call %d: %d %+v %s, want %s", gen-1, resp.StatusCode, s, body, want)
		}
	}
	rt := fmt.Sprintf("rt-%d-1", acct)
	if used := get(f, func(f *outFake) []string { return slices.Clone(f.refreshedWith) }); !slices.Equal(used, []string{rt, rt}) {
		t.Fatalf("refresh tokens presented: %v, want %s twice", used, rt)
	}

	// No refresh token and a short lifetime: the page warns.
	f.set(func(f *outFake) { f.noRefreshToken, f.expiresIn = true, 600 })
	resp, body := outConnect(t, outBrowser(t), "gg", "bob", "/done")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "gg is connected") || !strings.Contains(body, "refresh token is not present") {
		t.Fatalf("connected without refresh token: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `href="/done"`) {
		t.Errorf("the warning page has no link to return_to: %s", body)
	}
	if s := outStatus(t, g, "gg", "bob"); s != outgoing.StatusValid {
		t.Fatalf("bob's status: %q", s)
	}

	// Such a token cannot be renewed once it expires.
	f.set(func(f *outFake) { f.expiresIn = 1 })
	wendy := outBrowser(t)
	if resp, body := outConnect(t, wendy, "gg", "wendy", "/done"); !strings.Contains(body, "refresh token is not present") {
		t.Fatalf("wendy connecting: %d %s", resp.StatusCode, body)
	}
	gwWendy := mint(t, g, "wendy", scope.Write)
	outWaitExpired()
	before := get(f, func(f *outFake) int { return f.refreshAttempts })
	resp, _, body = call(t, "GET", "/api/x", bearer(gwWendy.AccessToken))
	outAuthorizationRequired(t, resp, body, "gg", "/api/x")
	if s := outStatus(t, g, "gg", "wendy"); s != outgoing.StatusUnrecoverable {
		t.Fatalf("wendy's status: %q, want UNRECOVERABLE", s)
	}
	if after := get(f, func(f *outFake) int { return f.refreshAttempts }); after != before {
		t.Fatalf("the gateway tried to refresh without a refresh token")
	}
}

// TestOutgoingCallbackInAnotherBrowser: an authorization started by one
// user whose provider answer is carried to another browser (a victim
// lured to the provider URL) is refused and connects nothing (RFC 6749
// §10.12): the victim's provider account never becomes the starter's.
func TestOutgoingCallbackInAnotherBrowser(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")

	attacker := outBrowser(t)
	signIn(t, attacker, "alice", password).Body.Close()
	attacker.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host != fmt.Sprintf("127.0.0.1:%d", httpPort) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := attacker.Get(base + outgoing.ConnectPrefix + "ms")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	providerURL := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || providerURL == "" {
		t.Fatalf("connect: %d %q", resp.StatusCode, providerURL)
	}
	// The victim is signed in to the gateway as bob. (The pending
	// authorization is single-use, so one victim is all there can be.)
	victim := outBrowser(t)
	signIn(t, victim, "bob", password).Body.Close()
	resp, err = victim.Get(providerURL)
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "started by someone else") {
		t.Fatalf("the callback in the victim's browser answered %d: %s", resp.StatusCode, page)
	}
	for _, user := range []string{"alice", "bob"} {
		if st := outStatus(t, g, "ms", user); st != "" {
			t.Fatalf("%s has a connection (%s) after a refused callback", user, st)
		}
	}
}

// TestOutgoingRefreshRateLimited: a 429 from the token endpoint is
// temporary: RECOVERABLE and 502, not UNRECOVERABLE.
func TestOutgoingRefreshRateLimited(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")
	f.set(func(f *outFake) { f.expiresIn = 1 })
	outConnected(t, outBrowser(t), "ms", "alice", "/done")
	gw := mint(t, g, "alice", scope.Write)
	outWaitExpired()
	f.set(func(f *outFake) { f.refreshFailure = "429" })
	if resp, _, body := call(t, "GET", "/api/x", bearer(gw.AccessToken)); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("refresh against a 429: %d %s", resp.StatusCode, body)
	}
	if st := outStatus(t, g, "ms", "alice"); st != outgoing.StatusRecoverable {
		t.Fatalf("status after a 429: %q, want RECOVERABLE", st)
	}
	if got := metric(t, `applinks_outgoing_refreshes_total{outcome="recoverable"}`); got != 1 {
		t.Errorf("recoverable outgoing refreshes = %v, want 1", got)
	}
}

// TestOutgoingRuntimeLink: an outgoing link created at runtime (as the
// admin API will) survives a restart with its sealed secret, can be used
// by outgoing_token and connected, and deleting it removes its
// connections.
func TestOutgoingRuntimeLink(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{dir: dir, extraGlobal: sysLinkConfig + allowPrivate})
	ctx := context.Background()
	provider := fmt.Sprintf(`{"provider":"microsoft","authorization_endpoint":%q,"token_endpoint":%q}`, f.srv.URL+"/authorize", f.srv.URL+"/token")
	_, err := g.app().Outgoing().Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{
		Name: "rt", ProviderRaw: json.RawMessage(provider), ClientID: "gw", ClientSecret: "gw-secret", Scopes: []string{"User.Read"},
	}, CreatedBy: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.app().Outgoing().Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{Name: "rt", ProviderRaw: json.RawMessage(provider), ClientID: "x"}}); err == nil {
		t.Fatal("a second link named rt was created")
	}
	if _, err := g.app().Outgoing().Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{Name: "bad", ProviderRaw: json.RawMessage(`{"provider":"oauth2","authorization_endpoint":"http://169.254.169.254/a","token_endpoint":"https://x.example/t"}`), ClientID: "x"}}); err == nil {
		t.Fatal("a link with a metadata-address endpoint was created")
	}
	g.unload()

	// After a restart, a config that uses the runtime link loads it.
	g = startGateway(t, gatewayOptions{dir: dir, extraGlobal: sysLinkConfig + allowPrivate, site: outSite("rt", up)})
	outConnected(t, outBrowser(t), "rt", "alice", "/done")
	gw := mint(t, g, "alice", scope.Write)
	resp, s, body := call(t, "GET", "/api/x", bearer(gw.AccessToken))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(s.Authorization, "Bearer at-") {
		t.Fatalf("through the runtime link: %d %+v %s", resp.StatusCode, s, body)
	}
	if err := g.app().Outgoing().Delete(ctx, "rt", "sam"); err != nil {
		t.Fatal(err)
	}
	if conns, err := g.app().Outgoing().Connections(ctx, store.ConnectionFilter{LinkID: "rt"}); err != nil || len(conns) != 0 {
		t.Fatalf("connections of the deleted link: %v %v", conns, err)
	}
	if resp, _, _ := call(t, "GET", "/api/x", bearer(gw.AccessToken)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("through the deleted link: %d, want 503", resp.StatusCode)
	}
}
