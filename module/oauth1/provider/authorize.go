package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// ErrNoPendingAuthorization means a request token given to the authorize
// page is unknown, expired, used, already decided or of a consumer that
// is gone or disabled.
var ErrNoPendingAuthorization = errors.New("no OAuth 1.0a authorization awaits this request token")

// Pending is a request token awaiting the person's decision.
type Pending struct {
	// Link is the consumer's link.
	Link links.Link
	// Callback is where the person goes after deciding; oauth1.OOB when
	// the verifier is shown to them instead.
	Callback string
}

// OOB reports whether the verifier is shown to the person.
func (p Pending) OOB() bool { return p.Callback == oauth1.OOB }

// Decision is what follows the person's decision: the person goes to
// Callback with Params added to its query (oauth_token and oauth_verifier,
// or oauth_problem), or, for an oob callback (Callback empty), is shown
// Verifier.
type Decision struct {
	Callback string
	Params   url.Values
	Verifier string
}

// Pending returns the authorization that the request token awaits.
func (s *Service) Pending(ctx context.Context, requestToken string) (Pending, error) {
	p, _, err := s.pending(ctx, requestToken)
	return p, err
}

func (s *Service) pending(ctx context.Context, requestToken string) (Pending, store.RequestToken, error) {
	if !token.Valid(requestToken, token.OAuth1Request) {
		return Pending{}, store.RequestToken{}, ErrNoPendingAuthorization
	}
	rt, err := s.store.GetRequestToken(ctx, token.Hash(requestToken))
	if errors.Is(err, store.ErrNotFound) {
		return Pending{}, store.RequestToken{}, ErrNoPendingAuthorization
	}
	if err != nil {
		return Pending{}, store.RequestToken{}, err
	}
	if !rt.UsedAt.IsZero() || len(rt.VerifierHash) > 0 {
		return Pending{}, store.RequestToken{}, ErrNoPendingAuthorization
	}
	l, err := s.consumers.Consumer(ctx, rt.ConsumerKey)
	switch {
	case errors.Is(err, links.ErrUnknownConsumer), errors.Is(err, links.ErrConsumerDisabled):
		return Pending{}, store.RequestToken{}, ErrNoPendingAuthorization
	case err != nil:
		return Pending{}, store.RequestToken{}, err
	case l.ID != rt.LinkID:
		// The link was deleted and another took its consumer key.
		return Pending{}, store.RequestToken{}, ErrNoPendingAuthorization
	}
	return Pending{Link: l, Callback: rt.Callback}, rt, nil
}

// Approve records that user, whose role is role and who signed in at
// authTime, allows the consumer min(its ceiling, role). The request token
// then awaits its exchange, with a verifier that only the consumer gets
// (through the callback, or from the person for oob).
func (s *Service) Approve(ctx context.Context, requestToken, user string, role scope.Scope, authTime time.Time) (Decision, error) {
	p, _, err := s.pending(ctx, requestToken)
	if err != nil {
		return Decision{}, err
	}
	verifier := newVerifier()
	granted := scope.Min(p.Link.Ceiling, role)
	_, err = s.store.UpdateRequestToken(ctx, token.Hash(requestToken), func(rt *store.RequestToken) error {
		if !rt.UsedAt.IsZero() || len(rt.VerifierHash) > 0 {
			return ErrNoPendingAuthorization
		}
		rt.VerifierHash = token.Hash(verifier)
		rt.UserID, rt.Scope, rt.AuthTime = user, granted.String(), authTime
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Decision{}, ErrNoPendingAuthorization
	}
	if err != nil {
		return Decision{}, err
	}
	s.audit.Info("consent given", zap.String("link", p.Link.Name), zap.String("consumer_key", p.Link.ClientID), zap.String("user", user), zap.String("scope", granted.String()), zap.String("protocol", "OAuth 1.0a"))
	if p.OOB() {
		return Decision{Verifier: verifier}, nil
	}
	return Decision{Callback: p.Callback, Params: url.Values{"oauth_token": {requestToken}, "oauth_verifier": {verifier}}}, nil
}

// Deny spends the request token: the person refused. The consumer's
// callback is told with oauth_problem=permission_denied (nothing is sent
// for oob).
func (s *Service) Deny(ctx context.Context, requestToken, user string) (Decision, error) {
	p, _, err := s.pending(ctx, requestToken)
	if err != nil {
		return Decision{}, err
	}
	now := s.now().UTC()
	_, err = s.store.UpdateRequestToken(ctx, token.Hash(requestToken), func(rt *store.RequestToken) error {
		if !rt.UsedAt.IsZero() || len(rt.VerifierHash) > 0 {
			return ErrNoPendingAuthorization
		}
		rt.UsedAt = now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Decision{}, ErrNoPendingAuthorization
	}
	if err != nil {
		return Decision{}, err
	}
	s.audit.Info("consent denied", zap.String("link", p.Link.Name), zap.String("consumer_key", p.Link.ClientID), zap.String("user", user), zap.String("protocol", "OAuth 1.0a"))
	if p.OOB() {
		return Decision{}, nil
	}
	return Decision{Callback: p.Callback, Params: url.Values{"oauth_token": {requestToken}, "oauth_problem": {oauth1.ProblemPermissionDenied}}}, nil
}

// verifierAlphabet leaves out letters and digits people confuse.
const verifierAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// verifierLen gives about 76 bits: a wrong verifier spends the request
// token, so it cannot be guessed by trying.
const verifierLen = 13

// newVerifier returns a random verifier short enough to type (oob).
func newVerifier() string {
	b := make([]byte, verifierLen)
	for i := range b {
		var one [1]byte
		for {
			_, _ = rand.Read(one[:])
			// Rejection sampling keeps every character equally likely.
			if int(one[0]) < 256-256%len(verifierAlphabet) {
				break
			}
		}
		b[i] = verifierAlphabet[int(one[0])%len(verifierAlphabet)]
	}
	return string(b)
}
