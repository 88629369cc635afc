// Package links is the registry of incoming links: those declared in the
// configuration and those created at runtime in the store, looked up by id
// or client id, with their client secrets sealed at rest.
package links

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Sources of a link.
const (
	SourceConfig  = "config"
	SourceRuntime = "runtime"
)

// DefaultSecretOverlap is how long a rotated-out client secret stays valid.
const DefaultSecretOverlap = 24 * time.Hour

// Errors of the registry, beside the store's sentinels.
var (
	// ErrReadOnly means the link is declared in the configuration.
	ErrReadOnly = errors.New("link is declared in the configuration and read-only")
	// ErrBadClient means the client id or secret is wrong.
	ErrBadClient = errors.New("unknown client or wrong client secret")
)

// ConfigLink declares an incoming link in the configuration: an OAuth 2.0
// client, or with OAuth1 an OAuth 1.0a consumer.
type ConfigLink struct {
	// Name identifies the link in lists and logs; unique.
	Name string `json:"name"`
	// RedirectURIs are the exact redirect URIs the application may use.
	RedirectURIs []string `json:"redirect_uris"`
	// Scope is the link's permission ceiling: READ, WRITE, ADMIN or
	// SYSTEM_ADMIN. Default: READ.
	Scope string `json:"scope,omitempty"`
	// ClientID is the OAuth client id. Default: the name.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the OAuth client secret; placeholders such as
	// {env.X} are resolved at provision time. Required unless Public.
	ClientSecret string `json:"client_secret,omitempty"`
	// RequirePKCE refuses authorization requests without a code challenge.
	RequirePKCE bool `json:"require_pkce,omitempty"`
	// Public declares a client that keeps no secret (a desktop, mobile or
	// command-line application): it authenticates with its client_id alone
	// (token_endpoint_auth_method none), must use PKCE with S256, and its
	// loopback redirect URIs match any port (RFC 8252 §7.3). Default:
	// false.
	Public bool `json:"public,omitempty"`
	// ClientCredentials names the user the link acts as with the
	// client_credentials grant (a service account): its tokens grant
	// min(the user's role, Scope), re-checked on every request, and come
	// without a refresh token. Needs a client_secret. Default: none (the
	// link may not use the grant).
	ClientCredentials string `json:"client_credentials,omitempty"`
	// OAuth1 makes the link an OAuth 1.0a consumer instead of an OAuth 2.0
	// client: it then has no redirect_uris, client_id or client_secret.
	// Default: none (an OAuth 2.0 client).
	OAuth1 *OAuth1Config `json:"oauth1,omitempty"`
}

// Link is an incoming link with where it comes from.
type Link struct {
	store.Link
	// Source is SourceConfig or SourceRuntime.
	Source string `json:"source"`
	// Ceiling is the parsed permission ceiling.
	Ceiling scope.Scope `json:"-"`
	// ClaimedName is what a client identified by its own document
	// (SourceDocument) calls itself there; unverified.
	ClaimedName string `json:"-"`
}

// Edit is what an administrator may change on a runtime link; its name,
// client id and secrets stay.
type Edit struct {
	RedirectURIs []string
	Ceiling      scope.Scope
	RequirePKCE  bool
}

// NewLink is what an administrator enters to create a link.
type NewLink struct {
	Name         string
	RedirectURIs []string
	Ceiling      scope.Scope
	RequirePKCE  bool
	// Public creates a client without a secret (see ConfigLink.Public).
	Public    bool
	CreatedBy string
}

// Registry finds and changes incoming links.
type Registry struct {
	store    store.LinkStore
	keys     *secret.Keys
	byClient map[string]Link
	byID     map[string]Link
	names    map[string]bool
	now      func() time.Time
	audit    *zap.Logger
	changed  func()
	docs     Documents
	// consumers remembers whether runtime links include OAuth 1.0a
	// consumers; see HasConsumers.
	consumers consumerCheck
}

// New returns a registry over st holding the config-declared links, whose
// secrets it seals with keys like runtime ones. It calls changed after a
// link is updated or deleted (with its grants), so that validations
// cached before are made again.
func New(st store.LinkStore, keys *secret.Keys, declared []ConfigLink, now func() time.Time, audit *zap.Logger, changed func()) (*Registry, error) {
	r := &Registry{store: st, keys: keys, byClient: map[string]Link{}, byID: map[string]Link{}, names: map[string]bool{}, now: now, audit: audit, changed: changed}
	for _, c := range declared {
		l, err := r.fromConfig(c)
		if err != nil {
			return nil, fmt.Errorf("incoming link %q: %w", c.Name, err)
		}
		if r.names[l.Name] {
			return nil, fmt.Errorf("incoming link %q declared twice", l.Name)
		}
		if _, dup := r.byClient[l.ClientID]; dup {
			return nil, fmt.Errorf("incoming link %q: client_id %q is used by another link", l.Name, l.ClientID)
		}
		r.byClient[l.ClientID], r.byID[l.ID], r.names[l.Name] = l, l, true
	}
	return r, nil
}

