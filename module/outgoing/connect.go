package outgoing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/returnto"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Paths of the outgoing authorization.
const (
	ConnectPrefix  = "/applinks/connect/"
	CallbackPrefix = "/applinks/callback/"
)

// PendingTTL is how long an outgoing authorization may take: the
// lifetime of its pending record and sealed PKCE verifier.
const PendingTTL = 10 * time.Minute

const (
	// shortLifetime: a provider that gives no refresh token and an access
	// token living less than this gets a warning at connect time.
	shortLifetime = 24 * time.Hour
)

// Endpoint returns the authorization and token endpoints the link uses,
// resolved (discovered, for an issuer) as connecting it does, through the
// link's own client. An unreachable provider's error wraps
// ErrProviderUnavailable.
func (s *Service) Endpoint(ctx context.Context, l *Link) (oauth2.Endpoint, error) {
	if l.OAuth1 != nil {
		return oauth2.Endpoint{}, errOAuth1Link
	}
	ep, err := l.Provider.Endpoint(ctx, s.client(l))
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	return ep, nil
}

// oauthConfig is the OAuth 2.0 client configuration of a link.
func (s *Service) oauthConfig(ctx context.Context, l *Link, issuer string) (*oauth2.Config, error) {
	if l.OAuth1 != nil {
		return nil, errOAuth1Link
	}
	ep, err := l.Provider.Endpoint(ctx, s.client(l))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	return &oauth2.Config{
		ClientID:     l.ClientID,
		ClientSecret: l.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  issuer + CallbackPrefix + l.Name,
		Scopes:       l.Provider.Scopes(l.Scopes),
	}, nil
}

// Start stores a pending authorization for user (empty for a shared link)
// and returns the provider URL to send the browser to. returnTo is kept
// only if returnto accepts it. An OAuth 1.0a link first gets a request
// token from the remote product (see startOAuth1).
func (s *Service) Start(ctx context.Context, l *Link, userID, issuer, returnTo string) (string, error) {
	if l.OAuth1 != nil {
		return s.startOAuth1(ctx, l, userID, issuer, returnTo)
	}
	conf, err := s.oauthConfig(ctx, l, issuer)
	if err != nil {
		return "", err
	}
	state, verifier := token.New(token.Session), oauth2.GenerateVerifier()
	now := s.now().UTC()
	err = s.store.CreatePending(ctx, store.Pending{
		StateHash:      token.Hash(state),
		LinkID:         l.Name,
		UserID:         userID,
		SealedVerifier: s.keys.Seal([]byte(verifier), []byte("pending "+l.Name)),
		ReturnTo:       returnto.Path(returnTo),
		CreatedAt:      now,
		ExpiresAt:      now.Add(PendingTTL),
	})
	if err != nil {
		return "", fmt.Errorf("storing pending authorization: %w", err)
	}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, l.Provider.AuthCodeOptions()...)
	return conf.AuthCodeURL(state, opts...), nil
}

// CallbackError is a refused callback, with a message for people.
type CallbackError struct {
	Status  int
	Message string
}

func (e *CallbackError) Error() string { return e.Message }

// Caller is who brings the provider's answer to the callback: the person
// signed in to the gateway in that browser.
type Caller struct {
	UserID string
	Admin  bool
}

// Finish completes an authorization at the callback: it takes the pending
// authorization of the state (once), checks that the caller is who started
// it (RFC 6749 §10.12: an answer carried to another user's browser must
// not connect an account to the wrong user), that its iss, if any, is the
// provider's (RFC 9207), exchanges the code (for an OAuth 1.0a link, the
// request token and verifier) and stores the provider's token. It returns
// the pending authorization (who connected, where to return) and a
// warning for people, if any. Nothing is stored when it fails.
func (s *Service) Finish(ctx context.Context, l *Link, q url.Values, issuer string, caller Caller) (store.Pending, string, error) {
	state := q.Get("state")
	if !token.Valid(state, token.Session) {
		return store.Pending{}, "", &CallbackError{http.StatusBadRequest, "The answer from the provider has no valid state: start connecting again."}
	}
	p, err := s.store.TakePending(ctx, token.Hash(state))
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.LinkID != l.Name) {
		return store.Pending{}, "", &CallbackError{http.StatusBadRequest, "This answer from the provider expired or was already used: start connecting again."}
	}
	if err != nil {
		return store.Pending{}, "", err
	}
	if (l.Mode == ModePerUser && (caller.UserID == "" || caller.UserID != p.UserID)) || (l.Mode == ModeShared && !caller.Admin) {
		return p, "", &CallbackError{http.StatusForbidden, "This authorization was started by someone else or in another browser: sign in to the gateway and start connecting again from here."}
	}
	if l.OAuth1 != nil {
		return p, "", s.finishOAuth1(ctx, l, q, p)
	}
	if foreignIssuer(l, q) {
		s.audit.Info("outgoing authorization from another issuer refused", zap.String("link", l.Name), zap.String("user", p.UserID))
		return p, "", &CallbackError{http.StatusBadRequest, "The answer names another issuer than the provider of this link (mix-up): start connecting again."}
	}
	if e := q.Get("error"); e != "" {
		return p, "", &CallbackError{http.StatusBadGateway, fmt.Sprintf("The provider refused the authorization: %s %s", e, q.Get("error_description"))}
	}
	verifier, err := s.keys.Open(p.SealedVerifier, []byte("pending "+l.Name))
	if err != nil {
		return p, "", err
	}
	conf, err := s.oauthConfig(ctx, l, issuer)
	if err != nil {
		return p, "", &CallbackError{http.StatusBadGateway, "The provider cannot be reached right now."}
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.client(l)), q.Get("code"), oauth2.VerifierOption(string(verifier)))
	if err != nil {
		s.audit.Info("outgoing authorization failed", zap.String("link", l.Name), zap.String("user", p.UserID), zap.String("reason", oautherror.ClientErrorText(err)))
		if strings.Contains(err.Error(), "missing access_token") {
			return p, "", &CallbackError{http.StatusBadGateway, "The provider's answer has no access token."}
		}
		return p, "", &CallbackError{http.StatusBadGateway, "The provider did not accept the authorization code."}
	}
	now := s.now().UTC()
	c := store.Connection{LinkID: l.Name, UserID: p.UserID, Status: StatusValid, Generation: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.seal(&c, tok); err != nil {
		return p, "", err
	}
	if err := s.store.PutConnection(ctx, c); err != nil {
		return p, "", fmt.Errorf("storing connection: %w", err)
	}
	s.audit.Info("outgoing link connected", zap.String("link", l.Name), zap.String("user", p.UserID))
	var warning string
	if tok.RefreshToken == "" && (tok.Expiry.IsZero() || tok.Expiry.Sub(now) < shortLifetime) {
		warning = "The refresh token is not present and the access token lifetime is too short: connect again when it expires, or configure the provider to issue refresh tokens (offline access)."
	}
	return p, warning, nil
}
