package grants

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// ClientCredentials issues an access token to a link acting as its
// service user (grant_type=client_credentials, RFC 6749 §4.4). The token
// grants min(requested, the user's role, the link's ceiling), re-checked
// on every request like any grant's, and comes without a refresh token
// (RFC 6749 §4.4.3): the client asks again when it expires. A link
// without a service user gets unauthorized_client.
func (s *Service) ClientCredentials(ctx context.Context, c Client, requested string) (Tokens, error) {
	out, err := s.clientCredentials(ctx, c, requested)
	s.observeRefusal(c, err)
	return out, err
}

func (s *Service) clientCredentials(ctx context.Context, c Client, requested string) (Tokens, error) {
	if c.ServiceUser == "" {
		return Tokens{}, oautherror.New(oautherror.UnauthorizedClient, "this application link may not use client_credentials: it acts for signed-in users")
	}
	want, other := scope.ParseList(requested)
	if len(other) > 0 {
		return Tokens{}, oautherror.New(oautherror.InvalidScope, fmt.Sprintf("scope %q cannot be granted to a client acting for itself: use READ, WRITE, ADMIN or SYSTEM_ADMIN", other[0]))
	}
	if want > c.Ceiling {
		return Tokens{}, oautherror.New(oautherror.InvalidScope, fmt.Sprintf("scope %s exceeds the link's permission %s", want, c.Ceiling))
	}
	if want == scope.None {
		want = c.Ceiling
	}
	now := s.now().UTC()
	granted, err := s.grantedScope(ctx, c.ServiceUser, now, want.String(), c.Ceiling)
	if err != nil {
		return Tokens{}, oautherror.New(oautherror.InvalidGrant, "the link's service user cannot sign in (deleted or disabled)")
	}
	g := store.Grant{
		ID:         newID(),
		LinkID:     c.LinkID,
		ClientID:   c.ClientID,
		UserID:     c.ServiceUser,
		Scope:      granted.String(),
		AuthTime:   now,
		Generation: 1,
		CreatedAt:  now,
		UpdatedAt:  now,
		ExpiresAt:  now.Add(s.cfg.AccessTTL),
	}
	access := token.New(token.Access)
	iss := store.Issue{Grant: g, Tokens: []store.Token{{
		Hash: token.Hash(access), Kind: store.AccessToken, GrantID: g.ID, Generation: 1, Scope: granted.String(), IssuedAt: now, ExpiresAt: g.ExpiresAt,
	}}}
	if err := s.store.CreateGrant(ctx, iss); err != nil {
		return Tokens{}, fmt.Errorf("storing client_credentials grant: %w", err)
	}
	s.observe.Issued(c.LinkID, "client_credentials")
	s.audit.Info("client_credentials token issued", zap.String("client_id", c.ClientID), zap.String("user", g.UserID), zap.String("grant", g.ID), zap.String("scope", g.Scope))
	out := s.tokens(g, granted.String(), now)
	out.AccessToken = access
	return out, nil
}
