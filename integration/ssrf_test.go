package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
)

// adminBaseURL is the test Caddy's admin endpoint (admin localhost:2999).
const adminBaseURL = "http://localhost:2999"

// caddyAlive checks that Caddy still runs: its admin endpoint answers and
// the gateway's site still serves.
func caddyAlive(t *testing.T) {
	t.Helper()
	resp, err := http.Get(adminBaseURL + "/config/")
	if err != nil {
		t.Fatalf("Caddy's admin endpoint is gone: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Caddy's admin endpoint answers %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/applinks/login")
	if err != nil {
		t.Fatalf("the gateway is gone: %v", err)
	}
	resp.Body.Close()
}

// reachRecorder is a real listener on 127.0.0.1 that counts the requests
// reaching it.
type reachRecorder struct {
	*httptest.Server
	hits atomic.Int32
}

func newReachRecorder(t *testing.T, h http.HandlerFunc) *reachRecorder {
	t.Helper()
	r := new(reachRecorder)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if h != nil {
			h(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// declaredLink declares outgoing link name with the given provider lines.
func declaredLink(name, provider string) string {
	return fmt.Sprintf(`outgoing %s {
			%s
			client_id %s
			client_secret %s
			scopes User.Read
		}`, name, provider, outClientID, outClientSecret)
}

// connectFails connects alice to link and checks that the gateway did
// not connect her: the callback (or the connect page) answers with an
// error, and no connection is stored.
func connectFails(t *testing.T, g *gateway, link string) (*http.Response, string) {
	t.Helper()
	resp, body := outConnect(t, outBrowser(t), link, "alice", "/done")
	if resp.StatusCode < 400 {
		t.Fatalf("connecting %s: %d at %s, want an error:\n%s", link, resp.StatusCode, resp.Request.URL, body)
	}
	if s := outStatus(t, g, link, "alice"); s != "" {
		t.Fatalf("connecting %s stored a connection with status %q", link, s)
	}
	return resp, body
}

// TestOutgoingTokenEndpointOnCaddyAdminIsRefused: a token endpoint named
// in the Caddyfile on Caddy's admin endpoint (here its /stop) is never
// posted to, so completing an authorization cannot make Caddy exit.
func TestOutgoingTokenEndpointOnCaddyAdminIsRefused(t *testing.T) {
	f := newOutFake(t, false)
	for _, token := range []string{adminBaseURL + "/stop", "http://127.0.0.1:2999/stop"} {
		t.Run(token, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{extraGlobal: declaredLink("adm", fmt.Sprintf(`provider microsoft {
				authorization_endpoint %s/authorize
				token_endpoint %s
			}`, f.srv.URL, token))})
			resp, body := connectFails(t, g, "adm")
			if resp.StatusCode != http.StatusBadGateway || !strings.HasPrefix(resp.Request.URL.Path, outgoing.CallbackPrefix) {
				t.Fatalf("callback: %d at %s, want 502 from the code exchange:\n%s", resp.StatusCode, resp.Request.URL, body)
			}
			caddyAlive(t)
		})
	}
}

// TestOutgoingTokenRedirectToCaddyAdminIsNotFollowed: a token endpoint
// that answers with a redirect (307 keeps the POST) to Caddy's admin
// /stop does not make the gateway post there.
func TestOutgoingTokenRedirectToCaddyAdminIsNotFollowed(t *testing.T) {
	f := newOutFake(t, false)
	bounce := newReachRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, adminBaseURL+"/stop", http.StatusTemporaryRedirect)
	})
	g := startGateway(t, gatewayOptions{extraGlobal: declaredLink("bounce", fmt.Sprintf(`provider microsoft {
				authorization_endpoint %s/authorize
				token_endpoint %s/token
			}`, f.srv.URL, bounce.URL))})
	resp, body := connectFails(t, g, "bounce")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("callback: %d, want 502:\n%s", resp.StatusCode, body)
	}
	if n := bounce.hits.Load(); n != 1 {
		t.Errorf("the redirecting token endpoint got %d requests, want 1", n)
	}
	caddyAlive(t)
}

