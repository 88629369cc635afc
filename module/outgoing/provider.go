// Package outgoing is the gateway as an OAuth 2.0 client of other
// services (outgoing links): the provider interface its plugins implement
// and the checks every provider endpoint passes before the gateway talks
// to it.
package outgoing

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"
)

// Provider is the authorization server of an outgoing link. Modules in the
// applinks.providers namespace (plugins/google, plugins/microsoft,
// plugins/oidc, plugins/oauth2) implement it.
type Provider interface {
	// Endpoint returns the provider's authorization and token endpoints,
	// discovering them with client when needed (through Discovery, which
	// keeps discovered endpoints on the issuer's origin). Discovered and
	// configured endpoints have passed CheckEndpoint; client applies the
	// link's Policy when connecting.
	Endpoint(ctx context.Context, client *http.Client) (oauth2.Endpoint, error)
	// Scopes returns the scopes to ask for, given those of the link (a
	// provider may add what it needs for refresh tokens, such as
	// Microsoft's offline_access).
	Scopes(link []string) []string
	// AuthCodeOptions returns extra authorization request parameters (such
	// as Google's access_type=offline and prompt=consent).
	AuthCodeOptions() []oauth2.AuthCodeOption
}
