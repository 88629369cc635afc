package outgoing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// recorder is a real listener on 127.0.0.1 that counts the requests that
// reach it.
type recorder struct {
	*httptest.Server
	hits atomic.Int32
}

// newRecorder starts a recorder that answers with h (200 "reached" if
// nil).
func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := new(recorder)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if h != nil {
			h(w, req)
			return
		}
		w.Write([]byte("reached"))
	}))
	t.Cleanup(r.Close)
	return r
}

// addrPort is the listener's address.
func (r *recorder) addrPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(r.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// redirector answers every request with a 307 to target (which keeps a
// POST a POST, as a token request would be).
func redirector(t *testing.T, target string) *recorder {
	return newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
}

// wantRefused checks that a request failed with ErrRefused, at once.
func wantRefused(t *testing.T, what string, resp *http.Response, err error, start time.Time) {
	t.Helper()
	if err == nil {
		resp.Body.Close()
		t.Fatalf("%s: succeeded with %d, want refused", what, resp.StatusCode)
	}
	if !errors.Is(err, outgoing.ErrRefused) {
		t.Fatalf("%s: error %v does not wrap ErrRefused", what, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%s: took %v, want an immediate refusal", what, d)
	}
}

// TestRedirectToAnotherPortIsNotFollowed: a provider endpoint cannot
// bounce the gateway to another service on the same host (such as Caddy's
// admin endpoint on another port of localhost) with a redirect, even for
// a declared link that may reach loopback.
func TestRedirectToAnotherPortIsNotFollowed(t *testing.T) {
	target := newRecorder(t, nil)
	from := redirector(t, target.URL+"/stop")
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	start := time.Now()
	resp, err := client.Post(from.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=authorization_code"))
	wantRefused(t, "POST redirected to another port", resp, err, start)
	if n := target.hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
	if n := from.hits.Load(); n != 1 {
		t.Errorf("the redirecting endpoint got %d requests, want 1", n)
	}
}

// TestRedirectToAnotherHostIsNotFollowed: a redirect may not change the
// host, even to a name of the same address (127.0.0.1 to localhost).
func TestRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	var target *recorder
	target = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "http://localhost:"+r.Host[strings.LastIndex(r.Host, ":")+1:]+"/landed", http.StatusFound)
		}
	})
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	start := time.Now()
	resp, err := client.Get(target.URL + "/start")
	wantRefused(t, "redirect from 127.0.0.1 to localhost", resp, err, start)
	if n := target.hits.Load(); n != 1 {
		t.Errorf("the listener got %d requests, want 1 (the redirect not followed)", n)
	}
}

// TestRedirectToAnotherSchemeIsNotFollowed: a redirect may not change the
// scheme (https to http would send a token request in clear text).
func TestRedirectToAnotherSchemeIsNotFollowed(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/plain", http.StatusFound)
	}))
	defer srv.Close()
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	client.Transport = srv.Client().Transport // trust the test certificate; CheckRedirect is the client's
	start := time.Now()
	resp, err := client.Get(srv.URL + "/start")
	wantRefused(t, "redirect from https to http", resp, err, start)
}

// TestRedirectOnTheSameOriginIsFollowed: redirects within the origin of
// the first request keep working.
func TestRedirectOnTheSameOriginIsFollowed(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		w.Write([]byte("ok"))
	})
	resp, err := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true}).Get(srv.URL + "/old")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/new" {
		t.Fatalf("got %d at %s, want 200 at /new", resp.StatusCode, resp.Request.URL)
	}
}

// TestAdminEndpointIsRefusedEvenForDeclaredLinks: the address Caddy's
// admin endpoint listens on is refused to every client, also one that may
// reach loopback, so a configured or discovered token endpoint cannot
// POST to its /stop.
func TestAdminEndpointIsRefusedEvenForDeclaredLinks(t *testing.T) {
	admin := newRecorder(t, nil)
	ap := admin.addrPort(t)
	for _, p := range []outgoing.Policy{{Private: true, Denied: []netip.AddrPort{ap}}, {Denied: []netip.AddrPort{ap}}} {
		client := outgoing.NewClient(5*time.Second, p)
		for _, raw := range []string{admin.URL + "/stop", "http://localhost:" + itoa(ap.Port()) + "/stop", "http://[::ffff:127.0.0.1]:" + itoa(ap.Port()) + "/stop"} {
			start := time.Now()
			resp, err := client.Post(raw, "application/json", nil)
			wantRefused(t, "POST "+raw, resp, err, start)
		}
		if err := p.Check(admin.URL + "/stop"); !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("Policy%+v.Check(admin) = %v, want ErrRefused", p, err)
		}
	}
	if n := admin.hits.Load(); n != 0 {
		t.Errorf("the admin endpoint got %d requests, want 0", n)
	}
}

// TestRuntimeClientRefusesLoopback: the client of links created at
// runtime connects to no loopback address, so an administrator cannot
// make the gateway call services that listen only on localhost.
func TestRuntimeClientRefusesLoopback(t *testing.T) {
	local := newRecorder(t, nil)
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{})
	for _, raw := range []string{local.URL + "/token", "http://localhost:" + itoa(local.addrPort(t).Port()) + "/token"} {
		start := time.Now()
		resp, err := client.Get(raw)
		wantRefused(t, "GET "+raw, resp, err, start)
	}
	if n := local.hits.Load(); n != 0 {
		t.Errorf("the loopback listener got %d requests, want 0", n)
	}
	// The declared links' client reaches it.
	resp, err := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true}).Get(local.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := local.hits.Load(); n != 1 {
		t.Errorf("the loopback listener got %d requests from the declared client, want 1", n)
	}
}

