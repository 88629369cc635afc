package outgoing

import (
	"context"
	"fmt"
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
// strict NewClient if nil) and keeps what it returns when it succeeds.
// Discovered endpoints must pass CheckEndpoint and be on the origin
// (scheme, host and port) of issuer: metadata cannot point the gateway at
// another service, such as Caddy's admin endpoint on another port of
// localhost. Calls are serialised, so a provider is discovered once
// however many ask at once.
func (d *Discovery) Endpoint(ctx context.Context, client *http.Client, issuer string, discover func(context.Context, *http.Client) (oauth2.Endpoint, error)) (oauth2.Endpoint, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.endpoint != nil {
		return *d.endpoint, nil
	}
	if client == nil {
		client = NewClient(0, Policy{})
	}
	ep, err := discover(ctx, client)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", ep.AuthURL},
		{"token_endpoint", ep.TokenURL},
	} {
		if err := CheckEndpoint(e.url); err != nil {
			return oauth2.Endpoint{}, fmt.Errorf("discovering %s: %s: %w", issuer, e.name, err)
		}
		if err := CheckSameOrigin(issuer, e.url); err != nil {
			return oauth2.Endpoint{}, fmt.Errorf("discovering %s: %s: %w", issuer, e.name, err)
		}
	}
	ep.DeviceAuthURL = "" // not used, and not checked
	d.endpoint = &ep
	return ep, nil
}
