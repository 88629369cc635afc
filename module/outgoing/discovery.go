package outgoing

import (
	"context"
	"net/http"
	"sync"

	"golang.org/x/oauth2"
)

// Discovery keeps the endpoints of a provider that are found by discovery
// (RFC 8414, OpenID Connect): a discovery that succeeds is kept for the
// life of the provider module, one that fails is tried again at the next
// use. The zero value is ready; it must not be copied after first use.
type Discovery struct {
	mu       sync.Mutex
	endpoint *oauth2.Endpoint // nil until a discovery succeeds
}

// Endpoint returns the kept endpoints, or runs discover with client (a
// NewClient if nil) and keeps what it returns when it succeeds. Calls are
// serialised, so a provider is discovered once however many ask at once.
func (d *Discovery) Endpoint(ctx context.Context, client *http.Client, discover func(context.Context, *http.Client) (oauth2.Endpoint, error)) (oauth2.Endpoint, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.endpoint != nil {
		return *d.endpoint, nil
	}
	if client == nil {
		client = NewClient(0)
	}
	ep, err := discover(ctx, client)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	d.endpoint = &ep
	return ep, nil
}
