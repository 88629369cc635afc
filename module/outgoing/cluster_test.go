package outgoing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/pgstore"
)

// TestMain stops the PostgreSQL server the cluster test started, if any.
func TestMain(m *testing.M) { pgtest.Main(m) }

// TestOneRefreshAcrossTheCluster: when an outgoing token expires on two
// gateways sharing one PostgreSQL database, and requests on both need it
// at once, the provider is asked to refresh it once: the other gateway
// waits for the lock and then uses the token the first one stored (a
// provider that rotates refresh tokens would otherwise see a replay).
func TestOneRefreshAcrossTheCluster(t *testing.T) {
	var refreshes atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			fmt.Fprintf(w, `{"issuer":%[1]q,"authorization_endpoint":"%[1]s/authorize","token_endpoint":"%[1]s/token"}`, srv.URL)
		case "/token":
			n := refreshes.Add(1)
			time.Sleep(200 * time.Millisecond) // a slow provider widens the race
			fmt.Fprintf(w, `{"access_token":"access-%d","refresh_token":"refresh-%d","token_type":"Bearer","expires_in":3600}`, n+1, n+1)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	keys, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.DSN(t)
	var services []*outgoing.Service
	var first store.Store
	for range 2 {
		st, err := pgstore.Open(t.Context(), dsn, pgstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		if first == nil {
			first = st
		}
		s := outgoing.NewService(nil, st, keys, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{PrivateRuntime: true})
		s.InCluster(st.Exclusively, func() {})
		services = append(services, s)
	}
	// A link created at runtime, on one gateway, read by both.
	if _, err := services[0].Create(t.Context(), outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{
		Name: "idp", ProviderRaw: providerJSON(srv.URL + "/.well-known/oauth-authorization-server"), ClientID: "gateway", ClientSecret: "s", Mode: outgoing.ModePerUser,
	}, CreatedBy: "sam"}); err != nil {
		t.Fatal(err)
	}
	expired, err := json.Marshal(&oauth2.Token{AccessToken: "access-1", RefreshToken: "refresh-1", TokenType: "Bearer", Expiry: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := first.PutConnection(t.Context(), store.Connection{
		LinkID: "idp", UserID: "alice", Status: outgoing.StatusValid, Expiry: now.Add(-time.Minute), CreatedAt: now, UpdatedAt: now,
		Sealed: keys.Seal(expired, []byte("connection idp\x00alice")),
	}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, len(got))
	for i := range got {
		wg.Go(func() {
			s := services[i%2]
			l, err := s.Link(context.Background(), "idp")
			if err != nil {
				errs[i] = err
				return
			}
			got[i], errs[i] = s.Token(context.Background(), l, "alice")
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != "access-2" {
			t.Errorf("caller %d on gateway %d: %q, %v; want the one refreshed token access-2", i, i%2, got[i], errs[i])
		}
	}
	if n := refreshes.Load(); n != 1 {
		t.Errorf("the provider was asked %d times to refresh one token; want once across the cluster", n)
	}
}
