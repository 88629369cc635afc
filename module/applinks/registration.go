package applinks

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
)

// RegistrationConfig turns on dynamic client registration (RFC 7591):
// clients register themselves as incoming links marked as registered.
type RegistrationConfig struct {
	// Open lets anyone register, with no initial access token. Exactly
	// one of Open and InitialAccessToken is set.
	Open bool `json:"open,omitempty"`
	// InitialAccessToken is the bearer token a client must send to
	// register (RFC 7591 §3); placeholders such as {env.X} are resolved,
	// and an empty result is an error.
	InitialAccessToken string `json:"initial_access_token,omitempty"`
	// Scope is the permission ceiling of registered clients; an
	// administrator may raise it per client. Default: READ.
	Scope string `json:"scope,omitempty"`
	// RedirectURIs are the kinds of redirect URI registered clients may
	// use: https, loopback (http://127.0.0.1, [::1] or localhost, any
	// port) and private_use (com.example.app:/cb). Default: all three.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// MaxClients caps how many registered clients may exist. Default: 100.
	MaxClients int `json:"max_clients,omitempty"`
	// ExpireUnused deletes a registered client to which no token was
	// issued for this long. Default: 30d.
	ExpireUnused caddy.Duration `json:"expire_unused,omitempty"`
}

// provision applies defaults and resolves the initial access token.
func (c *RegistrationConfig) provision(repl *caddy.Replacer) error {
	if c.InitialAccessToken != "" {
		tok, err := repl.ReplaceOrErr(c.InitialAccessToken, true, true)
		if err != nil {
			return fmt.Errorf("registration: initial access token: %w", err)
		}
		c.InitialAccessToken = tok
	}
	if c.Scope == "" {
		c.Scope = scope.Read.String()
	}
	if len(c.RedirectURIs) == 0 {
		c.RedirectURIs = []string{links.RedirectHTTPS, links.RedirectLoopback, links.RedirectPrivateUse}
	}
	if c.MaxClients == 0 {
		c.MaxClients = links.DefaultMaxRegistered
	}
	if c.ExpireUnused == 0 {
		c.ExpireUnused = caddy.Duration(links.DefaultExpireUnused)
	}
	return nil
}

// Check reports the first problem of the configuration.
func (c *RegistrationConfig) Check() error {
	if c.Open == (c.InitialAccessToken != "") {
		return errors.New("registration: give either open or an initial access token")
	}
	if c.Scope != "" {
		if _, err := scope.Parse(c.Scope); err != nil {
			return fmt.Errorf("registration: scope: %w", err)
		}
	}
	for _, k := range c.RedirectURIs {
		if !slices.Contains([]string{links.RedirectHTTPS, links.RedirectLoopback, links.RedirectPrivateUse}, k) {
			return fmt.Errorf("registration: redirect_uris %q: want https, loopback or private_use", k)
		}
	}
	if c.MaxClients < 0 || c.ExpireUnused < 0 {
		return errors.New("registration: max_clients and expire_unused must not be negative")
	}
	return nil
}

// Registration returns the registration policy; ok is false when
// registration is off.
func (a *App) Registration() (p links.Registration, ok bool) {
	c := a.DynamicRegistration
	if c == nil {
		return links.Registration{}, false
	}
	ceiling, _ := scope.Parse(c.Scope) // checked
	return links.Registration{Ceiling: ceiling, RedirectKinds: c.RedirectURIs, Max: c.MaxClients}, true
}

// RegistrationAllowed reports whether a request carrying the bearer
// token tok (empty when none) may register a client.
func (a *App) RegistrationAllowed(tok string) bool {
	c := a.DynamicRegistration
	if c == nil {
		return false
	}
	return c.Open || subtle.ConstantTimeCompare([]byte(tok), []byte(c.InitialAccessToken)) == 1
}

// expireRegistrations deletes registered clients unused for the
// configured time.
func (a *App) expireRegistrations(now time.Time) {
	c := a.DynamicRegistration
	if c == nil {
		return
	}
	if _, err := a.links.ExpireUnused(a.ctx, now.Add(-time.Duration(c.ExpireUnused))); err != nil && a.ctx.Err() == nil {
		a.logger.Warn("deleting unused registered clients", zap.Error(err))
	}
}
