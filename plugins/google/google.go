// Package google is the applinks.providers.google module: Google as the
// provider of outgoing links.
package google

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// Google's OAuth 2.0 endpoints.
const (
	AuthorizationEndpoint = "https://accounts.google.com/o/oauth2/v2/auth"
	TokenEndpoint         = "https://oauth2.googleapis.com/token"
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
	// AuthorizationEndpoint replaces Google's authorization endpoint; it is
	// meant for tests against a local fake. Global placeholders such as
	// {env.X} are resolved at provision time. Default:
	// https://accounts.google.com/o/oauth2/v2/auth
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenEndpoint replaces Google's token endpoint; it is meant for tests
	// against a local fake. Default: https://oauth2.googleapis.com/token
	TokenEndpoint string `json:"token_endpoint,omitempty"`
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
	repl := caddy.NewReplacer()
	g.AuthorizationEndpoint = repl.ReplaceKnown(g.AuthorizationEndpoint, "")
	g.TokenEndpoint = repl.ReplaceKnown(g.TokenEndpoint, "")
	if g.AuthorizationEndpoint == "" {
		g.AuthorizationEndpoint = AuthorizationEndpoint
	}
	if g.TokenEndpoint == "" {
		g.TokenEndpoint = TokenEndpoint
	}
	if err := outgoing.CheckEndpoint(g.AuthorizationEndpoint); err != nil {
		return fmt.Errorf("provisioning google authorization_endpoint: %w", err)
	}
	if err := outgoing.CheckEndpoint(g.TokenEndpoint); err != nil {
		return fmt.Errorf("provisioning google token_endpoint: %w", err)
	}
	return nil
}

// Validate checks that both endpoints are set.
func (g *Google) Validate() error {
	if g.AuthorizationEndpoint == "" || g.TokenEndpoint == "" {
		return fmt.Errorf("validating google provider: authorization and token endpoints are required")
	}
	return nil
}

// Endpoint returns Google's endpoints (or their replacements). Google
// takes the client credentials in the request body.
func (g *Google) Endpoint(context.Context, *http.Client) (oauth2.Endpoint, error) {
	return oauth2.Endpoint{
		AuthURL:   g.AuthorizationEndpoint,
		TokenURL:  g.TokenEndpoint,
		AuthStyle: oauth2.AuthStyleInParams,
	}, nil
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
		switch d.Val() {
		case "authorization_endpoint":
			if !d.AllArgs(&g.AuthorizationEndpoint) {
				return d.ArgErr()
			}
		case "token_endpoint":
			if !d.AllArgs(&g.TokenEndpoint) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Google)(nil)
	_ caddy.Validator       = (*Google)(nil)
	_ outgoing.Provider     = (*Google)(nil)
	_ caddyfile.Unmarshaler = (*Google)(nil)
)
