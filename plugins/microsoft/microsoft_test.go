package microsoft_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/plugins/internal/providertest"
	"github.com/applinks/caddy-applinks/plugins/microsoft"
)

func TestEndpoints(t *testing.T) {
	tests := []struct {
		tenant, auth, token string
	}{
		{"", "https://login.microsoftonline.com/common/oauth2/v2.0/authorize", "https://login.microsoftonline.com/common/oauth2/v2.0/token"},
		{"organizations", "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize", "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"},
		{"contoso.onmicrosoft.com", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"},
		{"72f988bf-86f1-41af-91ab-2d7cd011db47", "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize", "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"},
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			m := &microsoft.Microsoft{Tenant: tt.tenant}
			if err := providertest.Provision(t, m); err != nil {
				t.Fatal(err)
			}
			ep, err := m.Endpoint(context.Background(), outgoing.NewClient(time.Second, outgoing.Policy{Private: true}))
			if err != nil {
				t.Fatal(err)
			}
			want := oauth2.Endpoint{AuthURL: tt.auth, TokenURL: tt.token, AuthStyle: oauth2.AuthStyleInParams}
			if ep != want {
				t.Errorf("Endpoint() = %+v, want %+v", ep, want)
			}
			if len(m.AuthCodeOptions()) != 0 {
				t.Error("AuthCodeOptions() is not empty")
			}
		})
	}
}

// TestTenantInjection: a tenant cannot change the endpoints' host or path.
func TestTenantInjection(t *testing.T) {
	for _, tenant := range []string{"..", ".", "../evil", "evil.com/x", "a?b=c", "a#b", "a@evil.com", "a b", "common%2F.."} {
		err := providertest.Provision(t, &microsoft.Microsoft{Tenant: tenant})
		if err == nil || !strings.Contains(err.Error(), "tenant") {
			t.Errorf("tenant %q: error %v, want a tenant error", tenant, err)
		}
	}
}

func TestProvisionRefusesEndpoints(t *testing.T) {
	for _, m := range []*microsoft.Microsoft{
		{FixedEndpoints: outgoing.FixedEndpoints{TokenEndpoint: "http://169.254.169.254/token"}},
		{FixedEndpoints: outgoing.FixedEndpoints{AuthorizationEndpoint: "http://login.example.com/authorize"}},
		{FixedEndpoints: outgoing.FixedEndpoints{TokenEndpoint: "https://[fd00:ec2::254]/token"}},
	} {
		if err := providertest.Provision(t, m); !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("provision(%+v) = %v, want ErrRefused", m, err)
		}
	}
}

func TestScopes(t *testing.T) {
	m := new(microsoft.Microsoft)
	tests := []struct{ link, want []string }{
		{nil, []string{"offline_access"}},
		{[]string{"Files.Read"}, []string{"Files.Read", "offline_access"}},
		{[]string{"offline_access", "Files.Read"}, []string{"offline_access", "Files.Read"}},
	}
	for _, tt := range tests {
		link := make([]string, len(tt.link), len(tt.link)+4) // room to append into
		copy(link, tt.link)
		got := m.Scopes(link)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Scopes(%v) = %v, want %v", tt.link, got, tt.want)
		}
		if !reflect.DeepEqual(link, tt.link) && len(tt.link) > 0 {
			t.Errorf("Scopes changed its argument to %v", link)
		}
		if len(link) > 0 && &got[0] == &link[0] {
			t.Error("Scopes returned the link's own array")
		}
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input   string
		want    microsoft.Microsoft
		wantErr string
	}{
		{input: "microsoft", want: microsoft.Microsoft{}},
		{input: "microsoft organizations", want: microsoft.Microsoft{Tenant: "organizations"}},
		{
			input: "microsoft {\n\ttenant contoso.com\n\tauthorization_endpoint http://127.0.0.1:9/a\n\ttoken_endpoint http://127.0.0.1:9/t\n}",
			want:  microsoft.Microsoft{Tenant: "contoso.com", FixedEndpoints: outgoing.FixedEndpoints{AuthorizationEndpoint: "http://127.0.0.1:9/a", TokenEndpoint: "http://127.0.0.1:9/t"}},
		},
		{input: "microsoft a b", wantErr: "wrong argument count"},
		{input: "microsoft {\n\ttenant\n}", wantErr: "wrong argument count"},
		{input: "microsoft {\n\tissuer x\n}", wantErr: `unrecognized subdirective "issuer"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var m microsoft.Microsoft
			if !providertest.Unmarshal(t, &m, tt.input, tt.wantErr) {
				return
			}
			if m != tt.want {
				t.Errorf("got %+v, want %+v", m, tt.want)
			}
		})
	}
}

// TestUnmarshalModule parses the provider the way the outgoing block does.
func TestUnmarshalModule(t *testing.T) {
	unm := providertest.UnmarshalModule(t, "provider microsoft consumers\nclient_id x")
	if m, ok := unm.(*microsoft.Microsoft); !ok || m.Tenant != "consumers" {
		t.Fatalf("got %#v", unm)
	}
}

// TestAgainstFakeMicrosoft: a fake token endpoint that, like Microsoft's,
// returns a refresh token only for offline_access and rotates it.
func TestAgainstFakeMicrosoft(t *testing.T) {
	var refreshes int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tenant/oauth2/v2.0/token" || r.PostFormValue("client_id") != "id" || r.PostFormValue("client_secret") != "secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		resp := map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600}
		if strings.Contains(" "+r.PostFormValue("scope")+" ", " offline_access ") || r.PostFormValue("grant_type") == "refresh_token" {
			refreshes++
			resp["refresh_token"] = "rt" + strings.Repeat("x", refreshes)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}))
	defer srv.Close()
	m := &microsoft.Microsoft{Tenant: "tenant", FixedEndpoints: outgoing.FixedEndpoints{TokenEndpoint: srv.URL + "/tenant/oauth2/v2.0/token"}}
	if err := providertest.Provision(t, m); err != nil {
		t.Fatal(err)
	}
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	ep, err := m.Endpoint(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if ep.AuthURL != "https://login.microsoftonline.com/tenant/oauth2/v2.0/authorize" {
		t.Errorf("AuthURL = %q", ep.AuthURL)
	}
	cfg := oauth2.Config{ClientID: "id", ClientSecret: "secret", Endpoint: ep, Scopes: m.Scopes([]string{"Files.Read"})}
	// The password grant carries the scope in the body, as the
	// authorization request would; it stands in for the code exchange here.
	tok, err := cfg.PasswordCredentialsToken(ctx, "user", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token although offline_access was asked for")
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.RefreshToken == tok.RefreshToken {
		t.Error("the rotated refresh token was not taken")
	}
}
