// Package grants is the token service: it issues authorization codes,
// exchanges them for tokens, rotates refresh tokens with reuse detection,
// revokes and introspects tokens, and validates access tokens.
package grants

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Config holds token lifetimes.
type Config struct {
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	CodeTTL    time.Duration
	// RefreshGrace is how long a used refresh token may be presented again
	// (client retries, parallel tabs) without being taken for a replay.
	RefreshGrace time.Duration
	// ReplayMemory is how long a used refresh token is remembered so that
	// presenting it again revokes its family instead of answering
	// "unknown token".
	ReplayMemory time.Duration
	// OAuth1TTL is the lifetime of OAuth 1.0a access tokens, which do not
	// refresh.
	OAuth1TTL time.Duration
}

// Users gives the current role of a user; an error means the user is gone
// or disabled and may hold no tokens.
type Users interface {
	// Role is the current role of the user who authorized at authorizedAt;
	// an error when they are gone or disabled, or when the user of that
	// name now is a later one (deleted and created again since).
	Role(ctx context.Context, userID string, authorizedAt time.Time) (scope.Scope, error)
}

// Links gives the current permission ceiling of a link, which bounds what
// every token issued through it grants; store.ErrNotFound means its tokens
// are void (a runtime link deleted, a config link removed from the config),
// scope.None that they are refused for now (a disabled link).
type Links interface {
	Ceiling(ctx context.Context, id string) (scope.Scope, error)
}

// Client is the link a request comes from, after client authentication.
type Client struct {
	LinkID   string
	ClientID string
	Ceiling  scope.Scope
	// RequirePKCE: the link redeems only codes bound to an S256 challenge.
	RequirePKCE bool
	// Public: the client has no secret (token_endpoint_auth_method none).
	Public bool
	// ServiceUser is the user the link acts as with client_credentials;
	// empty when it may not use that grant.
	ServiceUser string
}

// CodeRequest is an approved authorization request.
type CodeRequest struct {
	Client              Client
	UserID              string
	RedirectURI         string
	Scope               scope.Scope
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	// OIDCScopes are granted OpenID Connect scopes (openid, profile, email).
	OIDCScopes []string
	// AuthTime is when the user signed in.
	AuthTime time.Time
	// Resource is the RFC 8707 resource asked for, validated by the
	// caller; "" for none.
	Resource string
}

// Tokens is a successful token response.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int64
	// Scope is the permission granted, e.g. WRITE.
	Scope      string
	OIDCScopes []string
	GrantID    string
	UserID     string
	ClientID   string
	// Nonce is the authorization request's nonce (code exchange only).
	Nonce    string
	AuthTime time.Time
	IssuedAt time.Time
	// Resource is the audience the access token is bound to; "" for any.
	Resource string
}

// ScopeString is the scope parameter of the response: the permission and
// the OpenID Connect scopes.
func (t Tokens) ScopeString() string { return JoinScopes(t.Scope, t.OIDCScopes) }

// JoinScopes writes a permission and OpenID Connect scopes as one
// space-separated scope value.
func JoinScopes(permission string, oidc []string) string {
	return strings.TrimSpace(permission + " " + strings.Join(oidc, " "))
}

// Access is what a valid access token grants right now.
type Access struct {
	UserID   string
	ClientID string
	LinkID   string
	GrantID  string
	// Scope is min(token scope, the user's current role, the link's
	// current ceiling).
	Scope      scope.Scope
	OIDCScopes []string
	IssuedAt   time.Time
	ExpiresAt  time.Time
	Kind       store.TokenKind
	// Resource is the RFC 8707 resource the token is bound to (its
	// audience); "" when every guard accepts it.
	Resource string
	// SealedSecret is the sealed token secret of an OAuth 1.0a access
	// token of an HMAC-SHA1 consumer; nil otherwise.
	SealedSecret []byte
}

// ErrInvalidToken means a token is unknown, malformed, expired or revoked.
var ErrInvalidToken = errors.New("invalid token")

