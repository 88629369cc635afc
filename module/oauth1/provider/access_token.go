package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// redeemed is the outcome of a redemption that writes no grant, told
// apart after the store's transaction.
type redeemed struct {
	// problem refuses the exchange; when spent, the token was marked used
	// (a wrong verifier).
	problem *oauth1.Problem
	// reused is the grant of a token exchanged before, to revoke.
	reused string
}

func (r *redeemed) Error() string { return r.problem.Error() }

// IssueAccessToken answers a signed access-token request (RFC 5849 §2.3)
// sent to uri: the consumer signs it with the request token the person
// authorized and sends the verifier it got. A request token is exchanged
// once: a second exchange is token_used and revokes the access token the
// first gave (as a reused authorization code does); a wrong verifier
// spends it. The access token lives Config.OAuth1TTL of the token
// service and grants min(the consent's scope, the user's role now, the
// link's ceiling), re-checked on every request.
func (s *Service) IssueAccessToken(ctx context.Context, r *http.Request, uri string) (Credentials, error) {
	sr, err := s.parse(ctx, r, uri)
	if err != nil {
		return Credentials{}, err
	}
	q := sr.q
	switch {
	case q.Token == "":
		return Credentials{}, &oauth1.Problem{Code: oauth1.ProblemParameterAbsent, Advice: "sign the access-token request with the request token", Params: url.Values{"oauth_parameters_absent": {"oauth_token"}}}
	case q.Verifier == "":
		return Credentials{}, &oauth1.Problem{Code: oauth1.ProblemParameterAbsent, Advice: "send the oauth_verifier the person's authorization gave", Params: url.Values{"oauth_parameters_absent": {"oauth_verifier"}}}
	case !token.Valid(q.Token, token.OAuth1Request):
		return Credentials{}, problem(oauth1.ProblemTokenRejected, "oauth_token is not a request token of this gateway")
	}
	hash := token.Hash(q.Token)
	rt, err := s.store.GetRequestToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Credentials{}, problem(oauth1.ProblemTokenRejected, "the request token is unknown or expired")
	}
	if err != nil {
		return Credentials{}, err
	}
	if rt.LinkID != sr.link.ID {
		return Credentials{}, problem(oauth1.ProblemTokenRejected, "the request token was issued to another consumer")
	}
	var tokenSecret string
	if hmacConsumer(sr.link) {
		if tokenSecret, err = openFor(q.Token, rt.SealedSecret); err != nil {
			return Credentials{}, err
		}
	}
	if err := s.verify(ctx, sr, tokenSecret); err != nil {
		return Credentials{}, err
	}

	var access, secret string
	c := client(sr.link)
	iss, err := s.store.RedeemRequestToken(ctx, hash, func(t *store.RequestToken) (store.Issue, error) {
		now := s.now().UTC()
		switch {
		case !t.UsedAt.IsZero():
			return store.Issue{}, &redeemed{problem: problem(oauth1.ProblemTokenUsed, "the request token was exchanged (or refused) before; the access token it gave is revoked"), reused: t.GrantID}
		case len(t.VerifierHash) == 0:
			return store.Issue{}, &redeemed{problem: problem(oauth1.ProblemPermissionUnknown, "the person has not authorized this request token yet")}
		case !equalHash(t.VerifierHash, token.Hash(q.Verifier)):
			t.UsedAt = now
			return store.Issue{}, nil
		}
		granted, _ := scope.Parse(t.Scope)
		iss, tok, err := s.grants.NewOAuth1Grant(ctx, c, t.UserID, t.AuthTime, granted)
		if errors.Is(err, grants.ErrInvalidToken) {
			return store.Issue{}, &redeemed{problem: problem(oauth1.ProblemPermissionDenied, "the person who authorized this request token can no longer sign in")}
		}
		if err != nil {
			return store.Issue{}, err
		}
		access, secret = tok, token.New(token.OAuth1Secret)
		if hmacConsumer(sr.link) {
			if iss.Tokens[0].SealedSecret, err = sealFor(access, secret); err != nil {
				return store.Issue{}, err
			}
		}
		t.UsedAt, t.GrantID = now, iss.Grant.ID
		return iss, nil
	})
	var rd *redeemed
	switch {
	case errors.As(err, &rd):
		if rd.reused != "" {
			if err := s.grants.RevokeGrant(ctx, rd.reused, "request token replay"); err != nil && !errors.Is(err, store.ErrNotFound) {
				return Credentials{}, fmt.Errorf("revoking the grant of a reused request token: %w", err)
			}
			s.audit.Warn("OAuth 1.0a request token exchanged twice; grant revoked", zap.String("consumer_key", sr.link.ClientID), zap.String("grant", rd.reused))
		}
		return Credentials{}, rd.problem
	case errors.Is(err, store.ErrNotFound):
		return Credentials{}, problem(oauth1.ProblemTokenRejected, "the request token is unknown or expired")
	case err != nil:
		return Credentials{}, err
	case iss.Grant.ID == "":
		s.audit.Info("OAuth 1.0a verifier wrong; request token spent", zap.String("consumer_key", sr.link.ClientID))
		return Credentials{}, problem(oauth1.ProblemTokenRejected, "oauth_verifier does not match; the request token is spent, start again")
	}
	s.grants.OAuth1Issued(iss.Grant)
	return Credentials{Token: access, Secret: secret, ExpiresIn: int64(s.grants.OAuth1TTL() / time.Second)}, nil
}
