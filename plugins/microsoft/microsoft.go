// Package microsoft is the applinks.providers.microsoft module: the
// Microsoft identity platform (Entra ID, personal Microsoft accounts) as
// the provider of outgoing links.
package microsoft

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

// DefaultTenant lets both work or school and personal accounts sign in.
const DefaultTenant = "common"

// offlineAccess is the scope without which Microsoft returns no refresh
// token.
const offlineAccess = "offline_access"

func init() {
	caddy.RegisterModule(new(Microsoft))
}

// Microsoft is the Microsoft identity platform (v2.0 endpoints) as the
// authorization server of an outgoing link. It always asks for the
// offline_access scope, without which Microsoft returns no refresh token.
// Microsoft rotates refresh tokens at every refresh.
type Microsoft struct {
	// Tenant is the directory users sign in to: common, organizations,
	// consumers, a tenant ID or a verified domain. Default: common
	Tenant string `json:"tenant,omitempty"`
	// AuthorizationEndpoint replaces the tenant's authorization endpoint;
	// it is meant for tests against a local fake. Global placeholders such
	// as {env.X} are resolved at provision time. Default:
	// https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenEndpoint replaces the tenant's token endpoint; it is meant for
	// tests against a local fake. Default:
	// https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
	TokenEndpoint string `json:"token_endpoint,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*Microsoft) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "applinks.providers.microsoft",
		New: func() caddy.Module { return new(Microsoft) },
	}
}

// Provision applies the defaults, resolves placeholders and checks the
// endpoints with outgoing.CheckEndpoint.
func (m *Microsoft) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	m.Tenant = repl.ReplaceKnown(m.Tenant, "")
	m.AuthorizationEndpoint = repl.ReplaceKnown(m.AuthorizationEndpoint, "")
	m.TokenEndpoint = repl.ReplaceKnown(m.TokenEndpoint, "")
	if m.Tenant == "" {
		m.Tenant = DefaultTenant
	}
	if err := checkTenant(m.Tenant); err != nil {
		return fmt.Errorf("provisioning microsoft provider: %w", err)
	}
	base := "https://login.microsoftonline.com/" + m.Tenant + "/oauth2/v2.0/"
	if m.AuthorizationEndpoint == "" {
		m.AuthorizationEndpoint = base + "authorize"
	}
	if m.TokenEndpoint == "" {
		m.TokenEndpoint = base + "token"
	}
	if err := outgoing.CheckEndpoint(m.AuthorizationEndpoint); err != nil {
		return fmt.Errorf("provisioning microsoft authorization_endpoint: %w", err)
	}
	if err := outgoing.CheckEndpoint(m.TokenEndpoint); err != nil {
		return fmt.Errorf("provisioning microsoft token_endpoint: %w", err)
	}
	return nil
}

// Validate checks the tenant and that both endpoints are set.
func (m *Microsoft) Validate() error {
	if err := checkTenant(m.Tenant); err != nil {
		return fmt.Errorf("validating microsoft provider: %w", err)
	}
	if m.AuthorizationEndpoint == "" || m.TokenEndpoint == "" {
		return fmt.Errorf("validating microsoft provider: authorization and token endpoints are required")
	}
	return nil
}

// Endpoint returns the tenant's endpoints (or their replacements). The
// client credentials go in the request body.
func (m *Microsoft) Endpoint(context.Context, *http.Client) (oauth2.Endpoint, error) {
	return oauth2.Endpoint{
		AuthURL:   m.AuthorizationEndpoint,
		TokenURL:  m.TokenEndpoint,
		AuthStyle: oauth2.AuthStyleInParams,
	}, nil
}

// Scopes returns the link's scopes plus offline_access if it is missing.
func (*Microsoft) Scopes(link []string) []string {
	scopes := slices.Clone(link)
	if !slices.Contains(scopes, offlineAccess) {
		scopes = append(scopes, offlineAccess)
	}
	return scopes
}

// AuthCodeOptions returns nothing: offline_access is a scope.
func (*Microsoft) AuthCodeOptions() []oauth2.AuthCodeOption {
	return nil
}

// UnmarshalCaddyfile sets up the provider from Caddyfile tokens. Syntax:
//
//	provider microsoft [<tenant>] {
//		tenant <tenant>
//		authorization_endpoint <url>
//		token_endpoint <url>
//	}
//
// The block is optional; the endpoints are meant for tests against a
// local fake.
func (m *Microsoft) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the provider name
	if d.NextArg() {
		m.Tenant = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "tenant":
			if !d.AllArgs(&m.Tenant) {
				return d.ArgErr()
			}
		case "authorization_endpoint":
			if !d.AllArgs(&m.AuthorizationEndpoint) {
				return d.ArgErr()
			}
		case "token_endpoint":
			if !d.AllArgs(&m.TokenEndpoint) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}

// checkTenant refuses a tenant that is empty or could change the
// endpoints' host or path: only letters, digits, '.', '-' and '_'.
func checkTenant(tenant string) error {
	if tenant == "" {
		return fmt.Errorf("checking tenant: tenant is required")
	}
	for _, c := range tenant {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && tenant != "." && tenant != "..":
		default:
			return fmt.Errorf("checking tenant %q: only letters, digits, '.', '-' and '_' are allowed", tenant)
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Microsoft)(nil)
	_ caddy.Validator       = (*Microsoft)(nil)
	_ outgoing.Provider     = (*Microsoft)(nil)
	_ caddyfile.Unmarshaler = (*Microsoft)(nil)
)