// ConfigID is the id of a config-declared link: stable across restarts, so
// grants survive them.
func ConfigID(name string) string { return "cfg-" + name }

// Get returns the link with the given id.
func (r *Registry) Get(ctx context.Context, id string) (Link, error) {
	if l, ok := r.byID[id]; ok {
		return l, nil
	}
	if strings.HasPrefix(id, documentIDPrefix) {
		return r.documentByID(id)
	}
	sl, err := r.store.GetLink(ctx, id)
	if err != nil {
		return Link{}, err
	}
	return runtimeLink(sl), nil
}

// ByClientID returns the link with the given OAuth client id.
func (r *Registry) ByClientID(ctx context.Context, clientID string) (Link, error) {
	if l, ok := r.byClient[clientID]; ok {
		return l, nil
	}
	if isDocumentClientID(clientID) {
		return r.documentByClientID(ctx, clientID)
	}
	sl, err := r.store.GetLinkByClientID(ctx, clientID)
	if err != nil {
		return Link{}, err
	}
	return runtimeLink(sl), nil
}

// Ceiling returns the current permission ceiling of the link with the
// given id: scope.None while it is disabled (see SetDisabled);
// store.ErrNotFound when there is no such link.
func (r *Registry) Ceiling(ctx context.Context, id string) (scope.Scope, error) {
	l, err := r.Get(ctx, id)
	if err != nil {
		return scope.None, err
	}
	if l.Disabled {
		return scope.None, nil
	}
	return l.Ceiling, nil
}