// Observer is told what the token service does, for metrics and the
// links' activity. It is called in memory only, never with a store write.
type Observer interface {
	// Issued is called for each token pair issued to the link linkID, by
	// grant type.
	Issued(linkID, grantType string)
	// Refused is called for each token request of the link linkID that the
	// token endpoint answers with an OAuth error (an invalid, expired or
	// replayed code or refresh token, a scope beyond the link's).
	Refused(linkID string)
	// Replayed is called when a code ("code") or refresh token
	// ("refresh_token") is presented again and its grant revoked.
	Replayed(kind string)
	// Validated is called for each access-token validation of the guard.
	Validated(valid bool, err error)
}

type noObserver struct{}

func (noObserver) Issued(string, string) {}
func (noObserver) Refused(string)        {}
func (noObserver) Replayed(string)       {}
func (noObserver) Validated(bool, error) {}

// SetObserver sets who is told of issued tokens, replays and validations.
func (s *Service) SetObserver(o Observer) { s.observe = o }

// Service issues and checks tokens.
type Service struct {
	store store.GrantStore
	users Users
	links Links
	epoch *Epoch
	cfg   Config
	now   func() time.Time
	audit *zap.Logger
	// superseded is told the hashes of access tokens replaced by a
	// refresh, so caches drop them.
	superseded func(hash []byte)
	observe    Observer
}

// New returns a token service; it bumps epoch on every revocation.
func New(st store.GrantStore, users Users, links Links, epoch *Epoch, cfg Config, now func() time.Time, audit *zap.Logger) *Service {
	return &Service{store: st, users: users, links: links, epoch: epoch, cfg: cfg, now: now, audit: audit, superseded: func([]byte) {}, observe: noObserver{}}
}

// IssueCode stores an authorization code for an approved request and
// returns it.
func (s *Service) IssueCode(ctx context.Context, req CodeRequest) (string, error) {
	code := token.New(token.Code)
	now := s.now().UTC()
	err := s.store.CreateCode(ctx, store.Code{
		Hash:                token.Hash(code),
		LinkID:              req.Client.LinkID,
		ClientID:            req.Client.ClientID,
		UserID:              req.UserID,
		RedirectURI:         req.RedirectURI,
		Scope:               req.Scope.String(),
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Nonce:               req.Nonce,
		OIDCScopes:          req.OIDCScopes,
		AuthTime:            req.AuthTime,
		Resource:            req.Resource,
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.cfg.CodeTTL),
	})
	if err != nil {
		return "", fmt.Errorf("storing authorization code: %w", err)
	}
	return code, nil
}

type reusedCodeError struct{ grantID string }

func (e reusedCodeError) Error() string { return "authorization code used twice" }

type replayError struct{ grantID string }

func (e replayError) Error() string { return "refresh token replayed" }

// Exchange redeems an authorization code (grant_type=authorization_code).
// A code redeemed before fails with invalid_grant and revokes every token
// issued from it. resource, the RFC 8707 parameter validated by the
// caller, may bind a code asked for without one, and must otherwise be
// the code's ("" keeps the code's).
func (s *Service) Exchange(ctx context.Context, c Client, code, redirectURI, verifier, resource string) (Tokens, error) {
	out, err := s.exchange(ctx, c, code, redirectURI, verifier, resource)
	s.observeRefusal(c, err)
	return out, err
}

// observeRefusal tells the observer of a request of c refused with an
// OAuth error; a failure of the store is no refusal.
func (s *Service) observeRefusal(c Client, err error) {
	var oe *oautherror.Error
	if errors.As(err, &oe) {
		s.observe.Refused(c.LinkID)
	}
}

