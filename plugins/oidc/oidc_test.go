package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/plugins/internal/providertest"
	"github.com/applinks/caddy-applinks/plugins/oidc"
)

// fakeIssuer serves a discovery document, which edit changes before it is
// served, and a token endpoint accepting the code "c". It counts the
// requests for the document.
type fakeIssuer struct {
	*httptest.Server
	hits atomic.Int32
}

func newFakeIssuer(t *testing.T, edit func(doc map[string]any)) *fakeIssuer {
	f := new(fakeIssuer)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if r.PostFormValue("code") != "c" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"at","token_type":"Bearer","refresh_token":"rt","expires_in":60}`))
			return
		}
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		f.hits.Add(1)
		doc := map[string]any{
			"issuer":                                f.URL,
			"authorization_endpoint":                f.URL + "/authorize",
			"token_endpoint":                        f.URL + "/token",
			"jwks_uri":                              f.URL + "/jwks",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		}
		if edit != nil {
			edit(doc)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(f.Close)
	return f
}

func TestDiscovery(t *testing.T) {
	f := newFakeIssuer(t, nil)
	o := &oidc.OIDC{Issuer: f.URL}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep, err := o.Endpoint(context.Background(), client)
			if err != nil {
				t.Error(err)
				return
			}
			if ep.AuthURL != f.URL+"/authorize" || ep.TokenURL != f.URL+"/token" {
				t.Errorf("Endpoint() = %+v", ep)
			}
		}()
	}
	wg.Wait()
	if n := f.hits.Load(); n != 1 {
		t.Errorf("discovery document fetched %d times, want 1 (cached)", n)
	}
}

func TestDiscoveryRefused(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(doc map[string]any)
		wantErr string
		refused bool
	}{
		{
			name:    "wrong issuer",
			edit:    func(doc map[string]any) { doc["issuer"] = "https://evil.example.com" },
			wantErr: "issuer",
		},
		{
			name:    "token endpoint on another port (Caddy's admin endpoint)",
			edit:    func(doc map[string]any) { doc["token_endpoint"] = "http://127.0.0.1:2019/stop" },
			wantErr: "origin",
			refused: true,
		},
		{
			name:    "authorization endpoint on another host",
			edit:    func(doc map[string]any) { doc["authorization_endpoint"] = "https://login.example.com/authorize" },
			wantErr: "origin",
			refused: true,
		},
		{
			name:    "token endpoint at the metadata address",
			edit:    func(doc map[string]any) { doc["token_endpoint"] = "http://169.254.169.254/latest/meta-data/" },
			wantErr: "token_endpoint",
			refused: true,
		},
		{
			name:    "authorization endpoint over http",
			edit:    func(doc map[string]any) { doc["authorization_endpoint"] = "http://login.example.com/authorize" },
			wantErr: "authorization_endpoint",
			refused: true,
		},
		{
			name:    "token endpoint with a fragment",
			edit:    func(doc map[string]any) { doc["token_endpoint"] = "https://login.example.com/token#x" },
			wantErr: "fragment",
			refused: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIssuer(t, tt.edit)
			o := &oidc.OIDC{Issuer: f.URL}
			if err := providertest.Provision(t, o); err != nil {
				t.Fatal(err)
			}
			client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
			for range 2 {
				_, err := o.Endpoint(context.Background(), client)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Endpoint() error %v, want one mentioning %q", err, tt.wantErr)
				}
				if tt.refused != errors.Is(err, outgoing.ErrRefused) {
					t.Errorf("errors.Is(%v, ErrRefused) = %v, want %v", err, !tt.refused, tt.refused)
				}
			}
			if n := f.hits.Load(); n != 2 {
				t.Errorf("discovery document fetched %d times, want 2 (failures not cached)", n)
			}
		})
	}
}

func TestDiscoveryNotFound(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	o := &oidc.OIDC{Issuer: srv.URL + "/realms/x"}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Endpoint(context.Background(), outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})); err == nil {
		t.Fatal("Endpoint() succeeded without a discovery document")
	}
}

// TestDiscoveryRedirectToMetadata: the discovery request is made with the
// given client, so a redirect to the metadata service is not followed.
func TestDiscoveryRedirectToMetadata(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusFound))
	defer srv.Close()
	o := &oidc.OIDC{Issuer: srv.URL}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	_, err := o.Endpoint(context.Background(), outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true}))
	if !errors.Is(err, outgoing.ErrRefused) {
		t.Fatalf("Endpoint() error %v, want ErrRefused", err)
	}
}

func TestProvision(t *testing.T) {
	t.Setenv("APPLINKS_TEST_ISSUER", "https://login.example.com/realms/x")
	o := &oidc.OIDC{Issuer: "{env.APPLINKS_TEST_ISSUER}"}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	if o.Issuer != "https://login.example.com/realms/x" {
		t.Errorf("Issuer = %q", o.Issuer)
	}
	for _, issuer := range []string{"http://login.example.com", "https://169.254.169.254", "https://metadata.google.internal"} {
		if err := providertest.Provision(t, &oidc.OIDC{Issuer: issuer}); !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("issuer %s: error %v, want ErrRefused", issuer, err)
		}
	}
	if err := providertest.Provision(t, &oidc.OIDC{}); err == nil || !strings.Contains(err.Error(), "issuer is required") {
		t.Errorf("no issuer: error %v", err)
	}
}

func TestScopes(t *testing.T) {
	o := new(oidc.OIDC)
	tests := []struct{ link, want []string }{
		{nil, []string{"openid"}},
		{[]string{"email", "profile"}, []string{"openid", "email", "profile"}},
		{[]string{"email", "openid"}, []string{"email", "openid"}},
	}
	for _, tt := range tests {
		if got := o.Scopes(tt.link); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Scopes(%v) = %v, want %v", tt.link, got, tt.want)
		}
	}
	if o.AuthCodeOptions() != nil {
		t.Error("AuthCodeOptions() is not empty")
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input   string
		want    string
		wantErr string
	}{
		{input: "oidc https://login.example.com/realms/x", want: "https://login.example.com/realms/x"},
		{input: "oidc", wantErr: "wrong argument count"},
		{input: "oidc https://a.example.com https://b.example.com", wantErr: "wrong argument count"},
		{input: "oidc https://a.example.com {\n\tclient_id x\n}", wantErr: `unrecognized subdirective "client_id"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var o oidc.OIDC
			if !providertest.Unmarshal(t, &o, tt.input, tt.wantErr) {
				return
			}
			if o.Issuer != tt.want {
				t.Errorf("Issuer = %q, want %q", o.Issuer, tt.want)
			}
		})
	}
}

