package users

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestNewOIDCLoginFetchesNothingUntilPrefetch: building the sign-in
// providers (which `caddy validate` does) used to fetch each provider's
// discovery document at once; only Prefetch, called when the
// configuration starts, does.
func TestNewOIDCLoginFetchesNothingUntilPrefetch(t *testing.T) {
	var hits atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer idp.Close()
	l, err := newTestOIDCLogin(t, OIDCConfig{Issuer: idp.URL, ClientID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := hits.Load(); n != 0 {
		t.Fatalf("NewOIDCLogin made %d requests to the provider", n)
	}
	l.Prefetch()
	for deadline := time.Now().Add(5 * time.Second); hits.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("Prefetch fetched nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