func (s *Service) exchange(ctx context.Context, c Client, code, redirectURI, verifier, resource string) (Tokens, error) {
	if !token.Valid(code, token.Code) {
		return Tokens{}, oautherror.New(oautherror.InvalidGrant, "the authorization code is invalid")
	}
	var out Tokens
	iss, err := s.store.RedeemCode(ctx, token.Hash(code), func(sc store.Code) (store.Issue, error) {
		now := s.now().UTC()
		switch {
		case sc.GrantID != "":
			return store.Issue{}, reusedCodeError{grantID: sc.GrantID}
		case sc.ClientID != c.ClientID:
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "the authorization code was issued to another client")
		case !now.Before(sc.ExpiresAt):
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "the authorization code has expired")
		case redirectURI != sc.RedirectURI:
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "redirect_uri does not match the authorization request")
		}
		if c.RequirePKCE && (sc.CodeChallenge == "" || sc.CodeChallengeMethod != MethodS256) {
			// Checked again here, not only at authorization: a code issued
			// before the link came to require PKCE is no way around it.
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "this application link requires PKCE with S256; the authorization code was issued without it")
		}
		if sc.CodeChallenge != "" {
			if verifier == "" {
				return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "code_verifier is required")
			}
			if !VerifyPKCE(sc.CodeChallenge, sc.CodeChallengeMethod, verifier) {
				return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "code_verifier does not match the code challenge")
			}
		} else if verifier != "" {
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "code_verifier sent but the authorization request had no code_challenge")
		}
		bound, err := narrowResource(sc.Resource, resource)
		if err != nil {
			return store.Issue{}, err
		}
		granted, err := s.grantedScope(ctx, sc.UserID, authorizedAt(sc.AuthTime, sc.CreatedAt), sc.Scope, c.Ceiling)
		if err != nil {
			return store.Issue{}, err
		}
		g := store.Grant{
			ID:         newID(),
			LinkID:     sc.LinkID,
			ClientID:   sc.ClientID,
			UserID:     sc.UserID,
			Scope:      granted.String(),
			OIDCScopes: sc.OIDCScopes,
			AuthTime:   sc.AuthTime,
			Resource:   bound,
			Generation: 1,
			CreatedAt:  now,
			UpdatedAt:  now,
			ExpiresAt:  now.Add(s.cfg.RefreshTTL),
		}
		var iss store.Issue
		iss, out = s.newPair(g, granted, now)
		out.Nonce = sc.Nonce
		return iss, nil
	})
	var reused reusedCodeError
	switch {
	case errors.As(err, &reused):
		if derr := s.deleteGrant(ctx, reused.grantID); derr != nil {
			return Tokens{}, fmt.Errorf("revoking grant of reused code: %w", derr)
		}
		s.observe.Replayed("code")
		s.audit.Warn("authorization code reused; grant revoked", zap.String("client_id", c.ClientID), zap.String("grant", reused.grantID))
		return Tokens{}, oautherror.New(oautherror.InvalidGrant, "the authorization code has already been used; tokens issued from it are revoked")
	case errors.Is(err, store.ErrNotFound):
		return Tokens{}, oautherror.New(oautherror.InvalidGrant, "the authorization code is invalid or expired")
	case err != nil:
		return Tokens{}, err
	}
	s.observe.Issued(c.LinkID, "authorization_code")
	s.audit.Info("grant created", zap.String("client_id", c.ClientID), zap.String("user", iss.Grant.UserID), zap.String("grant", iss.Grant.ID), zap.String("scope", iss.Grant.Scope))
	return out, nil
}

// Refresh rotates a refresh token (grant_type=refresh_token). The first
// use issues a new pair and retires the presented token. The same token
// presented again within the grace, while the pair it gave is still the
// family's newest, gets that same pair again (a lost response, parallel
// tabs), so the family never forks: it has one live refresh token at every
// moment. Any other presentation of a used token (after the grace, or
// once the family has moved past its child) is a replay and revokes the
// whole grant. resource, the RFC 8707 parameter validated by the caller,
// binds a grant without one from then on, and must otherwise be the
// grant's ("" keeps the grant's): a refresh narrows the audience, never
// changes it.
func (s *Service) Refresh(ctx context.Context, c Client, refreshToken, requested, resource string) (Tokens, error) {
	out, err := s.refresh(ctx, c, refreshToken, requested, resource)
	s.observeRefusal(c, err)
	return out, err
}

