package links

import (
	"errors"

	"github.com/applinks/caddy-applinks/module/scope"
)

// ErrClientSecretRequired means a declared incoming link has no
// client_secret.
var ErrClientSecretRequired = errors.New("client_secret is required (a long random string, or a placeholder such as {env.APP_SECRET}), or public for a client that keeps no secret")

// Check reports the first problem that keeps the declared link from
// loading: its name, its redirect URIs, its scope, a missing
// client_secret. The Caddyfile adapter calls it so that the error names
// the line; the registry calls it again when provisioning JSON.
func (c ConfigLink) Check() error {
	if err := validateName(c.Name); err != nil {
		return err
	}
	if c.Scope != "" {
		if _, err := scope.Parse(c.Scope); err != nil {
			return err
		}
	}
	if c.OAuth1 != nil {
		return c.checkOAuth1()
	}
	// A link that only acts as its service user needs no redirect URI.
	if len(c.RedirectURIs) > 0 || c.ClientCredentials == "" {
		if err := ValidateRedirectURIs(c.RedirectURIs); err != nil {
			return err
		}
	}
	switch {
	case c.Public && c.ClientSecret != "":
		return errors.New("a public link has no client_secret: remove one of them")
	case !c.Public && c.ClientSecret == "":
		return ErrClientSecretRequired
	case c.Public && c.ClientCredentials != "":
		return errors.New("client_credentials needs a confidential link: a public link has no secret to authenticate with")
	}
	return nil
}
