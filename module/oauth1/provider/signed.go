package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
	"github.com/applinks/caddy-applinks/module/users"
)

// RequestorParam names the user a two-legged request with impersonation
// acts as (Atlassian's and Google's name).
const RequestorParam = "xoauth_requestor_id"

// Access is who a signed request acts for, and with what permission.
type Access struct {
	UserID string
	// ClientID is the consumer key.
	ClientID string
	LinkID   string
	// Scope is min(the grant's scope, the user's current role, the
	// link's current ceiling); for two-legged requests min(the user's
	// role, the ceiling).
	Scope scope.Scope
	// GrantID is the access token's grant; "" for two-legged requests.
	GrantID string
}

// Authenticate judges a signed request of a consumer sent to uri, for the
// guard: with an access token (three-legged), through the token service
// like a bearer token (its cache and revocations apply), signed with the
// token's secret for HMAC-SHA1; without one (two-legged), when the link
// allows it, as its execute-as user or, with impersonation, the user
// xoauth_requestor_id names. Every request is within the timestamp
// window, signed over uri and of a nonce not seen before.
//
// Errors: a *oauth1.Problem (the refusal to answer), oauth1.ErrNotSigned,
// oauth1.ErrFormTooLarge, or a failure of the store.
func (s *Service) Authenticate(ctx context.Context, r *http.Request, uri string) (Access, error) {
	sr, err := s.parse(ctx, r, uri)
	if err != nil {
		return Access{}, err
	}
	if sr.q.Token == "" {
		return s.twoLegged(ctx, sr)
	}
	if !token.Valid(sr.q.Token, token.OAuth1Access) {
		return Access{}, problem(oauth1.ProblemTokenRejected, "oauth_token is not an access token of this gateway")
	}
	a, err := s.tokens.ValidateOAuth1(ctx, sr.q.Token)
	if errors.Is(err, grants.ErrInvalidToken) {
		return Access{}, problem(oauth1.ProblemTokenRejected, "the access token is unknown, expired or revoked")
	}
	if err != nil {
		return Access{}, err
	}
	if a.LinkID != sr.link.ID {
		return Access{}, problem(oauth1.ProblemTokenRejected, "the access token was issued to another consumer")
	}
	var tokenSecret string
	if hmacConsumer(sr.link) {
		if tokenSecret, err = openFor(sr.q.Token, a.SealedSecret); err != nil {
			return Access{}, err
		}
	}
	if err := s.verify(ctx, sr, tokenSecret); err != nil {
		return Access{}, err
	}
	return Access{UserID: a.UserID, ClientID: a.ClientID, LinkID: a.LinkID, Scope: a.Scope, GrantID: a.GrantID}, nil
}

// twoLegged judges a request signed without a token.
func (s *Service) twoLegged(ctx context.Context, sr *signed) (Access, error) {
	// The signature first: what the link allows is no business of
	// whoever cannot sign as its consumer.
	if err := s.verify(ctx, sr, ""); err != nil {
		return Access{}, err
	}
	c := sr.link.OAuth1
	if !c.TwoLegged {
		return Access{}, problem(oauth1.ProblemPermissionDenied, "this consumer's application link does not allow two-legged OAuth: sign with an access token")
	}
	user := c.ExecuteAs
	if requestor, named := sr.q.Params[RequestorParam]; named {
		if !c.Impersonation {
			return Access{}, problem(oauth1.ProblemPermissionDenied, "this consumer's application link does not allow impersonation (xoauth_requestor_id)")
		}
		user = requestor[0]
	}
	if user == "" {
		return Access{}, &oauth1.Problem{Code: oauth1.ProblemParameterAbsent, Advice: "name the user to act as in xoauth_requestor_id", Params: url.Values{"oauth_parameters_absent": {RequestorParam}}}
	}
	role, err := s.users.Role(ctx, user, s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, users.ErrDisabled) {
		return Access{}, problem(oauth1.ProblemPermissionDenied, "the user this request acts as cannot sign in")
	}
	if err != nil {
		return Access{}, err
	}
	return Access{UserID: user, ClientID: sr.link.ClientID, LinkID: sr.link.ID, Scope: scope.Min(role, sr.link.Ceiling)}, nil
}

// RequestURL is the URL a client sent r to, which its signature covers:
// the scheme and host of origin (the gateway's public issuer, which
// honours trusted proxies) and the path and query as the client wrote
// them, before any rewrite of the request in Caddy.
func RequestURL(origin string, r *http.Request) string {
	requestURI := r.RequestURI
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.RequestURI != "" {
		requestURI = orig.RequestURI
	}
	if !strings.HasPrefix(requestURI, "/") {
		// An absolute-form request target, or none: its path and query.
		if u, err := url.Parse(requestURI); err == nil && requestURI != "" {
			requestURI = u.RequestURI()
		} else {
			requestURI = r.URL.RequestURI()
		}
	}
	if u, err := url.Parse(origin); err == nil && u.Scheme != "" && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	return origin + requestURI
}