// List returns config-declared links, then runtime links, each by name.
func (r *Registry) List(ctx context.Context) ([]Link, error) {
	out := make([]Link, 0, len(r.byID))
	for _, l := range r.byID {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	stored, err := r.store.ListLinks(ctx)
	if err != nil {
		return nil, err
	}
	for _, sl := range stored {
		out = append(out, runtimeLink(sl))
	}
	return out, nil
}

// Create validates and stores a runtime link with a fresh client id and
// secret, and returns the link and the secret in clear.
func (r *Registry) Create(ctx context.Context, in NewLink) (Link, string, error) {
	if err := validateName(in.Name); err != nil {
		return Link{}, "", err
	}
	if r.names[in.Name] {
		return Link{}, "", fmt.Errorf("name %q: %w", in.Name, store.ErrAlreadyExists)
	}
	if isID, err := r.nameIsAnID(ctx, in.Name); err != nil {
		return Link{}, "", err
	} else if isID {
		return Link{}, "", fmt.Errorf("name %q is another link's id: %w", in.Name, store.ErrAlreadyExists)
	}
	if err := ValidateRedirectURIs(in.RedirectURIs); err != nil {
		return Link{}, "", err
	}
	if err := validateCeiling(in.Ceiling); err != nil {
		return Link{}, "", err
	}
	now := r.now().UTC()
	id := randomHex(16)
	sl := store.Link{
		ID:           id,
		Name:         in.Name,
		RedirectURIs: slices.Clone(in.RedirectURIs),
		Ceiling:      in.Ceiling.String(),
		ClientID:     randomHex(16),
		RequirePKCE:  in.RequirePKCE,
		Public:       in.Public,
		CreatedAt:    now,
		UpdatedAt:    now,
		CreatedBy:    in.CreatedBy,
	}
	sec, err := r.createLink(ctx, &sl, now)
	if err != nil {
		return Link{}, "", err
	}
	r.audit.Info("link created", zap.String("link", sl.Name), zap.String("link_id", id), zap.String("client_id", sl.ClientID), zap.Bool("public", sl.Public), zap.String("by", in.CreatedBy))
	return runtimeLink(sl), sec, nil
}

// Delete removes a runtime link with all its grants and tokens.
func (r *Registry) Delete(ctx context.Context, id, by string) error {
	if _, ok := r.byID[id]; ok {
		return ErrReadOnly
	}
	l, err := r.store.GetLink(ctx, id)
	if err != nil {
		return err
	}
	err = r.store.DeleteLink(ctx, id)
	r.changed()
	if err != nil {
		return err
	}
	r.audit.Info("link deleted", zap.String("link", l.Name), zap.String("link_id", id), zap.String("by", by))
	return nil
}

// errConsumerEdit means Update was given an OAuth 1.0a consumer.
var errConsumerEdit = errors.New("an OAuth 1.0a consumer has no redirect URLs or PKCE: change its settings and permission as a consumer's")

// Update changes a runtime OAuth 2.0 link's redirect URIs, permission
// ceiling and PKCE requirement; its name, client id and secrets stay.
// Tokens already issued through the link are held to the new ceiling
// from their next request on. An OAuth 1.0a consumer is changed with
// UpdateConsumer.
func (r *Registry) Update(ctx context.Context, id string, in Edit, by string) (Link, error) {
	l, err := r.updateRuntime(ctx, id, in.Ceiling, func(l *store.Link) error {
		// An OAuth 1.0a consumer has no redirect URIs or PKCE.
		if l.OAuth1 != nil {
			return errConsumerEdit
		}
		if err := ValidateRedirectURIs(in.RedirectURIs); err != nil {
			return err
		}
		l.RedirectURIs = slices.Clone(in.RedirectURIs)
		l.RequirePKCE = in.RequirePKCE
		return nil
	})
	if err != nil {
		return Link{}, err
	}
	r.audit.Info("link updated", zap.String("link", l.Name), zap.String("link_id", id), zap.String("scope", l.Ceiling), zap.Bool("require_pkce", l.RequirePKCE), zap.String("by", by))
	return runtimeLink(l), nil
}

// updateRuntime changes the runtime link id in one store update: apply
// changes what is particular to the link's kind, then the permission
// ceiling and the time of the change are set. Declared links are
// refused with ErrReadOnly; tokens already issued feel the change from
// their next request on.
func (r *Registry) updateRuntime(ctx context.Context, id string, ceiling scope.Scope, apply func(*store.Link) error) (store.Link, error) {
	if _, ok := r.byID[id]; ok {
		return store.Link{}, ErrReadOnly
	}
	if err := validateCeiling(ceiling); err != nil {
		return store.Link{}, err
	}
	now := r.now().UTC()
	l, err := r.store.UpdateLink(ctx, id, func(l *store.Link) error {
		if err := apply(l); err != nil {
			return err
		}
		l.Ceiling = ceiling.String()
		l.UpdatedAt = now
		return nil
	})
	if err != nil {
		return store.Link{}, err
	}
	r.changed()
	return l, nil
}

// RotateSecret gives a runtime link a new secret and keeps the previous
// ones valid for overlap; it returns the new secret in clear.
func (r *Registry) RotateSecret(ctx context.Context, id string, overlap time.Duration, by string) (string, error) {
	if _, ok := r.byID[id]; ok {
		return "", ErrReadOnly
	}
	sec := token.New(token.ClientSecret)
	if l, err := r.store.GetLink(ctx, id); err != nil {
		return "", err
	} else if l.Public {
		return "", ErrPublic
	} else if l.OAuth1 != nil && l.OAuth1.PublicKey != "" {
		return "", errors.New("the OAuth 1.0a consumer signs with its RSA key and has no shared secret to rotate")
	}
	now := r.now().UTC()
	l, err := r.store.UpdateLink(ctx, id, func(l *store.Link) error {
		kept := l.Secrets[:0]
		for _, s := range l.Secrets {
			if s.ExpiresAt.IsZero() || s.ExpiresAt.After(now.Add(overlap)) {
				s.ExpiresAt = now.Add(overlap)
			}
			if s.ExpiresAt.After(now) {
				kept = append(kept, s)
			}
		}
		l.Secrets = append([]store.Secret{{Sealed: r.keys.Seal([]byte(sec), []byte(l.ID)), CreatedAt: now}}, kept...)
		l.UpdatedAt = now
		return nil
	})
	if err != nil {
		return "", err
	}
	r.audit.Info("link secret rotated", zap.String("link", l.Name), zap.String("link_id", id), zap.Duration("overlap", overlap), zap.String("by", by))
	return sec, nil
}

// Secret returns a link's current client secret in clear, for "view
// credentials".
func (r *Registry) Secret(l Link) (string, error) {
	if l.Public {
		return "", ErrPublic
	}
	if len(l.Secrets) == 0 {
		return "", errors.New("link has no secret")
	}
	b, err := r.keys.Open(l.Secrets[0].Sealed, []byte(l.ID))
	return string(b), err
}

// Authenticate returns the link whose client id and (current or
// overlapping) secret match, comparing secrets in constant time. An OAuth
// 1.0a consumer is no OAuth 2.0 client: its consumer key and shared
// secret are refused (ErrBadClient).
func (r *Registry) Authenticate(ctx context.Context, clientID, clientSecret string) (Link, error) {
	l, err := r.ByClientID(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrBadDocument) {
		return Link{}, ErrBadClient
	}
	if err != nil {
		return Link{}, err
	}
	if l.IsOAuth1() {
		return Link{}, ErrBadClient
	}
	secrets, err := openSecrets(r.keys, l, r.now())
	if err != nil {
		return Link{}, err
	}
	for _, plain := range secrets {
		if subtle.ConstantTimeCompare([]byte(plain), []byte(clientSecret)) == 1 {
			return l, nil
		}
	}
	return Link{}, ErrBadClient
}

// AllowsRedirect reports whether uri is one of the link's redirect URIs,
// compared exactly; for a public link, a loopback redirect URI matches
// with any port (see loopbackMatch).
func (l Link) AllowsRedirect(uri string) bool {
	if slices.Contains(l.RedirectURIs, uri) {
		return true
	}
	return l.Public && slices.ContainsFunc(l.RedirectURIs, func(registered string) bool { return loopbackMatch(registered, uri) })
}

// ValidateRedirectURIs checks redirect URIs as RFC 6749 §3.1.2 and RFC 8252
// ask: absolute, no fragment; http only for loopback hosts; other schemes
// only private-use ones (with a dot, e.g. com.example.app).
func ValidateRedirectURIs(uris []string) error {
	if len(uris) == 0 {
		return errors.New("a redirect URL is required")
	}
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" {
			return fmt.Errorf("redirect URL %q is not an absolute URL", raw)
		}
		if u.Fragment != "" || strings.Contains(raw, "#") {
			return fmt.Errorf("redirect URL %q must not have a fragment", raw)
		}
		switch u.Scheme {
		case "https":
			if u.Host == "" {
				return fmt.Errorf("redirect URL %q has no host", raw)
			}
		case "http":
			if !IsLoopback(u.Hostname()) {
				return fmt.Errorf("redirect URL %q must use https (http is allowed for localhost only)", raw)
			}
		default:
			if !strings.Contains(u.Scheme, ".") {
				return fmt.Errorf("redirect URL %q: scheme %q is neither https nor a private-use scheme like com.example.app", raw, u.Scheme)
			}
		}
	}
	return nil
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	host = strings.ToLower(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (r *Registry) fromConfig(c ConfigLink) (Link, error) {
	if c.OAuth1 != nil {
		return r.fromConsumerConfig(c)
	}
	if err := c.Check(); err != nil {
		return Link{}, err
	}
	ceiling := scope.Read
	if c.Scope != "" {
		ceiling, _ = scope.Parse(c.Scope) // checked
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = c.Name
	}
	id := ConfigID(c.Name)
	return Link{
		Link: store.Link{
			ID:           id,
			Name:         c.Name,
			RedirectURIs: slices.Clone(c.RedirectURIs),
			Ceiling:      ceiling.String(),
			ClientID:     clientID,
			Secrets:      configSecrets(r.keys, c, id),
			RequirePKCE:  c.RequirePKCE,
			Public:       c.Public,
			ServiceUser:  c.ClientCredentials,
		},
		Source:  SourceConfig,
		Ceiling: ceiling,
	}, nil
}

func runtimeLink(sl store.Link) Link {
	ceiling, _ := scope.Parse(sl.Ceiling)
	return Link{Link: sl, Source: SourceRuntime, Ceiling: ceiling}
}

func validateCeiling(s scope.Scope) error {
	if s < scope.Read || s > scope.SystemAdmin {
		return errors.New("permission is required: READ, WRITE, ADMIN or SYSTEM_ADMIN")
	}
	return nil
}

func validateName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("a name is required")
	case len(name) > 100:
		return errors.New("the name is longer than 100 characters")
	case name == "." || name == "..":
		return errors.New("the names . and .. cannot be used (they are path steps in URLs)")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("the name contains control characters")
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// createLink gives a new confidential link its first secret (sealed; a
// public link has none) and stores it; it returns the secret in the clear,
// to be shown this once.
func (r *Registry) createLink(ctx context.Context, sl *store.Link, now time.Time) (string, error) {
	var sec string
	if !sl.Public {
		sec = token.New(token.ClientSecret)
		sl.Secrets = []store.Secret{{Sealed: r.keys.Seal([]byte(sec), []byte(sl.ID)), CreatedAt: now}}
	}
	if err := r.store.CreateLink(ctx, *sl); err != nil {
		return "", err
	}
	return sec, nil
}
