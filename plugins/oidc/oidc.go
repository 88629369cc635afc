// Package oidc is the applinks.providers.oidc module: any OpenID Connect
// provider, found by discovery, as the provider of outgoing links.
package oidc

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

func init() {
	caddy.RegisterModule(new(OIDC))
}

// OIDC is an OpenID Connect provider as the authorization server of an
// outgoing link. Its endpoints come from the discovery document at
// <issuer>/.well-known/openid-configuration, fetched at first use, whose
// issuer must equal Issuer and whose endpoints must pass
// outgoing.CheckEndpoint and be on the issuer's origin
// (outgoing.Discovery); a successful discovery is kept for the life of
// the module, a failed one is tried again at the next use. It always asks
// for the openid scope.
type OIDC struct {
	// Issuer is the provider's issuer URL. Global placeholders such as
	// {env.X} are resolved at provision time.
	Issuer string `json:"issuer,omitempty"`

	discovery outgoing.Discovery
}

// CaddyModule returns the Caddy module information.
func (*OIDC) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "applinks.providers.oidc",
		New: func() caddy.Module { return new(OIDC) },
	}
}

// Provision resolves placeholders in the issuer and checks it with
// outgoing.CheckEndpoint.
func (o *OIDC) Provision(caddy.Context) error {
	o.Issuer = caddy.NewReplacer().ReplaceKnown(o.Issuer, "")
	if o.Issuer == "" {
		return fmt.Errorf("provisioning oidc provider: issuer is required")
	}
	if err := outgoing.CheckEndpoint(o.Issuer); err != nil {
		return fmt.Errorf("provisioning oidc issuer: %w", err)
	}
	return nil
}

// Validate checks that the issuer is set.
func (o *OIDC) Validate() error {
	if o.Issuer == "" {
		return fmt.Errorf("validating oidc provider: issuer is required")
	}
	return nil
}

// Endpoint returns the provider's endpoints, discovering them with client
// (a strict outgoing.NewClient, public addresses only, if nil) at the
// first call.
func (o *OIDC) Endpoint(ctx context.Context, client *http.Client) (oauth2.Endpoint, error) {
	return o.discovery.Endpoint(ctx, client, o.Issuer, o.discover)
}

// discover reads the provider's OpenID Connect discovery document;
// outgoing.Discovery checks its endpoints.
func (o *OIDC) discover(ctx context.Context, client *http.Client) (oauth2.Endpoint, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), o.Issuer)
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("discovering oidc provider %s: %w", o.Issuer, err)
	}
	return p.Endpoint(), nil
}

// Scopes returns the link's scopes with openid first if it is missing.
func (*OIDC) Scopes(link []string) []string {
	if slices.Contains(link, oidc.ScopeOpenID) {
		return slices.Clone(link)
	}
	return append([]string{oidc.ScopeOpenID}, link...)
}

// AuthCodeOptions returns nothing.
func (*OIDC) AuthCodeOptions() []oauth2.AuthCodeOption {
	return nil
}

// IssuerIdentifier is the issuer, which the provider's authorization
// responses carry as iss when it supports RFC 9207.
func (o *OIDC) IssuerIdentifier() string { return o.Issuer }

// UnmarshalCaddyfile sets up the provider from Caddyfile tokens. Syntax:
//
//	provider oidc <issuer>
func (o *OIDC) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the provider name
	if !d.AllArgs(&o.Issuer) {
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("unrecognized subdirective %q", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner         = (*OIDC)(nil)
	_ caddy.Validator           = (*OIDC)(nil)
	_ outgoing.Provider         = (*OIDC)(nil)
	_ outgoing.IssuerIdentifier = (*OIDC)(nil)
	_ caddyfile.Unmarshaler     = (*OIDC)(nil)
)
