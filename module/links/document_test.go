package links_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/clientdoc"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestDocumentClientResolves: a URL client id is a public link named for
// its host, with the document's redirect URIs; its id resolves without a
// fetch under the current ceiling, and not at all once documents are off.
func TestDocumentClientResolves(t *testing.T) {
	var self string
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches++
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"client_id":"` + self + `","client_name":"Desk","redirect_uris":["http://127.0.0.1/cb"]}`))
	}))
	defer srv.Close()
	self = srv.URL + "/client.json"
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.reg.ByClientID(ctx, self); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a URL client id while documents are off: %v, want ErrNotFound", err)
	}
	f.reg.SetDocuments(clientdoc.New(clientdoc.Policy{AllowLoopback: true, Ceiling: scope.Write}, time.Now))
	l, err := f.reg.AuthenticatePublic(ctx, self)
	if err != nil || !l.Public || l.ID != links.DocumentID(self) || l.Source != links.SourceDocument || l.ClaimedName != "Desk" || !l.AllowsRedirect("http://127.0.0.1:5000/cb") {
		t.Fatalf("AuthenticatePublic = %+v, %v", l, err)
	}
	if c, err := f.reg.Ceiling(ctx, l.ID); err != nil || c != scope.Write || fetches != 1 {
		t.Fatalf("Ceiling = %v, %v after %d fetches; want WRITE without another fetch", c, err, fetches)
	}
	if _, err := f.reg.Authenticate(ctx, self, "a-secret"); !errors.Is(err, links.ErrBadClient) {
		t.Fatalf("Authenticate with a secret: %v, want ErrBadClient", err)
	}
	if _, err := f.reg.AuthenticatePublic(ctx, srv.URL+"/other.json"); !errors.Is(err, links.ErrBadClient) || !errors.Is(err, links.ErrBadDocument) {
		t.Fatalf("a document naming another client: %v, want ErrBadClient and ErrBadDocument", err)
	}
	f.reg.SetDocuments(nil)
	if _, err := f.reg.Get(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get once documents are off: %v, want ErrNotFound", err)
	}
}