func TestPolicyCheck(t *testing.T) {
	admin := netip.MustParseAddrPort("127.0.0.1:2019")
	strict := outgoing.Policy{Denied: []netip.AddrPort{admin}}
	private := outgoing.Policy{Private: true, Denied: []netip.AddrPort{admin}}
	for _, tt := range []struct {
		raw             string
		strict, private bool // allowed?
	}{
		{"https://idp.example.com/token", true, true},
		{"https://8.8.8.8/token", true, true},
		{"http://127.0.0.1:9000/token", false, true},
		{"http://localhost:9000/token", false, true},
		{"https://app.localhost:9000/token", false, true},
		{"http://[::1]:9000/token", false, true},
		{"https://10.0.0.5/token", false, true},
		{"https://172.16.0.1/token", false, true},
		{"https://192.168.1.1/token", false, true},
		{"https://100.64.0.1/token", false, true},
		{"https://[fd12::1]/token", false, true},
		{"https://[64:ff9b::a00:5]/token", false, true}, // 10.0.0.5 through NAT64
		{"http://127.0.0.1:2019/stop", false, false},
		{"http://[::ffff:127.0.0.1]:2019/stop", false, false},
		{"https://169.254.169.254/", false, false},
	} {
		if err := strict.Check(tt.raw); (err == nil) != tt.strict {
			t.Errorf("strict Check(%q) = %v, want allowed %v", tt.raw, err, tt.strict)
		}
		if err := private.Check(tt.raw); (err == nil) != tt.private {
			t.Errorf("private Check(%q) = %v, want allowed %v", tt.raw, err, tt.private)
		}
	}
}

// TestDiscoveredEndpointOnAnotherOriginIsRefused: metadata discovered from
// an issuer cannot name endpoints on another scheme, host or port, so it
// cannot point the gateway's token requests at another service.
func TestDiscoveredEndpointOnAnotherOriginIsRefused(t *testing.T) {
	const issuer = "https://idp.example/tenant"
	for _, ep := range []oauth2.Endpoint{
		{AuthURL: "https://idp.example/a", TokenURL: "http://127.0.0.1:2019/stop"},
		{AuthURL: "https://idp.example/a", TokenURL: "https://idp.example:8443/t"},
		{AuthURL: "https://idp.example/a", TokenURL: "https://other.example/t"},
		{AuthURL: "https://evil.example/a", TokenURL: "https://idp.example/t"},
	} {
		var d outgoing.Discovery
		discover := func(context.Context, *http.Client) (oauth2.Endpoint, error) { return ep, nil }
		if got, err := d.Endpoint(t.Context(), nil, issuer, discover); !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("discovered %+v: Endpoint = %+v, %v; want ErrRefused", ep, got, err)
		}
	}
	var d outgoing.Discovery
	same := oauth2.Endpoint{AuthURL: "https://IDP.example:443/a", TokenURL: "https://idp.example/t"}
	discover := func(context.Context, *http.Client) (oauth2.Endpoint, error) { return same, nil }
	if _, err := d.Endpoint(t.Context(), nil, issuer, discover); err != nil {
		t.Errorf("endpoints on the issuer's origin: %v", err)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// TestPrivateOriginsAllowOnlyTheIssuer: a client whose issuer is on
// loopback (a sign-in provider the operator declared) may reach that
// issuer's host and port, but no other loopback listener its documents
// name.
func TestPrivateOriginsAllowOnlyTheIssuer(t *testing.T) {
	issuer := newRecorder(t, nil)
	other := newRecorder(t, nil)
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{PrivateOrigins: []string{issuer.URL + "/realms/x"}})
	resp, err := client.Get(issuer.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("GET the issuer: %v", err)
	}
	resp.Body.Close()
	start := time.Now()
	resp, err = client.Post(other.URL+"/token", "application/x-www-form-urlencoded", nil)
	wantRefused(t, "POST to another loopback listener", resp, err, start)
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the other listener got %d requests, want 0", n)
	}
	if n := issuer.hits.Load(); n != 1 {
		t.Errorf("the issuer got %d requests, want 1", n)
	}
}

// TestLoopbackPolicyAllowsNoPrivateAddress: the loopback-only policy (for
// documents served on this machine in tests) reaches loopback addresses
// but still refuses private ones and the admin endpoint.
func TestLoopbackPolicyAllowsNoPrivateAddress(t *testing.T) {
	admin := netip.MustParseAddrPort("127.0.0.1:2019")
	p := outgoing.Policy{Loopback: true, Denied: []netip.AddrPort{admin}}
	for raw, allowed := range map[string]bool{
		"https://127.0.0.1:9000/client": true,
		"https://localhost:9000/client": true,
		"https://[::1]:9000/client":     true,
		"https://10.0.0.5/client":       false,
		"https://192.168.1.1/client":    false,
		"http://127.0.0.1:2019/stop":    false,
		"https://169.254.169.254/":      false,
		"https://app.example.com/c":     true,
	} {
		if err := p.Check(raw); (err == nil) != allowed {
			t.Errorf("Check(%q) = %v, want allowed %v", raw, err, allowed)
		}
	}
}