func (s *Service) refresh(ctx context.Context, c Client, refreshToken, requested, resource string) (Tokens, error) {
	if !token.Valid(refreshToken, token.Refresh) {
		return Tokens{}, oautherror.New(oautherror.InvalidGrant, "the refresh token is invalid")
	}
	want, other := scope.ParseList(requested)
	var (
		out     Tokens
		retried bool
	)
	iss, err := s.store.RotateRefresh(ctx, token.Hash(refreshToken), func(g *store.Grant, t *store.Token) (store.Issue, error) {
		now := s.now().UTC()
		used := !t.UsedAt.IsZero()
		switch {
		case t.Kind != store.RefreshToken || g.ClientID != c.ClientID:
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "the refresh token is invalid")
		case used && (now.Sub(t.UsedAt) > s.cfg.RefreshGrace || g.Generation != t.Generation+1):
			return store.Issue{}, replayError{grantID: g.ID}
		case used && len(t.SealedChild) == 0:
			// Used before retries kept the pair: nothing to hand out again.
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "the refresh token has already been used")
		case !now.Before(t.ExpiresAt):
			return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "the refresh token has expired")
		}
		for _, o := range other {
			if !slices.Contains(g.OIDCScopes, o) {
				return store.Issue{}, oautherror.New(oautherror.InvalidScope, fmt.Sprintf("scope %q is not part of the grant", o))
			}
		}
		bound, err := narrowResource(g.Resource, resource)
		if err != nil {
			return store.Issue{}, err
		}
		if used && bound != g.Resource {
			// A retry hands out the pair already sealed, bound as before.
			return store.Issue{}, oautherror.New(oautherror.InvalidTarget, "the resource differs from the one of the first use of this refresh token")
		}
		grantScope, _ := scope.Parse(g.Scope)
		if want > grantScope {
			return store.Issue{}, oautherror.New(oautherror.InvalidScope, "the requested scope exceeds the scope of the grant")
		}
		asked := want
		if asked == scope.None {
			asked = grantScope
		}
		granted, err := s.grantedScope(ctx, g.UserID, authorizedAt(g.AuthTime, g.CreatedAt), asked.String(), c.Ceiling)
		if err != nil {
			return store.Issue{}, err
		}
		if used {
			// A retry within the grace: the same pair again, nothing new
			// written, so no second branch of the family exists.
			ch, err := openChild(refreshToken, t.SealedChild)
			if err != nil {
				return store.Issue{}, oautherror.New(oautherror.InvalidGrant, "the refresh token has already been used")
			}
			retried = true
			out = s.tokens(*g, ch.Scope, now)
			out.AccessToken, out.RefreshToken = ch.AccessToken, ch.RefreshToken
			out.ExpiresIn = max(0, int64(ch.AccessExpiresAt.Sub(now)/time.Second))
			return store.Issue{Grant: *g}, nil
		}
		// First use: the old pair stops working; the refresh token is
		// still accepted within the grace (for the same new pair) and
		// remembered for replays.
		t.UsedAt = now
		t.ExpiresAt = now.Add(s.cfg.RefreshGrace)
		t.KeepUntil = now.Add(max(s.cfg.ReplayMemory, s.cfg.RefreshGrace))
		var del [][]byte
		if t.AccessHash != nil {
			del = append(del, t.AccessHash)
		}
		g.Resource = bound
		g.Generation++
		g.UpdatedAt = now
		g.ExpiresAt = now.Add(s.cfg.RefreshTTL)
		var iss store.Issue
		iss, out = s.newPair(*g, granted, now)
		iss.Delete = del
		if s.cfg.RefreshGrace > 0 {
			if t.SealedChild, err = sealChild(refreshToken, child{
				AccessToken: out.AccessToken, RefreshToken: out.RefreshToken, Scope: out.Scope, AccessExpiresAt: iss.Tokens[0].ExpiresAt,
			}); err != nil {
				return store.Issue{}, err
			}
		}
		return iss, nil
	})
	var replay replayError
	switch {
	case errors.As(err, &replay):
		if derr := s.deleteGrant(ctx, replay.grantID); derr != nil {
			return Tokens{}, fmt.Errorf("revoking replayed grant: %w", derr)
		}
		s.observe.Replayed("refresh_token")
		s.audit.Warn("refresh token replayed; grant revoked", zap.String("client_id", c.ClientID), zap.String("grant", replay.grantID), zap.String("token", hashPrefix(refreshToken)))
		return Tokens{}, oautherror.New(oautherror.InvalidGrant, "the refresh token has already been used; the grant is revoked")
	case errors.Is(err, store.ErrNotFound):
		return Tokens{}, oautherror.New(oautherror.InvalidGrant, "the refresh token is invalid, expired or revoked")
	case err != nil:
		return Tokens{}, err
	}
	if retried {
		if ce := s.audit.Check(zapcore.DebugLevel, "refresh retried within the grace; same pair returned"); ce != nil {
			ce.Write(zap.String("client_id", c.ClientID), zap.String("grant", iss.Grant.ID), zap.String("token", hashPrefix(refreshToken)))
		}
		return out, nil
	}
	for _, h := range iss.Delete {
		s.superseded(h)
	}
	s.observe.Issued(c.LinkID, "refresh_token")
	if ce := s.audit.Check(zapcore.InfoLevel, "grant refreshed"); ce != nil {
		ce.Write(zap.String("client_id", c.ClientID), zap.String("user", iss.Grant.UserID), zap.String("grant", iss.Grant.ID), zap.Uint64("generation", iss.Grant.Generation))
	}
	return out, nil
}