// TestUnmarshalModule parses the provider the way the outgoing block does.
func TestUnmarshalModule(t *testing.T) {
	unm := providertest.UnmarshalModule(t, "provider oidc https://login.example.com\nclient_id x")
	if o, ok := unm.(*oidc.OIDC); !ok || o.Issuer != "https://login.example.com" {
		t.Fatalf("got %#v", unm)
	}
}

// TestExchange runs a code exchange against the discovered token endpoint.
func TestExchange(t *testing.T) {
	f := newFakeIssuer(t, nil)
	o := &oidc.OIDC{Issuer: f.URL}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	ep, err := o.Endpoint(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: "id", ClientSecret: "secret", Endpoint: ep}
	tok, err := cfg.Exchange(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at" || tok.RefreshToken != "rt" {
		t.Errorf("token %+v", tok)
	}
}

// TestNilClientIsStrict: without a client, discovery goes through the
// strict checked client (no loopback), not http.DefaultClient, so a caller
// that forgets the client cannot reach a service on localhost.
func TestNilClientIsStrict(t *testing.T) {
	f := newFakeIssuer(t, nil)
	o := &oidc.OIDC{Issuer: f.URL}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Endpoint(context.Background(), nil); !errors.Is(err, outgoing.ErrRefused) {
		t.Fatalf("Endpoint(nil client) error %v, want ErrRefused for a loopback issuer", err)
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("the loopback issuer got %d requests, want 0", n)
	}
}

// TestDiscoveredTokenEndpointOnAnotherOriginIsRefused: a provider's
// discovery document cannot name a token endpoint on another origin (here
// another listener on loopback, as Caddy's admin endpoint would be), even
// for a declared link whose client may reach loopback; that listener is
// never reached.
func TestDiscoveredTokenEndpointOnAnotherOriginIsRefused(t *testing.T) {
	var reached atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer other.Close()
	f := newFakeIssuer(t, func(doc map[string]any) { doc["token_endpoint"] = other.URL + "/stop" })
	o := &oidc.OIDC{Issuer: f.URL}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	_, err := o.Endpoint(context.Background(), outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true}))
	if !errors.Is(err, outgoing.ErrRefused) || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("Endpoint() error %v, want ErrRefused about the issuer's origin", err)
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the other origin got %d requests, want 0", n)
	}
}
