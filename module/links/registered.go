package links

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// Kinds of redirect URI a registration policy may allow.
const (
	RedirectHTTPS      = "https"
	RedirectLoopback   = "loopback"
	RedirectPrivateUse = "private_use"
)

// Defaults of a registration policy.
const (
	DefaultMaxRegistered = 100
	DefaultExpireUnused  = 30 * 24 * time.Hour
)

// ErrTooManyRegistered means the policy's cap on registered clients is
// reached.
var ErrTooManyRegistered = errors.New("too many registered clients")

// Registration is the policy for clients that register themselves.
type Registration struct {
	// Ceiling is the permission ceiling registered clients get.
	Ceiling scope.Scope
	// RedirectKinds are the kinds of redirect URI allowed: RedirectHTTPS,
	// RedirectLoopback, RedirectPrivateUse.
	RedirectKinds []string
	// Max caps how many registered clients may exist.
	Max int
}

// Registrant is what a client sends about itself to register.
type Registrant struct {
	// ClientName is a name for people; it may be empty.
	ClientName   string
	RedirectURIs []string
	// Public: token_endpoint_auth_method none.
	Public bool
}

// RedirectKind returns which kind of redirect URI a valid one is.
func RedirectKind(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return ""
	case u.Scheme == "https":
		return RedirectHTTPS
	case u.Scheme == "http":
		return RedirectLoopback
	}
	return RedirectPrivateUse
}

// Register validates a self-registered client as strictly as an
// administrator's link (ValidateRedirectURIs) and against the policy,
// and stores it as a link marked Registered under the policy's ceiling.
// It returns the link and, for a confidential client, its secret.
// Errors of the client's metadata wrap ErrBadRedirect or ErrBadMetadata.
func (r *Registry) Register(ctx context.Context, p Registration, in Registrant) (Link, string, error) {
	if err := ValidateRedirectURIs(in.RedirectURIs); err != nil {
		return Link{}, "", fmt.Errorf("%w: %w", ErrBadRedirect, err)
	}
	for _, u := range in.RedirectURIs {
		if k := RedirectKind(u); !slices.Contains(p.RedirectKinds, k) {
			return Link{}, "", fmt.Errorf("%w: redirect URL %q is of a kind (%s) this gateway does not accept for registered clients; allowed: %s", ErrBadRedirect, u, k, strings.Join(p.RedirectKinds, ", "))
		}
	}
	name := strings.TrimSpace(in.ClientName)
	if len(name) > 80 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Link{}, "", fmt.Errorf("%w: client_name must be at most 80 characters without control characters", ErrBadMetadata)
	}
	all, err := r.store.ListLinks(ctx)
	if err != nil {
		return Link{}, "", fmt.Errorf("listing links: %w", err)
	}
	n := 0
	for _, l := range all {
		if l.Registered {
			n++
		}
	}
	if n >= p.Max {
		return Link{}, "", ErrTooManyRegistered
	}
	id := randomHex(16)
	if name == "" {
		name = "client"
	}
	now := r.now().UTC()
	sl := store.Link{
		ID:           id,
		Name:         name + " (registered " + id[:8] + ")",
		RedirectURIs: slices.Clone(in.RedirectURIs),
		Ceiling:      p.Ceiling.String(),
		ClientID:     randomHex(16),
		Public:       in.Public,
		Registered:   true,
		CreatedAt:    now,
		UpdatedAt:    now,
		CreatedBy:    "self-registration",
	}
	sec, err := r.createLink(ctx, &sl, now)
	if err != nil {
		return Link{}, "", err
	}
	r.audit.Info("client registered", zap.String("link", sl.Name), zap.String("link_id", id), zap.String("client_id", sl.ClientID), zap.Bool("public", sl.Public), zap.Strings("redirect_uris", sl.RedirectURIs))
	return runtimeLink(sl), sec, nil
}

// Errors of Register, beside the store's.
var (
	// ErrBadRedirect means a redirect URI is invalid or not allowed
	// (RFC 7591 invalid_redirect_uri).
	ErrBadRedirect = errors.New("invalid redirect URI")
	// ErrBadMetadata means other client metadata is invalid (RFC 7591
	// invalid_client_metadata).
	ErrBadMetadata = errors.New("invalid client metadata")
)

// ExpireUnused deletes registered clients that have not been used (no
// token issued, see MarkUsed) since before cutoff, with their grants, and
// returns how many it deleted.
func (r *Registry) ExpireUnused(ctx context.Context, cutoff time.Time) (int, error) {
	all, err := r.store.ListLinks(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing links: %w", err)
	}
	n := 0
	for _, l := range all {
		last := l.LastUsedAt
		if last.IsZero() {
			last = l.CreatedAt
		}
		if !l.Registered || !last.Before(cutoff) {
			continue
		}
		if err := r.store.DeleteLink(ctx, l.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("deleting unused registered client %s: %w", l.ID, err)
		}
		n++
		r.audit.Info("unused registered client deleted", zap.String("link", l.Name), zap.String("link_id", l.ID), zap.Time("last_used", last))
	}
	if n > 0 {
		r.changed()
	}
	return n, nil
}

// MarkUsed records that tokens were issued to a registered link, at most
// once a day, so that ExpireUnused keeps it; other links are left alone.
func (r *Registry) MarkUsed(ctx context.Context, l Link) error {
	now := r.now().UTC()
	if !l.Registered || now.Sub(l.LastUsedAt) < 24*time.Hour {
		return nil
	}
	_, err := r.store.UpdateLink(ctx, l.ID, func(sl *store.Link) error {
		sl.LastUsedAt = now.Truncate(24 * time.Hour)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording use of link %s: %w", l.ID, err)
	}
	return nil
}
