package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
)

// The reload harness's own loopback ports, apart from every other test's.
const (
	reloadHTTPPort  = 9610
	reloadAdminPort = 2610
)

// reloadHarnessEnv names the environment variable that turns the reload
// harness on: APPLINKS_HARNESS=reload. APPLINKS_RELOAD_SECONDS sets how
// long it reloads (default 60).
const reloadHarnessEnv = "APPLINKS_HARNESS"

// requireReloadHarness skips the test unless the harness is turned on, so
// that the default suite stays fast.
func requireReloadHarness(t *testing.T) {
	t.Helper()
	if os.Getenv(reloadHarnessEnv) != "reload" {
		t.Skip("reload harness: runs a real Caddy for a minute; set APPLINKS_HARNESS=reload to run it")
	}
}

// reloadHarnessConfig is the gateway's Caddyfile at generation gen: each
// generation declares one more incoming link and a different access-token
// TTL, so every reload really changes the configuration.
func reloadHarnessConfig(t *testing.T, dir string, gen int) string {
	var extra strings.Builder
	for i := 1; i <= gen; i++ {
		fmt.Fprintf(&extra, "\t\tincoming extra-%03d {\n\t\t\tredirect_uri http://127.0.0.1:9619/extra-%03d\n\t\t\tscope READ\n\t\t\tclient_id extra-client-%03d\n\t\t\tclient_secret extra-secret-%03d-0123456789abcdef\n\t\t}\n", i, i, i, i)
	}
	return fmt.Sprintf(`{
	admin 127.0.0.1:%[1]d
	http_port %[2]d
	grace_period 10s
	applinks {
		storage badger %[3]s
		access_token_ttl %[4]ds
		refresh_grace 30s
		user alice %[5]s ADMIN
		incoming app {
			redirect_uri %[6]s
			scope WRITE
			client_id %[7]s
			client_secret %[8]s
		}
%[9]s	}
}
:%[2]d {
	applinks
	handle /api/* {
		require_token
		respond "guarded ok" 200
	}
}
`, reloadAdminPort, reloadHTTPPort, dir, 600+gen, hashFor(t, password), redirectURI, clientID, secretValue, extra.String())
}

// reloadTally counts a harness's requests by outcome and keeps the first
// failures of each kind. A request is cut when its connection closed
// before any answer (the client cannot know whether it was processed); it
// failed when the gateway answered it wrongly.
type reloadTally struct {
	requests atomic.Int64
	cut      atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	firstCut []string
	first    []string
}

// record counts one request: good, cut (no answer) or failed; what
// describes it.
func (r *reloadTally) record(good, cut bool, what string) bool {
	r.requests.Add(1)
	if good {
		return true
	}
	list := &r.first
	if cut {
		r.cut.Add(1)
		list = &r.firstCut
	} else {
		r.failures.Add(1)
	}
	r.mu.Lock()
	if len(*list) < 10 {
		*list = append(*list, time.Now().Format("15:04:05.000")+" "+what)
	}
	r.mu.Unlock()
	return false
}

// guard sends a guarded request; a cut one is sent again once, as an
// HTTP client may do with a GET, and that retry must be answered.
func (r *reloadTally) guard(url, access string) {
	good, cut, why := guardGet(http.DefaultClient, url, access)
	if r.record(good, cut, why) || !cut {
		return
	}
	good, cut, why = guardGet(http.DefaultClient, url, access)
	r.record(good, false, fmt.Sprintf("retry after a cut: cut %v, %s", cut, why))
}

// reloadGrant is one grant a harness client holds: the newest refresh
// token it received.
type reloadGrant struct {
	mu sync.Mutex
	rt string
}

