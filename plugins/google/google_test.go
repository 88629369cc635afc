package google_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/plugins/google"
	"github.com/applinks/caddy-applinks/plugins/internal/providertest"
)

func TestDefaults(t *testing.T) {
	g := new(google.Google)
	if err := providertest.Provision(t, g); err != nil {
		t.Fatal(err)
	}
	ep, err := g.Endpoint(context.Background(), outgoing.NewClient(time.Second, outgoing.Policy{Private: true}))
	if err != nil {
		t.Fatal(err)
	}
	want := oauth2.Endpoint{
		AuthURL:   "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:  "https://oauth2.googleapis.com/token",
		AuthStyle: oauth2.AuthStyleInParams,
	}
	if ep != want {
		t.Errorf("Endpoint() = %+v, want %+v", ep, want)
	}

	cfg := oauth2.Config{ClientID: "id", Endpoint: ep, Scopes: g.Scopes([]string{"https://www.googleapis.com/auth/drive.readonly"})}
	u, err := url.Parse(cfg.AuthCodeURL("state", g.AuthCodeOptions()...))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("access_type") != "offline" || q.Get("prompt") != "consent" {
		t.Errorf("authorization URL %s lacks access_type=offline and prompt=consent", u)
	}
	if q.Get("scope") != "https://www.googleapis.com/auth/drive.readonly" {
		t.Errorf("scope = %q, want the link's scope alone", q.Get("scope"))
	}
}

func TestScopesUnchanged(t *testing.T) {
	link := []string{"openid", "email"}
	got := new(google.Google).Scopes(link)
	if !reflect.DeepEqual(got, link) {
		t.Errorf("Scopes(%v) = %v", link, got)
	}
	got[0] = "changed"
	if link[0] != "openid" {
		t.Error("Scopes returned the link's own slice")
	}
}

func TestProvisionRefusesEndpoints(t *testing.T) {
	for _, g := range []*google.Google{
		{FixedEndpoints: outgoing.FixedEndpoints{TokenEndpoint: "http://169.254.169.254/token"}},
		{FixedEndpoints: outgoing.FixedEndpoints{AuthorizationEndpoint: "http://accounts.example.com/auth"}},
		{FixedEndpoints: outgoing.FixedEndpoints{TokenEndpoint: "https://metadata.google.internal/token"}},
	} {
		err := providertest.Provision(t, g)
		if !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("provision(%+v) = %v, want ErrRefused", g, err)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	t.Setenv("APPLINKS_TEST_GOOGLE_TOKEN", "http://127.0.0.1:1/token")
	g := &google.Google{FixedEndpoints: outgoing.FixedEndpoints{TokenEndpoint: "{env.APPLINKS_TEST_GOOGLE_TOKEN}"}}
	if err := providertest.Provision(t, g); err != nil {
		t.Fatal(err)
	}
	if g.TokenEndpoint != "http://127.0.0.1:1/token" {
		t.Errorf("TokenEndpoint = %q", g.TokenEndpoint)
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input   string
		want    google.Google
		wantErr string
	}{
		{input: "google", want: google.Google{}},
		{
			input: "google {\n\tauthorization_endpoint http://127.0.0.1:9/auth\n\ttoken_endpoint http://127.0.0.1:9/token\n}",
			want:  google.Google{FixedEndpoints: outgoing.FixedEndpoints{AuthorizationEndpoint: "http://127.0.0.1:9/auth", TokenEndpoint: "http://127.0.0.1:9/token"}},
		},
		{input: "google extra", wantErr: "wrong argument count"},
		{input: "google {\n\ttoken_endpoint\n}", wantErr: "wrong argument count"},
		{input: "google {\n\ttoken_endpoint a b\n}", wantErr: "wrong argument count"},
		{input: "google {\n\ttenant x\n}", wantErr: `unrecognized subdirective "tenant"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var g google.Google
			if !providertest.Unmarshal(t, &g, tt.input, tt.wantErr) {
				return
			}
			if g != tt.want {
				t.Errorf("got %+v, want %+v", g, tt.want)
			}
		})
	}
}

// TestUnmarshalModule parses the provider the way the outgoing block does.
func TestUnmarshalModule(t *testing.T) {
	unm := providertest.UnmarshalModule(t, "provider google {\n\ttoken_endpoint http://127.0.0.1:9/token\n}\nclient_id x")
	g, ok := unm.(*google.Google)
	if !ok || g.TokenEndpoint != "http://127.0.0.1:9/token" {
		t.Fatalf("got %#v", unm)
	}
	if _, ok := unm.(outgoing.Provider); !ok {
		t.Error("module is not an outgoing.Provider")
	}
}

// fakeGoogle behaves like Google's endpoints in one respect that matters:
// the token response carries a refresh token only if the authorization
// asked for access_type=offline and prompt=consent.
func fakeGoogle(t *testing.T) *httptest.Server {
	offline := map[string]bool{} // by code
	mux := http.NewServeMux()
	mux.HandleFunc("/o/oauth2/v2/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := "code-" + q.Get("state")
		offline[code] = q.Get("access_type") == "offline" && q.Get("prompt") == "consent"
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+q.Get("state"), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("client_id") != "id" || r.PostFormValue("client_secret") != "secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		resp := map[string]any{"access_token": "ya29.token", "token_type": "Bearer", "expires_in": 3599}
		if offline[r.PostFormValue("code")] {
			resp["refresh_token"] = "1//refresh"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAgainstFakeGoogle(t *testing.T) {
	srv := fakeGoogle(t)
	g := &google.Google{FixedEndpoints: outgoing.FixedEndpoints{AuthorizationEndpoint: srv.URL + "/o/oauth2/v2/auth", TokenEndpoint: srv.URL + "/token"}}
	if err := providertest.Provision(t, g); err != nil {
		t.Fatal(err)
	}
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	ep, err := g.Endpoint(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{
		ClientID: "id", ClientSecret: "secret", Endpoint: ep,
		RedirectURL: "http://127.0.0.1:1/applinks/callback/drive",
		Scopes:      g.Scopes([]string{"https://www.googleapis.com/auth/drive.readonly"}),
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(cfg.AuthCodeURL("s1", g.AuthCodeOptions()...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "ya29.token" || tok.RefreshToken != "1//refresh" {
		t.Errorf("token = %q, refresh %q; want both", tok.AccessToken, tok.RefreshToken)
	}
}