// TestOutgoingDiscoveryOfAnotherOriginIsRefused: a declared provider's
// RFC 8414 metadata that names a token endpoint on another origin (another
// listener on loopback) is refused, and that listener is never reached.
func TestOutgoingDiscoveryOfAnotherOriginIsRefused(t *testing.T) {
	other := newReachRecorder(t, nil)
	var issuer *reachRecorder
	issuer = newReachRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/oauth-authorization-server" {
			http.NotFound(w, r)
			return
		}
		outJSON(w, http.StatusOK, map[string]any{
			"issuer":                 issuer.URL,
			"authorization_endpoint": issuer.URL + "/authorize",
			"token_endpoint":         other.URL + "/stop",
		})
	})
	g := startGateway(t, gatewayOptions{extraGlobal: declaredLink("disc", "provider oauth2 "+issuer.URL)})
	connectFails(t, g, "disc")
	if issuer.hits.Load() == 0 {
		t.Error("the issuer's metadata was not fetched")
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the other origin got %d requests, want 0", n)
	}
	l, err := g.app().Outgoing().Link(context.Background(), "disc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Provider.Endpoint(context.Background(), nil); !errors.Is(err, outgoing.ErrRefused) {
		t.Fatalf("discovery error %v, want ErrRefused", err)
	}
}

// TestOutgoingDeclaredLoopbackIssuerIsAllowed: a link the operator
// declared in the Caddyfile may use an issuer on loopback (discovery,
// authorization and code exchange all work).
func TestOutgoingDeclaredLoopbackIssuerIsAllowed(t *testing.T) {
	f := newOutFake(t, false)
	g := startGateway(t, gatewayOptions{extraGlobal: declaredLink("loop", "provider oauth2 "+f.srv.URL)})
	outConnected(t, outBrowser(t), "loop", "alice", "/done")
	if s := outStatus(t, g, "loop", "alice"); s != outgoing.StatusValid {
		t.Fatalf("status %q, want VALID", s)
	}
	if n := get(f, func(f *outFake) int { return f.metadataFetches }); n == 0 {
		t.Error("the issuer's metadata was not fetched")
	}
}

// TestOutgoingRuntimeLoopbackIssuerIsRefused: an administrator cannot
// create, through the service, the admin API or the two-way wizard, an
// outgoing link to a provider on loopback (where Caddy's admin endpoint
// and other local services listen), and the provider is never reached.
func TestOutgoingRuntimeLoopbackIssuerIsRefused(t *testing.T) {
	f := newOutFake(t, false)
	g := startGateway(t, gatewayOptions{})
	ctx := context.Background()
	port := f.srv.URL[strings.LastIndex(f.srv.URL, ":")+1:]
	for _, provider := range []string{
		fmt.Sprintf(`{"provider":"oauth2","issuer":%q}`, f.srv.URL),
		fmt.Sprintf(`{"provider":"oauth2","issuer":"http://localhost:%s"}`, port),
		fmt.Sprintf(`{"provider":"oidc","issuer":%q}`, f.srv.URL),
		fmt.Sprintf(`{"provider":"microsoft","authorization_endpoint":"%[1]s/authorize","token_endpoint":"%[1]s/token"}`, f.srv.URL),
		`{"provider":"oauth2","authorization_endpoint":"https://10.1.2.3/a","token_endpoint":"https://10.1.2.3/t"}`,
	} {
		_, err := g.app().Outgoing().Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{Name: "local", ProviderRaw: json.RawMessage(provider), ClientID: "c"}})
		if !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("Create with %s: %v, want ErrRefused", provider, err)
		}
		if _, err := g.app().Outgoing().Probe(ctx, json.RawMessage(provider)); !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("Probe of %s: %v, want ErrRefused", provider, err)
		}
	}
	g.inStore(func(st store.Store) {
		if _, err := st.GetOutgoingLink(ctx, "local"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused link was stored: %v", err)
		}
	})
	api := map[string]any{"name": "local", "provider": map[string]any{"provider": "oauth2", "issuer": f.srv.URL}, "client_id": "c"}
	if status, m, _ := adminCall(t, "POST", "/applinks/outgoing", api); status != http.StatusBadRequest {
		t.Fatalf("admin API create of a loopback issuer: %d %v, want 400", status, m)
	}
	sam := browser(t)
	signIn(t, sam, "sam", password)
	wizard := "/applinks/admin/new/gateway"
	status, _, page := adminPost(t, sam, wizard, wizard, url.Values{"action": {"discover"}, "url": {f.srv.URL}, "name": {"local"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "url"), "loopback") {
		t.Fatalf("wizard with a loopback gateway: %d, url error %q, want 422 about loopback", status, fieldError(page, "url"))
	}
	custom := "/applinks/admin/new/outgoing?provider=custom"
	status, _, page = adminPost(t, sam, custom, "/applinks/admin/new/outgoing", url.Values{
		"provider": {"custom"}, "name": {"local"}, "authorization_endpoint": {f.srv.URL + "/authorize"}, "token_endpoint": {f.srv.URL + "/token"},
		"client_id": {"c"}, "client_secret": {"s"}, "action": {"save"},
	})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "token_endpoint"), "loopback") {
		t.Fatalf("custom link to loopback: %d, token_endpoint error %q, want 422 about loopback", status, fieldError(page, "token_endpoint"))
	}
	if n := get(f, func(f *outFake) int { return f.metadataFetches + len(f.authQueries) }); n != 0 {
		t.Errorf("the loopback provider got %d requests, want 0", n)
	}
}

