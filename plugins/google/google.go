// Package google is the applinks.providers.google module: Google as the
// provider of outgoing links.
package google

import (
	"context"
	"net/http"
	"slices"

	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/internal/nearest"
	"github.com/applinks/caddy-applinks/module/outgoing"
)

// Google's OAuth 2.0 endpoints and issuer identifier.
const (
	AuthorizationEndpoint = "https://accounts.google.com/o/oauth2/v2/auth"
	TokenEndpoint         = "https://oauth2.googleapis.com/token"
	Issuer                = "https://accounts.google.com"
)

func init() {
	caddy.RegisterModule(new(Google))
}

// Google is Google as the authorization server of an outgoing link. Every
// authorization asks for access_type=offline and prompt=consent: Google
// returns a refresh token only then (and otherwise only on the first
// consent). Google does not rotate refresh tokens; those of apps in
// "Testing" publishing status expire after 7 days.
type Google struct {
	// The endpoints default to https://accounts.google.com/o/oauth2/v2/auth
	// and https://oauth2.googleapis.com/token.
	outgoing.FixedEndpoints
}

// CaddyModule returns the Caddy module information.
func (*Google) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "applinks.providers.google",
		New: func() caddy.Module { return new(Google) },
	}
}

// Provision applies the defaults, resolves placeholders and checks the
// endpoints with outgoing.CheckEndpoint.
func (g *Google) Provision(caddy.Context) error {
	return g.Resolve("google", AuthorizationEndpoint, TokenEndpoint)
}

// Validate checks that both endpoints are set.
func (g *Google) Validate() error { return g.Check("google") }

// Endpoint returns Google's endpoints (or their replacements). Google
// takes the client credentials in the request body.
func (g *Google) Endpoint(context.Context, *http.Client) (oauth2.Endpoint, error) {
	return g.Fixed(), nil
}

// Scopes returns the link's scopes unchanged: Google needs no extra scope
// for refresh tokens.
func (*Google) Scopes(link []string) []string {
	return slices.Clone(link)
}

// AuthCodeOptions returns access_type=offline and prompt=consent, without
// which Google returns no refresh token.
func (*Google) AuthCodeOptions() []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.ApprovalForce}
}

// IssuerIdentifier is Google's issuer, which its authorization responses
// carry as iss (RFC 9207).
func (*Google) IssuerIdentifier() string { return Issuer }

// UnmarshalCaddyfile sets up the provider from Caddyfile tokens. Syntax:
//
//	provider google {
//		authorization_endpoint <url>
//		token_endpoint <url>
//	}
//
// The block is optional and meant for tests against a local fake.
func (g *Google) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the provider name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if handled, err := g.UnmarshalSubdirective(d); err != nil {
			return err
		} else if !handled {
			return d.Errf("unrecognized subdirective %q%s", d.Val(), nearest.Suggest(d.Val(), []string{"authorization_endpoint", "token_endpoint"}))
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner         = (*Google)(nil)
	_ caddy.Validator           = (*Google)(nil)
	_ outgoing.Provider         = (*Google)(nil)
	_ outgoing.IssuerIdentifier = (*Google)(nil)
	_ caddyfile.Unmarshaler     = (*Google)(nil)
)
