package grants

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// NewOAuth1Grant returns, without storing it, the grant of an OAuth 1.0a
// access token that userID approved for the consumer c at authTime: a
// family of one token of kind store.OAuth1Token, with no refresh (OAuth
// 1.0a tokens do not refresh), living as long as Config.OAuth1TTL. It
// grants min(requested, the user's current role, the link's ceiling),
// re-checked on every request like any grant's, and is revoked like any.
// The caller stores it (with the request token's redemption), then calls
// OAuth1Issued. An error wrapping ErrInvalidToken means the user can no
// longer sign in.
func (s *Service) NewOAuth1Grant(ctx context.Context, c Client, userID string, authTime time.Time, requested scope.Scope) (store.Issue, string, error) {
	now := s.now().UTC()
	granted, err := s.grantedScope(ctx, userID, authorizedAt(authTime, now), requested.String(), c.Ceiling)
	if err != nil {
		return store.Issue{}, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	g := store.Grant{
		ID:         newID(),
		LinkID:     c.LinkID,
		ClientID:   c.ClientID,
		UserID:     userID,
		Scope:      granted.String(),
		AuthTime:   authTime,
		Generation: 1,
		CreatedAt:  now,
		UpdatedAt:  now,
		ExpiresAt:  now.Add(s.cfg.OAuth1TTL),
	}
	access := token.New(token.OAuth1Access)
	iss := store.Issue{Grant: g, Tokens: []store.Token{{
		Hash: token.Hash(access), Kind: store.OAuth1Token, GrantID: g.ID, Generation: 1, Scope: g.Scope, IssuedAt: now, ExpiresAt: g.ExpiresAt,
	}}}
	return iss, access, nil
}

// OAuth1Issued records that the grant of NewOAuth1Grant was stored.
func (s *Service) OAuth1Issued(g store.Grant) {
	s.observe.Issued(g.LinkID, "oauth1")
	s.audit.Info("grant created", zap.String("client_id", g.ClientID), zap.String("user", g.UserID), zap.String("grant", g.ID), zap.String("scope", g.Scope), zap.String("protocol", "OAuth 1.0a"))
}

// OAuth1TTL is how long OAuth 1.0a access tokens live.
func (s *Service) OAuth1TTL() time.Duration { return s.cfg.OAuth1TTL }
