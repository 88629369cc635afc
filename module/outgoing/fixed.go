package outgoing

import (
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FixedEndpoints are the endpoints of a provider known in advance (Google,
// Microsoft). A configuration may replace them, which is meant for tests
// against a local fake.
type FixedEndpoints struct {
	// AuthorizationEndpoint replaces the provider's authorization
	// endpoint. Global placeholders such as {env.X} are resolved at
	// provision time.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenEndpoint replaces the provider's token endpoint.
	TokenEndpoint string `json:"token_endpoint,omitempty"`
}

// Resolve resolves placeholders, fills in the provider's defaults for the
// endpoints not replaced and checks both with CheckEndpoint; provider
// names the provider in errors.
func (f *FixedEndpoints) Resolve(provider, defaultAuthorization, defaultToken string) error {
	repl := caddy.NewReplacer()
	f.AuthorizationEndpoint = repl.ReplaceKnown(f.AuthorizationEndpoint, "")
	f.TokenEndpoint = repl.ReplaceKnown(f.TokenEndpoint, "")
	if f.AuthorizationEndpoint == "" {
		f.AuthorizationEndpoint = defaultAuthorization
	}
	if f.TokenEndpoint == "" {
		f.TokenEndpoint = defaultToken
	}
	if err := CheckEndpoint(f.AuthorizationEndpoint); err != nil {
		return fmt.Errorf("provisioning %s authorization_endpoint: %w", provider, err)
	}
	if err := CheckEndpoint(f.TokenEndpoint); err != nil {
		return fmt.Errorf("provisioning %s token_endpoint: %w", provider, err)
	}
	return nil
}

// Check reports an error unless both endpoints are set.
func (f *FixedEndpoints) Check(provider string) error {
	if f.AuthorizationEndpoint == "" || f.TokenEndpoint == "" {
		return errors.New("validating " + provider + " provider: authorization and token endpoints are required")
	}
	return nil
}

// Fixed returns the endpoints; the client credentials go in the request
// body, as Google and Microsoft take them.
func (f *FixedEndpoints) Fixed() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: f.AuthorizationEndpoint, TokenURL: f.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}
}

// UnmarshalSubdirective parses the authorization_endpoint and
// token_endpoint subdirectives; handled is false for any other.
func (f *FixedEndpoints) UnmarshalSubdirective(d *caddyfile.Dispenser) (handled bool, err error) {
	var dst *string
	switch d.Val() {
	case "authorization_endpoint":
		dst = &f.AuthorizationEndpoint
	case "token_endpoint":
		dst = &f.TokenEndpoint
	default:
		return false, nil
	}
	if !d.AllArgs(dst) {
		return true, d.ArgErr()
	}
	return true, nil
}