// guardGet sends one guarded request with an access token and reports
// whether the guard let it through to the upstream, or whether the
// connection closed before an answer.
func guardGet(hc *http.Client, url, access string) (good, cut bool, why string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return false, false, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := hc.Do(req)
	if err != nil {
		return false, true, "guard: " + err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, true, "guard: reading the answer: " + err.Error()
	}
	if resp.StatusCode != http.StatusOK || string(b) != "guarded ok" {
		return false, false, fmt.Sprintf("guard: %d %q", resp.StatusCode, b)
	}
	return true, false, ""
}

// signInCounter is a transport that counts the sign-in forms a browser
// posts.
type signInCounter struct {
	n *atomic.Int64
}

// RoundTrip counts a POST to the sign-in page and sends the request.
func (s signInCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Path == "/applinks/login" {
		s.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// reloadBrowser returns a browser with a cookie jar that stops at the
// redirect to the incoming link's redirect URI and counts its sign-ins in
// signIns.
func reloadBrowser(signIns *atomic.Int64) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: signInCounter{signIns}, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// reloadFlow runs the authorization-code flow with browser c, signing in
// only if the gateway asks, and exchanges the code (PKCE S256).
func reloadFlow(c *http.Client, gw string) (*oauth2.Token, error) {
	conf := &oauth2.Config{
		ClientID: clientID, ClientSecret: secretValue, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: gw + "/rest/oauth2/latest/authorize", TokenURL: gw + "/rest/oauth2/latest/token"},
	}
	code, verifier, err := authorizeCode(c, gw, redirectURI)
	if err != nil {
		return nil, err
	}
	return conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
}

// loadConfig replaces the harness gateway's configuration through the
// admin API's /load, as `caddy reload` does.
func loadConfig(caddyfile string) error { return loadConfigAt(reloadAdminPort, caddyfile) }

// loadConfigAt replaces the configuration of the Caddy whose admin
// endpoint listens on adminPort.
func loadConfigAt(adminPort int, caddyfile string) error {
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/load", adminPort), bytes.NewBufferString(caddyfile))
	if err != nil {
		return fmt.Errorf("building the load request: %w", err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting to /load: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("loading the config: %d %s", resp.StatusCode, b)
	}
	return nil
}

// TestReloadUnderLoadLosesNothing: an operator reloads a changed config
// (one more link, another token TTL) every second for a minute while
// clients run the full sign-in, consent and code-exchange flow, rotate
// refresh tokens and call a guarded route at a steady rate; not one request
// may fail and every grant's newest refresh token must still work after.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	requireReloadHarness(t)
	seconds := 60
	if s := os.Getenv("APPLINKS_RELOAD_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 600 {
			t.Fatalf("APPLINKS_RELOAD_SECONDS=%q: want 1 to 600", s)
		}
		seconds = n
	}
	// APPLINKS_RELOAD_KEEPALIVE=off opens a connection per request, to
	// tell the closing of idle keep-alive connections from other causes.
	if os.Getenv("APPLINKS_RELOAD_KEEPALIVE") == "off" {
		tr := http.DefaultTransport.(*http.Transport)
		tr.DisableKeepAlives = true
		t.Cleanup(func() { tr.DisableKeepAlives = false })
	}
	bin := caddyBinary(t)
	dir := t.TempDir()
	startProcessOn(t, bin, reloadHarnessConfig(t, dir, 0), reloadHTTPPort)
	gw := fmt.Sprintf("http://127.0.0.1:%d", reloadHTTPPort)
	api := gw + "/api/resource"

	var flows, refreshes, guards reloadTally
	var grantsMu sync.Mutex
	var held []*reloadGrant
	hold := func(rt string) *reloadGrant {
		g := &reloadGrant{rt: rt}
		grantsMu.Lock()
		held = append(held, g)
		grantsMu.Unlock()
		return g
	}

	// One grant for the steady guard traffic, one per rotating client.
	const rotators = 4
	first, err := flow.Run(gw, "alice", password, clientID, secretValue, redirectURI, "")
	if err != nil {
		t.Fatal(err)
	}
	guardToken := first.AccessToken
	hold(first.RefreshToken)
	rotating := make([]*reloadGrant, rotators)
	for i := range rotating {
		tok, err := flow.Run(gw, "alice", password, clientID, secretValue, redirectURI, "")
		if err != nil {
			t.Fatal(err)
		}
		rotating[i] = hold(tok.RefreshToken)
	}

	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	// The guard at a steady 50 requests a second.
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !stopped() {
			<-tick.C
			guards.guard(api, guardToken)
		}
	})
	// Signed-in users whose app runs the whole flow (authorize, consent,
	// code exchange with PKCE) and then uses the token it got. Each signs
	// in once and keeps its session across the reloads, as a browser does.
	const browsers = 2
	var signIns atomic.Int64
	for range browsers {
		wg.Go(func() {
			c := reloadBrowser(&signIns)
			for !stopped() {
				tok, err := reloadFlow(c, gw)
				// A cut flow is started again from the beginning.
				if !flows.record(err == nil, errors.As(err, new(*url.Error)), fmt.Sprintf("flow: %v", err)) {
					continue
				}
				hold(tok.RefreshToken)
				guards.guard(api, tok.AccessToken)
			}
		})
	}
	// Clients that rotate their grant's refresh token over and over.
	for _, g := range rotating {
		wg.Go(func() {
			for !stopped() {
				// A cut refresh is sent again with the same token, which
				// refresh_grace makes safe; the loop does that.
				g.mu.Lock()
				status, m := refreshAt(gw, g.rt)
				good := status == http.StatusOK
				if good {
					g.rt = m["refresh_token"].(string)
				}
				g.mu.Unlock()
				if refreshes.record(good, status == 0, fmt.Sprintf("refresh: %d %v", status, m)) {
					guards.guard(api, m["access_token"].(string))
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}

	reloads := 0
	var reloadErrs []string
	start := time.Now()
	for gen := 1; gen <= seconds; gen++ {
		time.Sleep(time.Until(start.Add(time.Duration(gen) * time.Second)))
		if err := loadConfig(reloadHarnessConfig(t, dir, gen)); err != nil {
			reloadErrs = append(reloadErrs, err.Error())
			continue
		}
		reloads++
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)

	// The last generation's TTL applies to the tokens issued now, on a
	// new connection (one kept alive may still end at the old generation).
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	// The guard's grant has not rotated yet, so this is no retry.
	status, m := refreshWith(fresh, gw, held[0].rt)
	if status != http.StatusOK || m["expires_in"] != float64(600+seconds) {
		t.Errorf("a refresh after the last reload: %d, expires_in %v, want %d", status, m["expires_in"], 600+seconds)
	} else {
		held[0].rt = m["refresh_token"].(string)
	}
	// Every grant a client holds still works: its newest refresh token
	// rotates.
	lost := 0
	for i, g := range held {
		if status, m := refreshAt(gw, g.rt); status != http.StatusOK {
			lost++
			if lost <= 5 {
				t.Errorf("grant %d lost: its newest refresh token gives %d %v", i, status, m)
			}
		}
	}
	// Sessions live in the store: no reload signs a browser out.
	if n := signIns.Load(); n != browsers {
		t.Errorf("%d sign-ins by %d browsers: a reload signed users out", n, browsers)
	}
	// The last generation's link is live: its client authenticates.
	if status, m := postFormAt(gw, "extra-client-"+fmt.Sprintf("%03d", seconds), fmt.Sprintf("extra-secret-%03d-0123456789abcdef", seconds)); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("the link added by the last reload does not authenticate: %d %v", status, m)
	}

	t.Logf("reload harness: %d reloads in %s (%d failed); flows %d (%d cut, %d failed), refreshes %d (%d cut, %d failed), guarded requests %d (%d cut, %d failed, %.0f/s); grants held %d, lost %d",
		reloads, elapsed.Round(time.Millisecond), len(reloadErrs),
		flows.requests.Load(), flows.cut.Load(), flows.failures.Load(),
		refreshes.requests.Load(), refreshes.cut.Load(), refreshes.failures.Load(),
		guards.requests.Load(), guards.cut.Load(), guards.failures.Load(), float64(guards.requests.Load())/elapsed.Seconds(),
		len(held), lost)
	for _, e := range reloadErrs {
		t.Errorf("reload failed: %s", e)
	}
	for _, tl := range []*reloadTally{&flows, &refreshes, &guards} {
		for _, f := range tl.firstCut {
			t.Logf("connection closed before an answer during reloads: %s", f)
		}
		for _, f := range tl.first {
			t.Errorf("answered wrongly during reloads: %s", f)
		}
	}
	if os.Getenv("APPLINKS_RELOAD_STRICT") != "" {
		if n := flows.cut.Load() + refreshes.cut.Load() + guards.cut.Load(); n > 0 {
			t.Errorf("APPLINKS_RELOAD_STRICT: %d requests lost their connection during reloads", n)
		}
	}
}

// refreshWith rotates a refresh token at a gateway through hc.
func refreshWith(hc *http.Client, gw, rt string) (int, map[string]any) {
	resp, err := hc.PostForm(gw+"/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}, "client_secret": {secretValue}})
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = decodeJSON(resp, &m)
	return resp.StatusCode, m
}

// postFormAt sends a refresh-token grant with a made-up token for a
// client, to tell a client that authenticates (invalid_grant) from one the
// gateway does not know (invalid_client).
func postFormAt(gw, id, secret string) (int, map[string]any) {
	resp, err := http.PostForm(gw+"/rest/oauth2/latest/token", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {"alr_unknown"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = decodeJSON(resp, &m)
	return resp.StatusCode, m
}

// The control run's loopback ports.
const (
	plainHTTPPort  = 9613
	plainAdminPort = 2613
)

// TestReloadCutsConnectionsInPlainCaddyToo is the control for
// TestReloadUnderLoadLosesNothing: the same reloads of a Caddy without the
// gateway, whose only route answers a static body, while clients POST to
// it as fast as they can. It counts the requests whose connection the
// reload closed before an answer, so the harness's cut requests can be told
// apart from anything the gateway does; it fails only if a request gets a
// wrong answer or a reload fails.
func TestReloadCutsConnectionsInPlainCaddyToo(t *testing.T) {
	requireReloadHarness(t)
	seconds := 15
	config := func(gen int) string {
		return fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\thttp_port %d\n\tgrace_period 10s\n}\n:%d {\n\trespond \"static %d\" 200\n}\n", plainAdminPort, plainHTTPPort, plainHTTPPort, gen)
	}
	bin := caddyBinary(t)
	startPlainCaddy(t, bin, config(0))
	var tally reloadTally
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/", plainHTTPPort), "text/plain", nil)
				if err != nil {
					tally.record(false, true, err.Error())
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				good := err == nil && resp.StatusCode == http.StatusOK && strings.HasPrefix(string(b), "static ")
				tally.record(good, err != nil, fmt.Sprintf("%d %q %v", resp.StatusCode, b, err))
			}
		})
	}
	start := time.Now()
	for gen := 1; gen <= seconds; gen++ {
		time.Sleep(time.Until(start.Add(time.Duration(gen) * time.Second)))
		if err := loadConfigAt(plainAdminPort, config(gen)); err != nil {
			t.Errorf("reload %d: %v", gen, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("plain caddy: %d reloads, %d POSTs, %d cut, %d failed", seconds, tally.requests.Load(), tally.cut.Load(), tally.failures.Load())
	for _, f := range tally.first {
		t.Errorf("answered wrongly during reloads: %s", f)
	}
}

// startPlainCaddy runs Caddy with a Caddyfile that has no gateway and
// waits until it answers.
func startPlainCaddy(t *testing.T, bin, caddyfile string) {
	t.Helper()
	startProcessReady(t, bin, caddyfile, plainHTTPPort, "/")
}
