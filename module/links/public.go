package links

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// ErrPublic means a public link has no client secret to show or rotate.
var ErrPublic = errors.New("the link is a public client and has no client secret")

// PKCERequired reports whether the link redeems only codes bound to an
// S256 code challenge: when it asks for it, and always for a public
// client, whose code is otherwise redeemable by whoever intercepts it.
func (l Link) PKCERequired() bool { return l.RequirePKCE || l.Public }

// AuthenticatePublic returns the public link with the given client id:
// a public client is identified, not authenticated, by its client id
// (RFC 6749 §2.1). A client id that is a URL is resolved through its
// document; ErrBadClient wraps ErrBadDocument when that fails.
// ErrBadClient when there is no such link or it is
// confidential, so that a confidential client cannot skip its secret.
func (r *Registry) AuthenticatePublic(ctx context.Context, clientID string) (Link, error) {
	l, err := r.ByClientID(ctx, clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Link{}, ErrBadClient
	case errors.Is(err, ErrBadDocument):
		return Link{}, fmt.Errorf("%w: %w", ErrBadClient, err)
	case err != nil:
		return Link{}, err
	}
	if !l.Public || l.IsOAuth1() {
		return Link{}, ErrBadClient
	}
	return l, nil
}

// loopbackMatch reports whether uri is the registered loopback redirect
// URI with another port: RFC 8252 §7.3 has a native application listen
// on whatever port the system gives it, so the authorization server
// allows any port for a loopback redirect URI. Scheme (http), host, path
// and query must match exactly.
func loopbackMatch(registered, uri string) bool {
	reg, err := url.Parse(registered)
	if err != nil || reg.Scheme != "http" || !IsLoopback(reg.Hostname()) {
		return false
	}
	got, err := url.Parse(uri)
	if err != nil || strings.Contains(uri, "#") {
		return false
	}
	return got.Scheme == reg.Scheme && got.User == nil && reg.User == nil &&
		strings.EqualFold(got.Hostname(), reg.Hostname()) &&
		got.EscapedPath() == reg.EscapedPath() && got.RawQuery == reg.RawQuery && validPort(got.Port())
}

// validPort reports whether p is empty or a port number.
func validPort(p string) bool {
	if len(p) > 5 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// configSecrets returns the sealed secret of a declared link; none for a
// public one.
func configSecrets(keys *secret.Keys, c ConfigLink, id string) []store.Secret {
	if c.Public {
		return nil
	}
	return []store.Secret{{Sealed: keys.Seal([]byte(c.ClientSecret), []byte(id))}}
}