// Revoke ends the grant of an access or refresh token (RFC 7009). Unknown
// or malformed tokens are not an error; a token of another client is.
func (s *Service) Revoke(ctx context.Context, c Client, tok string) error {
	if token.Kind(tok) == "" {
		return nil
	}
	_, g, err := s.store.LookupToken(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if g.ClientID != c.ClientID {
		return oautherror.New(oautherror.UnauthorizedClient, "the token was issued to another client")
	}
	if err := s.deleteGrant(ctx, g.ID); err != nil {
		return fmt.Errorf("revoking grant: %w", err)
	}
	s.audit.Info("grant revoked", zap.String("client_id", c.ClientID), zap.String("user", g.UserID), zap.String("grant", g.ID), zap.String("by", "client"))
	return nil
}

// RevokeGrant ends a grant on behalf of a user or administrator.
func (s *Service) RevokeGrant(ctx context.Context, grantID, by string) error {
	if err := s.deleteGrant(ctx, grantID); err != nil {
		return fmt.Errorf("revoking grant: %w", err)
	}
	s.audit.Info("grant revoked", zap.String("grant", grantID), zap.String("by", by))
	return nil
}

// RevokeUser ends every grant of a user, with its tokens, on behalf of
// the user or an administrator, and returns how many there were.
func (s *Service) RevokeUser(ctx context.Context, userID, by string) (int, error) {
	if userID == "" {
		return 0, errors.New("revoking the grants of a user: empty user id")
	}
	gs, err := s.List(ctx, store.GrantFilter{UserID: userID})
	if err != nil {
		return 0, err
	}
	for _, g := range gs {
		if err := s.RevokeGrant(ctx, g.ID, by); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
	}
	return len(gs), nil
}

// Validate returns what a token grants now: it must be well-formed, known,
// unexpired, of a live grant whose user still exists and is enabled and
// whose link still exists and is enabled; it grants no more than the
// user's role and the link's ceiling allow today. kind selects access,
// refresh or OAuth 1.0a access tokens.
func (s *Service) Validate(ctx context.Context, tok string, kind store.TokenKind) (Access, error) {
	prefix := token.Access
	switch kind {
	case store.RefreshToken:
		prefix = token.Refresh
	case store.OAuth1Token:
		prefix = token.OAuth1Access
	}
	if !token.Valid(tok, prefix) {
		return Access{}, ErrInvalidToken
	}
	t, g, err := s.store.LookupToken(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return Access{}, ErrInvalidToken
	}
	if err != nil {
		return Access{}, err
	}
	now := s.now()
	if t.Kind != kind || !now.Before(t.ExpiresAt) || (kind == store.RefreshToken && !t.UsedAt.IsZero()) {
		return Access{}, ErrInvalidToken
	}
	role, err := s.users.Role(ctx, g.UserID, authorizedAt(g.AuthTime, g.CreatedAt))
	if err != nil {
		return Access{}, ErrInvalidToken
	}
	ceiling, err := s.links.Ceiling(ctx, g.LinkID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ceiling == scope.None) {
		return Access{}, ErrInvalidToken
	}
	if err != nil {
		return Access{}, err
	}
	ts, _ := scope.Parse(t.Scope)
	return Access{
		UserID:     g.UserID,
		ClientID:   g.ClientID,
		LinkID:     g.LinkID,
		GrantID:    g.ID,
		Scope:      scope.Min(ts, role, ceiling),
		OIDCScopes: g.OIDCScopes,
		IssuedAt:   t.IssuedAt,
		ExpiresAt:  t.ExpiresAt,
		Kind:       t.Kind,
		Resource:   g.Resource,
		// SealedSecret: the token secret of an OAuth 1.0a token.
		SealedSecret: t.SealedSecret,
	}, nil
}

// grantedScope is min(requested, the user's current role, the link's
// current ceiling); a user who is gone or disabled, or is a later user of
// the name than the one who authorized at authorized, gets invalid_grant.
func (s *Service) grantedScope(ctx context.Context, userID string, authorized time.Time, requested string, ceiling scope.Scope) (scope.Scope, error) {
	role, err := s.users.Role(ctx, userID, authorized)
	if err != nil {
		return scope.None, oautherror.New(oautherror.InvalidGrant, "the user who authorized this grant can no longer sign in")
	}
	want, _ := scope.Parse(requested)
	return scope.Min(want, role, ceiling), nil
}

// authorizedAt is when the user authorized a code or grant: its AuthTime,
// or for records without one its CreatedAt.
func authorizedAt(authTime, createdAt time.Time) time.Time {
	if authTime.IsZero() {
		return createdAt
	}
	return authTime
}

func (s *Service) newPair(g store.Grant, granted scope.Scope, now time.Time) (store.Issue, Tokens) {
	access, refresh := token.New(token.Access), token.New(token.Refresh)
	accessHash := token.Hash(access)
	iss := store.Issue{
		Grant: g,
		Tokens: []store.Token{
			{Hash: accessHash, Kind: store.AccessToken, GrantID: g.ID, Generation: g.Generation, Scope: granted.String(), IssuedAt: now, ExpiresAt: now.Add(s.cfg.AccessTTL)},
			{Hash: token.Hash(refresh), Kind: store.RefreshToken, GrantID: g.ID, Generation: g.Generation, Scope: granted.String(), IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL), AccessHash: accessHash},
		},
	}
	out := s.tokens(g, granted.String(), now)
	out.AccessToken, out.RefreshToken = access, refresh
	return iss, out
}

