package outgoing_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// issuerProvider reads its endpoints from a JSON document at Issuer +
// "/endpoints", with no check of its own: what the service's client
// allows is all that stands between the document and the network.
type issuerProvider struct {
	Issuer string `json:"issuer"`
}

func (p *issuerProvider) Endpoint(ctx context.Context, client *http.Client) (oauth2.Endpoint, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer+"/endpoints", nil)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	defer resp.Body.Close()
	var ep oauth2.Endpoint
	err = json.NewDecoder(resp.Body).Decode(&ep)
	ep.AuthStyle = oauth2.AuthStyleInParams
	return ep, err
}

func (p *issuerProvider) Scopes(link []string) []string            { return link }
func (p *issuerProvider) AuthCodeOptions() []oauth2.AuthCodeOption { return nil }

// TestDeclaredLinkReachesOnlyTheHostsItNames: a declared link whose
// issuer is on loopback may reach that issuer, but a token endpoint its
// provider names on another loopback listener is refused after
// resolution, and that listener never gets the code.
func TestDeclaredLinkReachesOnlyTheHostsItNames(t *testing.T) {
	other := newRecorder(t, nil)
	var issuer *recorder
	issuer = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(oauth2.Endpoint{AuthURL: issuer.URL + "/authorize", TokenURL: other.URL + "/token"})
	})
	keys, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	l, err := outgoing.NewLink(outgoing.ConfigLink{Name: "local", ClientID: "c", ClientSecret: "s"}, &issuerProvider{Issuer: issuer.URL})
	if err != nil {
		t.Fatal(err)
	}
	s := outgoing.NewService([]*outgoing.Link{l}, badgertest.Open(t), keys, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{})
	ctx := context.Background()
	to, err := s.Start(ctx, l, "alice", "https://gw.example", "/")
	if err != nil {
		t.Fatalf("Start with a declared loopback issuer: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"state": {u.Query().Get("state")}, "code": {"code"}}
	_, _, err = s.Finish(ctx, l, q, "https://gw.example", outgoing.Caller{UserID: "alice"})
	var ce *outgoing.CallbackError
	if !errors.As(err, &ce) || ce.Status != http.StatusBadGateway {
		t.Fatalf("Finish = %v, want a 502 callback error", err)
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the other loopback listener got %d requests, want 0", n)
	}
	if n := issuer.hits.Load(); n == 0 {
		t.Error("the declared issuer was not reached")
	}
}
