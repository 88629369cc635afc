// Package oauth2 is the applinks.providers.oauth2 module: any OAuth 2.0
// authorization server, configured by its endpoints or found by RFC 8414
// metadata discovery, as the provider of outgoing links.
package oauth2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// wellKnown is the RFC 8414 well-known URI suffix.
const wellKnown = "/.well-known/oauth-authorization-server"

// maxMetadata bounds the size of a metadata document.
const maxMetadata = 1 << 20

func init() {
	caddy.RegisterModule(new(OAuth2))
}

// OAuth2 is any OAuth 2.0 authorization server as the authorization server
// of an outgoing link. Set either both AuthorizationEndpoint and
// TokenEndpoint, or Issuer: its endpoints then come from the RFC 8414
// metadata at <issuer origin>/.well-known/oauth-authorization-server[<issuer
// path>], fetched at first use, whose issuer must equal Issuer and whose
// endpoints must pass outgoing.CheckEndpoint and be on the issuer's origin
// (outgoing.Discovery); a successful discovery is kept for the life of the
// module, a failed one is tried again at the next use. Endpoints on
// another origin are used only when configured as AuthorizationEndpoint
// and TokenEndpoint.
type OAuth2 struct {
	// AuthorizationEndpoint is the authorization endpoint URL. Global
	// placeholders such as {env.X} are resolved at provision time.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenEndpoint is the token endpoint URL.
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// Issuer is the authorization server's issuer identifier, used instead
	// of the two endpoints for RFC 8414 discovery.
	Issuer string `json:"issuer,omitempty"`

	discovery outgoing.Discovery
}

// CaddyModule returns the Caddy module information.
func (*OAuth2) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "applinks.providers.oauth2",
		New: func() caddy.Module { return new(OAuth2) },
	}
}

// Provision resolves placeholders and checks the configured URLs with
// outgoing.CheckEndpoint.
func (o *OAuth2) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	o.AuthorizationEndpoint = repl.ReplaceKnown(o.AuthorizationEndpoint, "")
	o.TokenEndpoint = repl.ReplaceKnown(o.TokenEndpoint, "")
	o.Issuer = repl.ReplaceKnown(o.Issuer, "")
	if err := o.Validate(); err != nil {
		return err
	}
	for _, f := range []struct{ name, url string }{
		{"authorization_endpoint", o.AuthorizationEndpoint},
		{"token_endpoint", o.TokenEndpoint},
		{"issuer", o.Issuer},
	} {
		if f.url == "" {
			continue
		}
		if err := outgoing.CheckEndpoint(f.url); err != nil {
			return fmt.Errorf("provisioning oauth2 %s: %w", f.name, err)
		}
	}
	if o.Issuer != "" {
		if _, err := metadataURL(o.Issuer); err != nil {
			return fmt.Errorf("provisioning oauth2 issuer: %w", err)
		}
	}
	return nil
}

// Validate checks that either both endpoints or the issuer are set.
func (o *OAuth2) Validate() error {
	switch {
	case o.Issuer != "" && (o.AuthorizationEndpoint != "" || o.TokenEndpoint != ""):
		return fmt.Errorf("validating oauth2 provider: set either issuer or the endpoints, not both")
	case o.Issuer == "" && (o.AuthorizationEndpoint == "" || o.TokenEndpoint == ""):
		return fmt.Errorf("validating oauth2 provider: authorization_endpoint and token_endpoint, or issuer, are required")
	}
	return nil
}

// Endpoint returns the configured endpoints, or discovers them with client
// (a strict outgoing.NewClient, public addresses only, if nil) at the
// first call.
func (o *OAuth2) Endpoint(ctx context.Context, client *http.Client) (oauth2.Endpoint, error) {
	if o.Issuer == "" {
		return oauth2.Endpoint{AuthURL: o.AuthorizationEndpoint, TokenURL: o.TokenEndpoint}, nil
	}
	return o.discovery.Endpoint(ctx, client, o.Issuer, func(ctx context.Context, client *http.Client) (oauth2.Endpoint, error) {
		ep, err := discover(ctx, client, o.Issuer)
		if err != nil {
			return oauth2.Endpoint{}, fmt.Errorf("discovering oauth2 provider %s: %w", o.Issuer, err)
		}
		return ep, nil
	})
}

// Scopes returns the link's scopes unchanged.
func (*OAuth2) Scopes(link []string) []string {
	return slices.Clone(link)
}

// AuthCodeOptions returns nothing.
func (*OAuth2) AuthCodeOptions() []oauth2.AuthCodeOption {
	return nil
}

// UnmarshalCaddyfile sets up the provider from Caddyfile tokens. Syntax:
//
//	provider oauth2 <authorize-url> <token-url>
//	provider oauth2 <issuer-url>
func (o *OAuth2) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the provider name
	args := d.RemainingArgs()
	switch len(args) {
	case 1:
		o.Issuer = args[0]
	case 2:
		o.AuthorizationEndpoint, o.TokenEndpoint = args[0], args[1]
	default:
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("unrecognized subdirective %q", d.Val())
	}
	return nil
}

// discover fetches and checks the RFC 8414 metadata of issuer.
func discover(ctx context.Context, client *http.Client, issuer string) (oauth2.Endpoint, error) {
	mdURL, err := metadataURL(issuer)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mdURL, nil)
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("building metadata request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("fetching metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return oauth2.Endpoint{}, fmt.Errorf("fetching metadata from %s: status %s", mdURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("reading metadata: %w", err)
	}
	if len(body) > maxMetadata {
		return oauth2.Endpoint{}, fmt.Errorf("reading metadata: larger than %d bytes", maxMetadata)
	}
	return parseMetadata(body, issuer)
}

// metadataURL returns where the RFC 8414 metadata of issuer is: the
// well-known suffix goes between the host and the issuer's path, any
// terminating "/" of the path removed (RFC 8414 §3.1). An issuer has no
// query or fragment (§2).
func metadataURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("parsing issuer: %w", err)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("parsing issuer: an issuer has no query or fragment")
	}
	u.Path = wellKnown + strings.TrimSuffix(u.Path, "/")
	if u.RawPath != "" {
		u.RawPath = wellKnown + strings.TrimSuffix(u.RawPath, "/")
	}
	return u.String(), nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*OAuth2)(nil)
	_ caddy.Validator       = (*OAuth2)(nil)
	_ outgoing.Provider     = (*OAuth2)(nil)
	_ caddyfile.Unmarshaler = (*OAuth2)(nil)
)