// TestOutgoingAllowPrivateEndpointsNeverReachesCaddyAdmin: with
// allow_private_endpoints, links created at runtime may use a loopback
// provider, but still never Caddy's admin endpoint.
func TestOutgoingAllowPrivateEndpointsNeverReachesCaddyAdmin(t *testing.T) {
	f := newOutFake(t, false)
	g := startGateway(t, gatewayOptions{extraGlobal: "allow_private_endpoints"})
	ctx := context.Background()
	if _, err := g.app().Outgoing().Probe(ctx, json.RawMessage(fmt.Sprintf(`{"provider":"oauth2","issuer":%q}`, f.srv.URL))); err != nil {
		t.Fatalf("Probe of a loopback issuer with allow_private_endpoints: %v", err)
	}
	for _, provider := range []string{
		fmt.Sprintf(`{"provider":"oauth2","issuer":%q}`, adminBaseURL),
		`{"provider":"oauth2","issuer":"http://127.0.0.1:2999"}`,
	} {
		if _, err := g.app().Outgoing().Probe(ctx, json.RawMessage(provider)); !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("Probe of %s: %v, want ErrRefused", provider, err)
		}
	}
	// A runtime link whose token endpoint is the admin endpoint under a
	// name (the address is known only once resolved) is created, but the
	// code exchange never reaches it.
	_, err := g.app().Outgoing().Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{
		Name: "rt", ProviderRaw: json.RawMessage(fmt.Sprintf(`{"provider":"microsoft","authorization_endpoint":"%s/authorize","token_endpoint":"%s/stop"}`, f.srv.URL, adminBaseURL)),
		ClientID: outClientID, ClientSecret: outClientSecret, Scopes: []string{"User.Read"},
	}, CreatedBy: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := connectFails(t, g, "rt")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("callback: %d, want 502:\n%s", resp.StatusCode, body)
	}
	caddyAlive(t)
}

// TestOIDCSignInTokenEndpointOnCaddyAdminIsRefused: a sign-in provider
// (login oidc) whose discovery document names Caddy's admin /stop as its
// token endpoint, or another loopback listener, or whose token endpoint
// redirects there, does not make the gateway post there when someone
// completes a sign-in.
func TestOIDCSignInTokenEndpointOnCaddyAdminIsRefused(t *testing.T) {
	other := newReachRecorder(t, nil)
	for _, tt := range []struct{ name, token string }{
		{"admin endpoint", adminBaseURL + "/stop"},
		{"another loopback listener", other.URL + "/token"},
		{"redirect to the admin endpoint", ""}, // the provider's own /token redirects
	} {
		t.Run(tt.name, func(t *testing.T) {
			var op *reachRecorder
			op = newReachRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/.well-known/openid-configuration":
					token := tt.token
					if token == "" {
						token = op.URL + "/token"
					}
					writeJSONFake(w, http.StatusOK, map[string]any{
						"issuer":                                op.URL,
						"authorization_endpoint":                op.URL + "/authorize",
						"token_endpoint":                        token,
						"jwks_uri":                              op.URL + "/jwks",
						"response_types_supported":              []string{"code"},
						"subject_types_supported":               []string{"public"},
						"id_token_signing_alg_values_supported": []string{"ES256"},
					})
				case "/authorize":
					q := r.URL.Query()
					http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"state": {q.Get("state")}, "code": {"c"}}.Encode(), http.StatusFound)
				case "/token":
					http.Redirect(w, r, adminBaseURL+"/stop", http.StatusTemporaryRedirect)
				default:
					http.NotFound(w, r)
				}
			})
			fakeOPGateway(t, op.URL, "READ", "")
			b := newOPBrowser(t)
			status, body, at := b.signIn(t, "/hello")
			wantFailed(t, status, body, at, http.StatusBadGateway, "did not accept the sign-in code")
			caddyAlive(t)
		})
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the other loopback listener got %d requests, want 0", n)
	}
}
