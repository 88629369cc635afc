package users

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
)

// Check reports the first problem that keeps the declared user from
// loading: no name, a password that is not a bcrypt hash, an unknown role.
// A password holding a placeholder ({env.X}) is checked once resolved, by
// NewDirectory. The Caddyfile adapter calls Check so that the error names
// the line.
func (c ConfigUser) Check() error {
	if c.Name == "" {
		return errors.New("user: a name is required")
	}
	if !strings.Contains(c.Password, "{") {
		if _, err := bcrypt.Cost([]byte(c.Password)); err != nil {
			return fmt.Errorf("user %q: the password must be a bcrypt hash, as `caddy hash-password` prints it: %w", c.Name, err)
		}
	}
	if c.Role != "" {
		if _, err := scope.Parse(c.Role); err != nil {
			return fmt.Errorf("user %q: %w", c.Name, err)
		}
	}
	return nil
}

// Check reports the first problem of one sign-in provider on its own: an
// issuer that is not an absolute https URL (http only on loopback), no
// client_id, an unknown role or default_role. NewOIDCLogin checks the
// providers against each other as well.
func (c OIDCConfig) Check() error {
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("login oidc: issuer %q is not an absolute http(s) URL", c.Issuer)
	}
	if u.Scheme == "http" && !links.IsLoopback(u.Hostname()) {
		return fmt.Errorf("login oidc: issuer %q must use https (http only on loopback)", c.Issuer)
	}
	if c.ClientID == "" {
		return fmt.Errorf("login oidc %s: client_id is required", c.Issuer)
	}
	for v, r := range c.Roles {
		if _, err := scope.Parse(r); err != nil {
			return fmt.Errorf("login oidc %s: role for %q: %w", c.Issuer, v, err)
		}
	}
	if c.DefaultRole != "" && c.DefaultRole != "NONE" {
		if _, err := scope.Parse(c.DefaultRole); err != nil {
			return fmt.Errorf("login oidc %s: default_role: %w (or NONE)", c.Issuer, err)
		}
	}
	return nil
}
