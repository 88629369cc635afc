package outgoing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// metadataProvider is a provider that discovers its endpoints from RFC
// 8414 metadata at a URL, with the client it is given, as the oauth2
// plugin does.
type metadataProvider struct {
	Metadata string `json:"metadata"`
}

func (p *metadataProvider) Endpoint(ctx context.Context, client *http.Client) (oauth2.Endpoint, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Metadata, nil)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return oauth2.Endpoint{}, fmt.Errorf("metadata: %s", resp.Status)
	}
	var m struct {
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return oauth2.Endpoint{}, err
	}
	return oauth2.Endpoint{AuthURL: m.AuthorizationEndpoint, TokenURL: m.TokenEndpoint}, nil
}

func (p *metadataProvider) Scopes(link []string) []string            { return link }
func (p *metadataProvider) AuthCodeOptions() []oauth2.AuthCodeOption { return nil }

// loadMetadataProvider is the service's provider loader: it knows only
// {"provider":"metadata","metadata":"<url>"}.
func loadMetadataProvider(raw json.RawMessage) (outgoing.Provider, error) {
	var c struct {
		Provider string `json:"provider"`
		metadataProvider
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Provider != "metadata" {
		return nil, fmt.Errorf("unknown provider %q", c.Provider)
	}
	return &c.metadataProvider, nil
}

func providerJSON(metadata string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"provider":"metadata","metadata":%q}`, metadata))
}

type serviceFixture struct {
	s    *outgoing.Service
	st   store.Store
	logs *observer.ObservedLogs
}

// newServiceFixture returns a service over real Badger with one declared
// link, "declared".
func newServiceFixture(t *testing.T) *serviceFixture {
	t.Helper()
	keys, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	declared, err := outgoing.NewLink(outgoing.ConfigLink{Name: "declared", ClientID: "d"}, &metadataProvider{Metadata: "https://idp.example/meta"})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	st := badgertest.Open(t)
	return &serviceFixture{
		s:    outgoing.NewService([]*outgoing.Link{declared}, st, keys, loadMetadataProvider, zap.New(core), time.Now, outgoing.Reach{PrivateRuntime: true}),
		st:   st,
		logs: logs,
	}
}

func TestServiceUpdate(t *testing.T) {
	f := newServiceFixture(t)
	ctx := context.Background()
	provider := providerJSON("https://idp.example/.well-known/oauth-authorization-server")
	_, err := f.s.Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{
		Name: "rt", ProviderRaw: provider, ClientID: "c1", ClientSecret: "first-secret", Scopes: []string{"a"}, Mode: outgoing.ModeShared,
	}, CreatedBy: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Link(ctx, "rt"); err != nil { // cached from here on
		t.Fatal(err)
	}
	conn := store.Connection{LinkID: "rt", Sealed: []byte("sealed"), Status: outgoing.StatusValid, Generation: 1}
	if err := f.st.PutConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	before, err := f.st.GetOutgoingLink(ctx, "rt")
	if err != nil {
		t.Fatal(err)
	}

	check := func(what string, l *outgoing.Link, clientID, secret string, scopes []string, mode string) {
		t.Helper()
		if l.Name != "rt" || l.ClientID != clientID || l.ClientSecret != secret || !slices.Equal(l.Scopes, scopes) || l.Mode != mode {
			t.Errorf("%s: %s %q secret %q scopes %v mode %q; want %q %q %v %q", what, l.Name, l.ClientID, l.ClientSecret, l.Scopes, l.Mode, clientID, secret, scopes, mode)
		}
		if p, ok := l.Provider.(*metadataProvider); !ok || !strings.HasSuffix(p.Metadata, "/oauth-authorization-server") {
			t.Errorf("%s: provider %#v", what, l.Provider)
		}
		got, err := f.s.Link(ctx, "rt")
		if err != nil {
			t.Fatalf("%s: Link: %v", what, err)
		}
		if got.ClientID != clientID || got.ClientSecret != secret || !slices.Equal(got.Scopes, scopes) || got.Mode != mode {
			t.Errorf("%s: Link returns %q secret %q scopes %v mode %q", what, got.ClientID, got.ClientSecret, got.Scopes, got.Mode)
		}
		stored, err := f.st.GetOutgoingLink(ctx, "rt")
		if err != nil {
			t.Fatal(err)
		}
		if string(stored.Provider) != string(before.Provider) || !stored.CreatedAt.Equal(before.CreatedAt) || stored.CreatedBy != "sam" {
			t.Errorf("%s: provider or creation changed: %+v", what, stored)
		}
		if strings.Contains(string(stored.SealedSecret), secret) {
			t.Errorf("%s: the secret is stored in clear", what)
		}
		if c, err := f.st.GetConnection(ctx, "rt", ""); err != nil || c.Generation != conn.Generation {
			t.Errorf("%s: the connection is gone or changed: %+v, %v", what, c, err)
		}
	}

	// An empty secret keeps the current one; an empty mode is per_user.
	l, err := f.s.Update(ctx, "rt", outgoing.EditOutgoing{ClientID: "c2", Scopes: []string{"b", "c"}}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	check("update keeping the secret", l, "c2", "first-secret", []string{"b", "c"}, outgoing.ModePerUser)

	l, err = f.s.Update(ctx, "rt", outgoing.EditOutgoing{ClientID: "c3", ClientSecret: "second-secret", Mode: outgoing.ModeShared}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	check("update replacing the secret", l, "c3", "second-secret", nil, outgoing.ModeShared)

	entries := f.logs.FilterMessage("outgoing link updated").All()
	if len(entries) != 2 {
		t.Fatalf("%d \"outgoing link updated\" audit entries, want 2", len(entries))
	}
	for _, e := range entries {
		fields := e.ContextMap()
		if fields["link"] != "rt" || fields["by"] != "alice" {
			t.Errorf("audit fields %v", fields)
		}
		for k, v := range fields {
			if s, ok := v.(string); ok && (strings.Contains(s, "first-secret") || strings.Contains(s, "second-secret")) {
				t.Errorf("audit field %s holds a secret", k)
			}
		}
	}

	// Refused edits write nothing.
	for name, in := range map[string]outgoing.EditOutgoing{
		"client_id is required":   {ClientSecret: "third-secret"},
		"want per_user or shared": {ClientID: "c4", ClientSecret: "third-secret", Mode: "everyone"},
	} {
		if _, err := f.s.Update(ctx, "rt", in, "alice"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Update(%+v) = %v, want an error saying %q", in, err, name)
		}
	}
	check("after refused updates", l, "c3", "second-secret", nil, outgoing.ModeShared)

	if _, err := f.s.Update(ctx, "declared", outgoing.EditOutgoing{ClientID: "x"}, "alice"); !errors.Is(err, outgoing.ErrReadOnly) {
		t.Errorf("Update of a declared link = %v, want ErrReadOnly", err)
	}
	if _, err := f.s.Update(ctx, "missing", outgoing.EditOutgoing{ClientID: "x"}, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of a missing link = %v, want ErrNotFound", err)
	}
	if n := len(f.logs.FilterMessage("outgoing link updated").All()); n != 2 {
		t.Errorf("refused updates were audited: %d entries", n)
	}
}

// metadataServer serves RFC 8414 metadata and counts the requests.
func metadataServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%[1]q,"authorization_endpoint":"%[1]s/authorize","token_endpoint":"%[1]s/token"}`, srv.URL)
		case "/to-metadata-address":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestServiceProbe(t *testing.T) {
	f := newServiceFixture(t)
	srv, hits := metadataServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ep, err := f.s.Probe(ctx, providerJSON(srv.URL+"/.well-known/oauth-authorization-server"))
	if err != nil {
		t.Fatal(err)
	}
	if ep.AuthURL != srv.URL+"/authorize" || ep.TokenURL != srv.URL+"/token" {
		t.Errorf("Probe = %+v", ep)
	}
	if hits.Load() != 1 {
		t.Errorf("the metadata server got %d requests, want 1", hits.Load())
	}

	// Refused by the client that connecting uses, before any packet is
	// sent: a default client would try to connect.
	for _, raw := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"https://169.254.10.1/.well-known/oauth-authorization-server",
		"https://[fe80::1]/.well-known/oauth-authorization-server",
		"http://metadata.google.internal/computeMetadata/v1/",
		"http://internal.example/.well-known/oauth-authorization-server",
		srv.URL + "/to-metadata-address",
	} {
		t.Run("refused "+raw, func(t *testing.T) {
			_, err := f.s.Probe(ctx, providerJSON(raw))
			if !errors.Is(err, outgoing.ErrRefused) {
				t.Fatalf("Probe(%s) = %v, want ErrRefused", raw, err)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		_, err := f.s.Probe(ctx, providerJSON(gone.URL+"/.well-known/oauth-authorization-server"))
		if !errors.Is(err, outgoing.ErrProviderUnavailable) || errors.Is(err, outgoing.ErrRefused) {
			t.Fatalf("Probe of a closed server = %v, want ErrProviderUnavailable", err)
		}
	})
	t.Run("no metadata", func(t *testing.T) {
		if _, err := f.s.Probe(ctx, providerJSON(srv.URL+"/nothing-here")); err == nil {
			t.Fatal("Probe of a URL without metadata succeeded")
		}
	})
	t.Run("placeholders", func(t *testing.T) {
		for _, raw := range []string{
			`{"provider":"metadata","metadata":"https://idp.example/{env.HOME}"}`,
			`{"provider":"metadata","metadata":"https://idp.example/x","extra":["{file./etc/passwd}"]}`,
			`{"provider":"metadata","nested":{"deep":"{env.X}"}}`,
		} {
			if _, err := f.s.Probe(ctx, json.RawMessage(raw)); !errors.Is(err, outgoing.ErrPlaceholder) {
				t.Errorf("Probe(%s) = %v, want ErrPlaceholder", raw, err)
			}
			_, err := f.s.Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{Name: "ph", ProviderRaw: json.RawMessage(raw), ClientID: "c"}})
			if !errors.Is(err, outgoing.ErrPlaceholder) {
				t.Errorf("Create with %s = %v, want ErrPlaceholder", raw, err)
			}
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		if _, err := f.s.Probe(ctx, json.RawMessage(`{"provider":"nope"}`)); err == nil {
			t.Fatal("Probe of an unknown provider succeeded")
		}
		if _, err := f.s.Probe(ctx, nil); err == nil {
			t.Fatal("Probe without a provider succeeded")
		}
	})
}
