package outgoing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/store"
)

// Skew: a token this close to its expiry is refreshed first (Atlassian
// allows 60 s of clock skew).
const Skew = time.Minute

// ErrNoRefresh means the link's tokens do not refresh (OAuth 1.0a): when
// the remote product refuses one, someone connects again.
var ErrNoRefresh = errors.New("OAuth 1.0a access tokens do not refresh: connect again when the remote product refuses one")

// Token returns a usable access token of the link for user (empty for a
// shared link), refreshing it first when it expires within Skew. Of many
// concurrent callers, one refreshes. An OAuth 1.0a link has no bearer
// token: its requests are signed (see Sign).
func (s *Service) Token(ctx context.Context, l *Link, userID string) (string, error) {
	if l.OAuth1 != nil {
		return "", errOAuth1Link
	}
	c, err := s.store.GetConnection(ctx, l.Name, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotConnected
	}
	if err != nil {
		return "", err
	}
	tok, err := s.open(c)
	if err != nil {
		return "", err
	}
	if c.Status == StatusUnrecoverable {
		return "", ErrNotConnected
	}
	now := s.now()
	if fresh(tok, now) {
		return tok.AccessToken, nil
	}
	if c.Status == StatusRecoverable && now.Before(c.RetryAt) {
		// Backing off: no call to the provider before RetryAt.
		if tok.Expiry.IsZero() || now.Before(tok.Expiry) {
			return tok.AccessToken, nil
		}
		return "", ErrProviderUnavailable
	}
	v, err, _ := s.flight.Do(l.Name+"\x00"+userID, func() (any, error) {
		return s.refreshExclusively(context.WithoutCancel(ctx), l, userID)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// Refresh renews the token now (background refresher, admin action),
// one at a time per connection. OAuth 1.0a access tokens do not refresh:
// ErrNoRefresh.
func (s *Service) Refresh(ctx context.Context, l *Link, userID string) error {
	if l.OAuth1 != nil {
		return ErrNoRefresh
	}
	_, err, _ := s.flight.Do(l.Name+"\x00"+userID, func() (any, error) {
		return s.refreshExclusively(ctx, l, userID)
	})
	return err
}

// refreshLockWait bounds how long a refresh waits for another gateway's
// refresh of the same connection (whose provider call times out sooner).
const refreshLockWait = 45 * time.Second

// refreshExclusively is refresh under the connection's lock of all the
// gateways sharing the store (see InCluster): of concurrent refreshes on
// several gateways one calls the provider, and the others, once it is
// done, find the token it stored fresh and return it.
func (s *Service) refreshExclusively(ctx context.Context, l *Link, userID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshLockWait)
	defer cancel()
	var tok string
	err := s.exclusive(ctx, "outgoing refresh\x00"+l.Name+"\x00"+userID, func(ctx context.Context) error {
		var err error
		tok, err = s.refresh(ctx, l, userID)
		return err
	})
	return tok, err
}

// refresh renews a connection's token and records the outcome.
func (s *Service) refresh(ctx context.Context, l *Link, userID string) (string, error) {
	c, err := s.store.GetConnection(ctx, l.Name, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotConnected
	}
	if err != nil {
		return "", err
	}
	old, err := s.open(c)
	if err != nil {
		return "", err
	}
	now := s.now()
	if c.Status != StatusUnrecoverable && fresh(old, now) {
		return old.AccessToken, nil // refreshed by someone else meanwhile
	}
	if old.RefreshToken == "" {
		s.setStatus(ctx, c, StatusUnrecoverable, "the access token expired and the provider gave no refresh token")
		return "", ErrNotConnected
	}
	conf, err := s.oauthConfig(ctx, l, "")
	var tok *oauth2.Token
	if err == nil {
		expired := *old
		expired.Expiry = now.Add(-time.Hour) // make the token source refresh
		tok, err = conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, s.client(l)), &expired).Token()
	}
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && permanent(re) {
			s.setStatus(ctx, c, StatusUnrecoverable, "the provider refused the refresh token: "+re.ErrorCode)
			return "", ErrNotConnected
		}
		s.setStatus(ctx, c, StatusRecoverable, "refreshing failed for a temporary reason: "+oautherror.ClientErrorText(err))
		if old.Expiry.IsZero() || now.Before(old.Expiry) {
			return old.AccessToken, nil // still usable for now
		}
		return "", ErrProviderUnavailable
	}
	if tok.AccessToken == "" {
		s.setStatus(ctx, c, StatusRecoverable, "the provider's answer had no access token")
		return "", ErrProviderUnavailable
	}
	_, err = s.store.UpdateConnection(ctx, l.Name, userID, func(cur *store.Connection) error {
		cur.Status, cur.LastError, cur.Failures, cur.RetryAt = StatusValid, "", 0, time.Time{}
		cur.Generation++
		cur.UpdatedAt = s.now().UTC()
		return s.seal(cur, tok)
	})
	if err != nil {
		return "", fmt.Errorf("storing refreshed token: %w", err)
	}
	s.refreshed("ok")
	if ce := s.audit.Check(zap.InfoLevel, "outgoing token refreshed"); ce != nil {
		ce.Write(zap.String("link", l.Name), zap.String("user", userID))
	}
	return tok.AccessToken, nil
}

// setStatus records a failed refresh; a recoverable one is retried with
// exponential backoff (capped at 15 minutes).
func (s *Service) setStatus(ctx context.Context, c store.Connection, status, why string) {
	s.refreshed(strings.ToLower(status))
	now := s.now().UTC()
	_, err := s.store.UpdateConnection(ctx, c.LinkID, c.UserID, func(cur *store.Connection) error {
		cur.Status, cur.LastError, cur.UpdatedAt = status, why, now
		cur.Failures++
		backoff := min(time.Duration(1<<min(cur.Failures, 10))*time.Second, 15*time.Minute)
		cur.RetryAt = now.Add(backoff)
		return nil
	})
	if err != nil {
		s.audit.Error("recording outgoing token status", zap.String("link", c.LinkID), zap.Error(err))
		return
	}
	s.audit.Warn("outgoing token refresh failed", zap.String("link", c.LinkID), zap.String("user", c.UserID), zap.String("status", status), zap.String("reason", why))
}

// RefreshDue refreshes, in the background, every connection whose token
// expires within lead and whose retry time has come.
func (s *Service) RefreshDue(ctx context.Context, lead time.Duration) {
	conns, err := s.store.ListConnections(ctx, store.ConnectionFilter{})
	if err != nil {
		s.audit.Error("listing outgoing connections", zap.Error(err))
		return
	}
	now := s.now()
	for _, c := range conns {
		if c.Status == StatusUnrecoverable || c.Expiry.IsZero() || c.Expiry.Sub(now) > lead || now.Before(c.RetryAt) {
			continue
		}
		l, err := s.Link(ctx, c.LinkID)
		if err != nil || l.OAuth1 != nil {
			continue
		}
		_ = s.Refresh(ctx, l, c.UserID)
	}
}

// permanent reports whether a refused refresh needs someone to connect
// again: the provider rejected the grant or the client (a 4xx other than
// 408 Request Timeout and 429 Too Many Requests, which are temporary).
func permanent(re *oauth2.RetrieveError) bool {
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return true
	case "temporarily_unavailable", "server_error":
		return false
	}
	if re.Response == nil {
		return false
	}
	code := re.Response.StatusCode
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// fresh reports whether tok is usable for longer than Skew.
func fresh(tok *oauth2.Token, now time.Time) bool {
	return tok.AccessToken != "" && (tok.Expiry.IsZero() || tok.Expiry.Sub(now) > Skew)
}
