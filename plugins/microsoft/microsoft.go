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

	"github.com/applinks/caddy-applinks/internal/nearest"
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
	// The endpoints default to
	// https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize and
	// .../token.
	outgoing.FixedEndpoints
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
	m.Tenant = caddy.NewReplacer().ReplaceKnown(m.Tenant, "")
	if m.Tenant == "" {
		m.Tenant = DefaultTenant
	}
	if err := checkTenant(m.Tenant); err != nil {
		return fmt.Errorf("provisioning microsoft provider: %w", err)
	}
	base := "https://login.microsoftonline.com/" + m.Tenant + "/oauth2/v2.0/"
	return m.Resolve("microsoft", base+"authorize", base+"token")
}

// Validate checks the tenant and that both endpoints are set.
func (m *Microsoft) Validate() error {
	if err := checkTenant(m.Tenant); err != nil {
		return fmt.Errorf("validating microsoft provider: %w", err)
	}
	return m.Check("microsoft")
}

// Endpoint returns the tenant's endpoints (or their replacements). The
// client credentials go in the request body.
func (m *Microsoft) Endpoint(context.Context, *http.Client) (oauth2.Endpoint, error) {
	return m.Fixed(), nil
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
		default:
			if handled, err := m.UnmarshalSubdirective(d); err != nil {
				return err
			} else if !handled {
				return d.Errf("unrecognized subdirective %q%s", d.Val(), nearest.Suggest(d.Val(), []string{"tenant", "authorization_endpoint", "token_endpoint"}))
			}
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
