package outgoing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/store"
)

// MaxSignedForm bounds the form body (application/x-www-form-urlencoded)
// of a request an OAuth 1.0a link signs: its parameters are part of the
// signature, so it is read before the request goes on.
const MaxSignedForm = 1 << 20

// Signed is what Sign signed a request with, for Rejected.
type Signed struct {
	link, user string
	sealed     []byte
}

// Sign signs r, a request about to be proxied to link l's remote product,
// with the access token of user's connection (empty for a shared link):
// RSA-SHA1 with the gateway's consumer key and a fresh nonce and
// timestamp, for the URL SignedURL gives, in an `Authorization: OAuth …`
// header that replaces r's; r's Host becomes that URL's host. A form
// body is read up to MaxSignedForm bytes and put back unchanged.
// ErrNotConnected when there is no usable connection;
// oauth1.ErrFormTooLarge and oauth1.ErrProtocolParameter for a request
// that cannot be signed.
func (s *Service) Sign(ctx context.Context, l *Link, userID string, r *http.Request) (Signed, error) {
	if l.OAuth1 == nil {
		return Signed{}, fmt.Errorf("outgoing link %q is not an OAuth 1.0a link", l.Name)
	}
	c, err := s.store.GetConnection(ctx, l.Name, userID)
	if errors.Is(err, store.ErrNotFound) {
		return Signed{}, ErrNotConnected
	}
	if err != nil {
		return Signed{}, err
	}
	if c.Status == StatusUnrecoverable {
		return Signed{}, ErrNotConnected
	}
	var tok oauth1Token
	if err := s.openOAuth1(c.Sealed, connectionOAuth1Binding(l.Name, userID), &tok); err != nil {
		return Signed{}, err
	}
	consumer, err := s.Consumer(ctx)
	if err != nil {
		return Signed{}, err
	}
	creds := oauth1.Credentials{ConsumerKey: consumer.ConsumerKey(l), Key: consumer.private, Token: tok.Token}
	signedURL := l.OAuth1.SignedURL(r)
	if err := oauth1.Sign(r, signedURL, creds, s.now(), MaxSignedForm); err != nil {
		return Signed{}, err
	}
	// The product judges the signature by the Host it receives (RFC 5849
	// §3.4.1.2): send the one signed for, not the client's, which
	// reverse_proxy passes on to an http upstream.
	if u, err := url.Parse(signedURL); err == nil {
		r.Host = u.Host
	}
	return Signed{link: l.Name, user: userID, sealed: c.Sealed}, nil
}

// Rejected records that the remote product refused the access token a
// request was signed with, naming problem (token_rejected, token_expired
// or token_revoked): OAuth 1.0a tokens do not refresh, so the connection
// becomes UNRECOVERABLE and its user (an administrator, for a shared
// link) must connect again. A connection made again since the request
// was signed is left as it is.
func (s *Service) Rejected(ctx context.Context, signed Signed, problem string) error {
	why := "the remote product refused the access token (oauth_problem=" + problem + "): connect again"
	changed := false
	_, err := s.store.UpdateConnection(ctx, signed.link, signed.user, func(c *store.Connection) error {
		changed = false
		if !bytes.Equal(c.Sealed, signed.sealed) || c.Status == StatusUnrecoverable {
			return nil
		}
		c.Status, c.LastError, c.UpdatedAt = StatusUnrecoverable, why, s.now().UTC()
		changed = true
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // disconnected meanwhile
	}
	if err != nil {
		return fmt.Errorf("recording the refused token of %q: %w", signed.link, err)
	}
	if changed {
		s.audit.Warn("outgoing token refused by the remote product", zap.String("link", signed.link), zap.String("user", signed.user), zap.String("problem", problem))
	}
	return nil
}

// TokenRefused reports whether an OAuth 1.0a problem means the access
// token will never be accepted again (token_rejected, token_expired,
// token_revoked), as opposed to a refusal of one request.
func TokenRefused(problem string) bool {
	switch problem {
	case oauth1.ProblemTokenRejected, oauth1.ProblemTokenExpired, oauth1.ProblemTokenRevoked:
		return true
	}
	return false
}
