package oauth2_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/plugins/internal/providertest"
	provider "github.com/applinks/caddy-applinks/plugins/oauth2"
)

// fakeServer is an authorization server whose RFC 8414 metadata is served
// only at metadataPath, for the issuer server URL + issuerPath, changed by
// edit before it is served. Its token endpoint takes the client
// credentials in the body only and accepts the code "c".
type fakeServer struct {
	*httptest.Server
	issuer string
	hits   atomic.Int32
}

func newFakeServer(t *testing.T, issuerPath, metadataPath string, edit func(doc map[string]any)) *fakeServer {
	f := new(fakeServer)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case metadataPath:
			f.hits.Add(1)
			doc := map[string]any{
				"issuer":                                f.issuer,
				"authorization_endpoint":                f.URL + "/authorize",
				"token_endpoint":                        f.URL + "/token",
				"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
				"response_types_supported":              []string{"code"},
			}
			if edit != nil {
				edit(doc)
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(doc)
		case "/token":
			w.Header().Set("Content-Type", "application/json")
			if _, _, basic := r.BasicAuth(); basic || r.PostFormValue("client_id") != "id" || r.PostFormValue("client_secret") != "secret" {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"invalid_client"}`))
				return
			}
			if r.PostFormValue("code") != "c" {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			w.Write([]byte(`{"access_token":"at","token_type":"Bearer","refresh_token":"rt","expires_in":60}`))
		default:
			http.NotFound(w, r)
		}
	}))
	f.issuer = f.URL + issuerPath
	t.Cleanup(f.Close)
	return f
}

func TestStaticEndpoints(t *testing.T) {
	o := &provider.OAuth2{AuthorizationEndpoint: "https://as.example.com/authorize", TokenEndpoint: "https://as.example.com/token"}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	ep, err := o.Endpoint(context.Background(), outgoing.NewClient(time.Second, outgoing.Policy{Private: true}))
	if err != nil {
		t.Fatal(err)
	}
	want := oauth2.Endpoint{AuthURL: "https://as.example.com/authorize", TokenURL: "https://as.example.com/token"}
	if ep != want {
		t.Errorf("Endpoint() = %+v, want %+v", ep, want)
	}
	link := []string{"read", "write"}
	if got := o.Scopes(link); !reflect.DeepEqual(got, link) {
		t.Errorf("Scopes(%v) = %v", link, got)
	}
	if o.AuthCodeOptions() != nil {
		t.Error("AuthCodeOptions() is not empty")
	}
}

func TestProvisionRefuses(t *testing.T) {
	tests := []struct {
		o       *provider.OAuth2
		wantErr string
		refused bool
	}{
		{o: &provider.OAuth2{}, wantErr: "are required"},
		{o: &provider.OAuth2{AuthorizationEndpoint: "https://as.example.com/authorize"}, wantErr: "are required"},
		{o: &provider.OAuth2{Issuer: "https://as.example.com", TokenEndpoint: "https://as.example.com/token"}, wantErr: "not both"},
		{o: &provider.OAuth2{AuthorizationEndpoint: "https://as.example.com/authorize", TokenEndpoint: "http://as.example.com/token"}, wantErr: "token_endpoint", refused: true},
		{o: &provider.OAuth2{AuthorizationEndpoint: "https://169.254.169.254/authorize", TokenEndpoint: "https://as.example.com/token"}, wantErr: "authorization_endpoint", refused: true},
		{o: &provider.OAuth2{Issuer: "https://metadata.google.internal"}, wantErr: "issuer", refused: true},
		{o: &provider.OAuth2{Issuer: "https://as.example.com?tenant=1"}, wantErr: "no query"},
	}
	for _, tt := range tests {
		err := providertest.Provision(t, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("provision(%+v) = %v, want an error mentioning %q", tt.o, err, tt.wantErr)
			continue
		}
		if errors.Is(err, outgoing.ErrRefused) != tt.refused {
			t.Errorf("provision(%+v) = %v; wraps ErrRefused: %v, want %v", tt.o, err, !tt.refused, tt.refused)
		}
	}
}

func TestDiscovery(t *testing.T) {
	tests := []struct{ name, issuerPath, metadataPath string }{
		{"issuer without path", "", "/.well-known/oauth-authorization-server"},
		// RFC 8414 §3.1: the well-known suffix goes before the issuer's path.
		{"issuer with path", "/tenant1", "/.well-known/oauth-authorization-server/tenant1"},
		{"issuer with nested path", "/realms/acme", "/.well-known/oauth-authorization-server/realms/acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, tt.issuerPath, tt.metadataPath, nil)
			o := &provider.OAuth2{Issuer: f.issuer}
			if err := providertest.Provision(t, o); err != nil {
				t.Fatal(err)
			}
			client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
			for range 2 {
				ep, err := o.Endpoint(ctx, client)
				if err != nil {
					t.Fatal(err)
				}
				want := oauth2.Endpoint{AuthURL: f.URL + "/authorize", TokenURL: f.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}
				if ep != want {
					t.Fatalf("Endpoint() = %+v, want %+v", ep, want)
				}
			}
			if n := f.hits.Load(); n != 1 {
				t.Errorf("metadata fetched %d times, want 1 (cached)", n)
			}

			ep, _ := o.Endpoint(ctx, client)
			cfg := oauth2.Config{ClientID: "id", ClientSecret: "secret", Endpoint: ep}
			tok, err := cfg.Exchange(ctx, "c")
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != "at" || tok.RefreshToken != "rt" {
				t.Errorf("token %+v", tok)
			}
		})
	}
}

// TestDiscoveryWrongLocation: an issuer with a path whose metadata is served
// only at the RFC 8414 location is not looked for at <issuer>/.well-known/…
// (the OIDC-style location), and vice versa.
func TestDiscoveryWrongLocation(t *testing.T) {
	f := newFakeServer(t, "/tenant1", "/tenant1/.well-known/oauth-authorization-server", nil)
	o := &provider.OAuth2{Issuer: f.issuer}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	_, err := o.Endpoint(context.Background(), outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true}))
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Endpoint() error %v, want a 404 from the RFC 8414 location", err)
	}
	if f.hits.Load() != 0 {
		t.Error("metadata fetched at <issuer>/.well-known/oauth-authorization-server")
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
			edit:    func(doc map[string]any) { doc["issuer"] = "https://evil.example.com/tenant1" },
			wantErr: "issuer",
		},
		{
			name:    "no issuer",
			edit:    func(doc map[string]any) { delete(doc, "issuer") },
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
			name:    "authorization endpoint link-local",
			edit:    func(doc map[string]any) { doc["authorization_endpoint"] = "https://[fe80::1]/authorize" },
			wantErr: "authorization_endpoint",
			refused: true,
		},
		{
			name:    "no token endpoint",
			edit:    func(doc map[string]any) { delete(doc, "token_endpoint") },
			wantErr: "token_endpoint",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, "/tenant1", "/.well-known/oauth-authorization-server/tenant1", tt.edit)
			o := &provider.OAuth2{Issuer: f.issuer}
			if err := providertest.Provision(t, o); err != nil {
				t.Fatal(err)
			}
			client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
			for range 2 {
				_, err := o.Endpoint(context.Background(), client)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Endpoint() error %v, want one mentioning %q", err, tt.wantErr)
				}
				if errors.Is(err, outgoing.ErrRefused) != tt.refused {
					t.Errorf("errors.Is(%v, ErrRefused) = %v, want %v", err, !tt.refused, tt.refused)
				}
			}
			if n := f.hits.Load(); n != 2 {
				t.Errorf("metadata fetched %d times, want 2 (failures not cached)", n)
			}
		})
	}
}

// TestDiscoveryTooLarge: a metadata document is read up to a limit.
func TestDiscoveryTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"x":"` + strings.Repeat("a", 2<<20) + `"}`))
	}))
	defer srv.Close()
	o := &provider.OAuth2{Issuer: srv.URL}
	if err := providertest.Provision(t, o); err != nil {
		t.Fatal(err)
	}
	_, err := o.Endpoint(context.Background(), outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true}))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Endpoint() error %v, want a size error", err)
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input   string
		want    *provider.OAuth2
		wantErr string
	}{
		{
			input: "oauth2 https://as.example.com/authorize https://as.example.com/token",
			want:  &provider.OAuth2{AuthorizationEndpoint: "https://as.example.com/authorize", TokenEndpoint: "https://as.example.com/token"},
		},
		{input: "oauth2 https://as.example.com/tenant1", want: &provider.OAuth2{Issuer: "https://as.example.com/tenant1"}},
		{input: "oauth2", wantErr: "wrong argument count"},
		{input: "oauth2 a b c", wantErr: "wrong argument count"},
		{input: "oauth2 https://as.example.com {\n\tscope x\n}", wantErr: `unrecognized subdirective "scope"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var o provider.OAuth2
			if !providertest.Unmarshal(t, &o, tt.input, tt.wantErr) {
				return
			}
			if o.AuthorizationEndpoint != tt.want.AuthorizationEndpoint || o.TokenEndpoint != tt.want.TokenEndpoint || o.Issuer != tt.want.Issuer {
				t.Errorf("got %+v, want %+v", &o, tt.want)
			}
		})
	}
}

// TestUnmarshalModule parses the provider the way the outgoing block does.
func TestUnmarshalModule(t *testing.T) {
	unm := providertest.UnmarshalModule(t, "provider oauth2 https://as.example.com/a https://as.example.com/t\nclient_id x")
	if o, ok := unm.(*provider.OAuth2); !ok || o.TokenEndpoint != "https://as.example.com/t" {
		t.Fatalf("got %#v", unm)
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
	f := newFakeServer(t, "/tenant1", "/.well-known/oauth-authorization-server/tenant1", func(doc map[string]any) { doc["token_endpoint"] = other.URL + "/stop" })
	o := &provider.OAuth2{Issuer: f.issuer}
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