// tokens is the response for grant g without the tokens themselves.
func (s *Service) tokens(g store.Grant, granted string, now time.Time) Tokens {
	return Tokens{
		ExpiresIn:  int64(s.cfg.AccessTTL / time.Second),
		Scope:      granted,
		OIDCScopes: g.OIDCScopes,
		GrantID:    g.ID,
		UserID:     g.UserID,
		ClientID:   g.ClientID,
		AuthTime:   g.AuthTime,
		IssuedAt:   now,
		Resource:   g.Resource,
	}
}

// narrowResource is the resource tokens are bound to when one bound to
// have (or to none, "") is asked for with want (or without, ""): want may
// narrow "any" to one resource but not change one into another.
func narrowResource(have, want string) (string, error) {
	switch {
	case want == "" || want == have:
		return have, nil
	case have == "":
		return want, nil
	}
	return "", oautherror.New(oautherror.InvalidTarget, "the resource is not the one the grant was authorized for")
}

// deleteGrant revokes a grant's token family and bumps the epoch.
func (s *Service) deleteGrant(ctx context.Context, id string) error {
	err := s.store.DeleteGrant(ctx, id)
	s.epoch.Bump()
	return err
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hashPrefix identifies a token in logs by the first bytes of its hash.
func hashPrefix(tok string) string { return hex.EncodeToString(token.Hash(tok)[:6]) }
