package guard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/oauth1/provider"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/unavailable"
	"github.com/applinks/caddy-applinks/module/users"
)

// oauth1Refusal refuses an OAuth 1.0a signed request with its problem.
type oauth1Refusal struct{ p *oauth1.Problem }

func (e *oauth1Refusal) Error() string { return e.p.Error() }

// mayBeSigned reports whether r may be an OAuth 1.0a signed request: an
// `Authorization: OAuth` header, oauth_consumer_key in the query, or, where
// some link is a consumer, a form body without other credentials (RFC
// 5849 §3.5). Others are not read for OAuth 1.0a parameters.
func (g *Guard) mayBeSigned(r *http.Request) bool {
	auth := users.Authorization(r)
	for _, v := range auth {
		scheme, _, _ := strings.Cut(strings.TrimLeft(v, " \t"), " ")
		if isScheme(scheme, "oauth") {
			return true
		}
	}
	if strings.Contains(r.URL.RawQuery, "oauth_consumer_key=") {
		return true
	}
	if len(auth) > 0 || r.Body == nil || r.Body == http.NoBody || !isForm(r) {
		return false
	}
	return g.app.Links().HasConsumers(r.Context())
}

// identifyOAuth1 judges an OAuth 1.0a signed request. On success the
// upstream gets the request without the gateway's signature: no
// Authorization header, and neither query nor form body carry protocol
// parameters (or xoauth_requestor_id); a body without them is passed on
// unchanged. A request that turns out not to be signed gives nil, nil.
func (g *Guard) identifyOAuth1(w http.ResponseWriter, r *http.Request) (*Identity, error) {
	pr := withAuthorization(r)
	a, err := g.app.OAuth1().Authenticate(r.Context(), pr, provider.RequestURL(g.app.IssuerFor(r), r))
	r.Body = pr.Body // Parse put back what it read of a form body
	var p *oauth1.Problem
	switch {
	case errors.Is(err, oauth1.ErrNotSigned):
		return nil, nil
	case errors.As(err, &p):
		return nil, &oauth1Refusal{p}
	case errors.Is(err, oauth1.ErrFormTooLarge):
		return nil, caddyhttp.Error(http.StatusRequestEntityTooLarge, err)
	case err != nil:
		// Refuse rather than trust a validation the store cannot confirm.
		return nil, unavailable.Error(w, fmt.Errorf("validating OAuth 1.0a request: %w", err))
	}
	r.Header.Del("Authorization")
	if q, changed := oauth1.WithoutProtocolParams(r.URL.RawQuery, provider.RequestorParam); changed {
		r.URL.RawQuery = q
	}
	if err := stripFormParams(r); err != nil {
		return nil, err
	}
	return &Identity{UserID: a.UserID, ClientID: a.ClientID, Scope: a.Scope, OAuth1: true}, nil
}

// withAuthorization returns r, or a shallow copy of it with the
// Authorization values users.StripCredentials took off it, for reading
// the signature.
func withAuthorization(r *http.Request) *http.Request {
	if len(r.Header.Values("Authorization")) > 0 {
		return r
	}
	auth := users.Authorization(r)
	if len(auth) == 0 {
		return r
	}
	cp := *r
	cp.Header = r.Header.Clone()
	cp.Header["Authorization"] = auth
	return &cp
}

// stripFormParams removes the protocol parameters from a form body that
// oauth1.Parse read (and put back in memory); other bodies stay as sent.
func stripFormParams(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || !isForm(r) {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("reading the form body again: %w", err)
	}
	out, changed := oauth1.WithoutProtocolParams(string(b), provider.RequestorParam)
	if changed {
		b = []byte(out)
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// isForm reports whether r's body is a single-part form.
func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// refuseOAuth1 answers an OAuth 1.0a problem: 401 (or 400 for a malformed
// request) with `WWW-Authenticate: OAuth realm="…", oauth_problem="…"`.
func (g *Guard) refuseOAuth1(w http.ResponseWriter, r *http.Request, p *oauth1.Problem) error {
	if ce := g.logger.Check(zapcore.DebugLevel, "OAuth 1.0a request refused"); ce != nil {
		ce.Write(zap.String("oauth_problem", p.Code), zap.String("reason", p.Advice), zap.String("uri", r.URL.Path))
	}
	p.Write(w, g.Realm)
	return nil
}

// insufficientOAuth1 answers 403 permission_denied to a signed request
// whose permission is below need, as Atlassian's products do.
func (g *Guard) insufficientOAuth1(w http.ResponseWriter, id *Identity, need scope.Scope) error {
	p := &oauth1.Problem{
		Code:   oauth1.ProblemPermissionDenied,
		Advice: fmt.Sprintf("request does not have %s scope (the consumer acts with %s)", strings.ToLower(need.String()), id.Scope),
		Status: http.StatusForbidden,
	}
	p.Write(w, g.Realm)
	return nil
}
