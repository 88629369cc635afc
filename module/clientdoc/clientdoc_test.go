package clientdoc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/clientdoc"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
)

// docServer serves, at /client.json, the document body gives for its own
// URL, with the Cache-Control cc, and counts the fetches.
func docServer(t *testing.T, cc string, body func(self string) string) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	var self string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Write([]byte(body(self)))
	}))
	t.Cleanup(srv.Close)
	self = srv.URL + "/client.json"
	return self, &hits
}

func good(self string) string {
	return `{"client_id":"` + self + `","client_name":"Desk","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestFetchChecksAndCaches(t *testing.T) {
	self, hits := docServer(t, "max-age=60", good)
	c := &clock{time.Now()}
	f := clientdoc.New(clientdoc.Policy{AllowLoopback: true, Ceiling: scope.Read}, c.now)
	for range 2 {
		d, err := f.Fetch(context.Background(), self)
		if err != nil || d.ClientName != "Desk" {
			t.Fatalf("Fetch = %+v, %v", d, err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("fetched %d times within max-age, want 1", hits.Load())
	}
	c.t = c.t.Add(61 * time.Second)
	if _, err := f.Fetch(context.Background(), self); err != nil || hits.Load() != 2 {
		t.Fatalf("after max-age: %v, %d fetches, want 2", err, hits.Load())
	}
}

func TestNoStoreIsNotCached(t *testing.T) {
	self, hits := docServer(t, "no-store", good)
	f := clientdoc.New(clientdoc.Policy{AllowLoopback: true}, time.Now)
	for range 2 {
		if _, err := f.Fetch(context.Background(), self); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 2 {
		t.Fatalf("no-store fetched %d times, want 2", hits.Load())
	}
}

// TestDocumentMustDescribeItsClient: a document naming another client,
// asking for a secret, without redirect URIs or too large is refused.
func TestDocumentMustDescribeItsClient(t *testing.T) {
	for name, body := range map[string]func(string) string{
		"other client_id": func(string) string {
			return `{"client_id":"https://other.example/c","redirect_uris":["http://127.0.0.1/cb"]}`
		},
		"secret method": func(s string) string {
			return `{"client_id":"` + s + `","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"client_secret_basic"}`
		},
		"secret": func(s string) string {
			return `{"client_id":"` + s + `","redirect_uris":["http://127.0.0.1/cb"],"client_secret":"x"}`
		},
		"no redirect": func(s string) string { return `{"client_id":"` + s + `"}` },
		"bad redirect": func(s string) string {
			return `{"client_id":"` + s + `","redirect_uris":["http://evil.example/cb"]}`
		},
		"not json": func(string) string { return `<html>` },
		"too large": func(s string) string {
			return `{"client_id":"` + s + `","pad":"` + strings.Repeat("x", clientdoc.MaxBytes) + `"}`
		},
	} {
		self, _ := docServer(t, "", body)
		f := clientdoc.New(clientdoc.Policy{AllowLoopback: true}, time.Now)
		if _, err := f.Fetch(context.Background(), self); !errors.Is(err, links.ErrBadDocument) {
			t.Errorf("%s: Fetch = %v, want ErrBadDocument", name, err)
		}
	}
}

// TestLoopbackDocumentRefusedByDefault: without allow_loopback a client id
// on this machine is refused before any connection, as are URLs the
// draft rules out and hosts outside allow_hosts.
func TestLoopbackDocumentRefusedByDefault(t *testing.T) {
	self, hits := docServer(t, "", good)
	f := clientdoc.New(clientdoc.Policy{}, time.Now)
	if _, err := f.Fetch(context.Background(), self); !errors.Is(err, links.ErrBadDocument) || hits.Load() != 0 {
		t.Fatalf("loopback document: %v after %d fetches", err, hits.Load())
	}
	only := clientdoc.New(clientdoc.Policy{AllowHosts: []string{"Client.Example"}}, time.Now)
	for raw, ok := range map[string]bool{
		"https://client.example/c.json":       true,
		"https://other.example/c.json":        false,
		"http://client.example/c.json":        false,
		"https://client.example":              false,
		"https://client.example/":             false,
		"https://client.example/a/../c":       false,
		"https://u:p@client.example/c":        false,
		"https://client.example/c#x":          false,
		"https://client.example/c?q=1":        true,
		"https://client.example/c%20d":        true,
		"https://client.example/has space/x":  false,
		"https://client.example/tab\tin/path": false,
	} {
		if err := only.Accepts(raw); (err == nil) != ok {
			t.Errorf("Accepts(%q) = %v, want accepted %v", raw, err, ok)
		}
	}
}

// TestPrivateAddressRefusedWithAllowLoopback: allow_loopback opens
// loopback, not the private network.
func TestPrivateAddressRefusedWithAllowLoopback(t *testing.T) {
	f := clientdoc.New(clientdoc.Policy{AllowLoopback: true}, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := f.Fetch(ctx, "https://10.255.255.1/client.json"); !errors.Is(err, links.ErrBadDocument) || !strings.Contains(err.Error(), "fetching it failed") {
		t.Fatalf("private address: %v", err)
	}
}

// TestRefusalsAndConcurrentFetchesDoNotMultiplyFetches: requests naming a
// document that is refused do not each make the gateway fetch it again
// (the refusal is kept FailureTTL), and concurrent requests for one
// document share one fetch: a client cannot make the gateway fetch a URL
// once per authorization request.
func TestRefusalsAndConcurrentFetchesDoNotMultiplyFetches(t *testing.T) {
	bad, badHits := docServer(t, "max-age=600", func(string) string { return `{"client_id":"https://other.example/c"}` })
	c := &clock{time.Now()}
	f := clientdoc.New(clientdoc.Policy{AllowLoopback: true}, c.now)
	for range 3 {
		if _, err := f.Fetch(context.Background(), bad); !errors.Is(err, links.ErrBadDocument) {
			t.Fatalf("Fetch of a refused document = %v", err)
		}
	}
	if n := badHits.Load(); n != 1 {
		t.Fatalf("a refused document was fetched %d times within FailureTTL, want 1", n)
	}
	c.t = c.t.Add(clientdoc.FailureTTL + time.Second)
	if _, err := f.Fetch(context.Background(), bad); !errors.Is(err, links.ErrBadDocument) || badHits.Load() != 2 {
		t.Fatalf("after FailureTTL: %v, %d fetches, want 2", err, badHits.Load())
	}

	var hits atomic.Int32
	var self string
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(good(self)))
	}))
	t.Cleanup(srv.Close)
	self = srv.URL + "/client.json"
	g := clientdoc.New(clientdoc.Policy{AllowLoopback: true}, time.Now)
	errs := make(chan error, 10)
	for range 10 {
		go func() {
			_, err := g.Fetch(context.Background(), self)
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // all ten are waiting by now
	close(release)
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("10 concurrent requests fetched the document %d times, want 1", n)
	}
}
