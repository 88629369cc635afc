package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/oauth1/provider"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/unavailable"
	"github.com/applinks/caddy-applinks/module/users"
	"github.com/applinks/caddy-applinks/module/web"
)

// Paths of the OAuth 1.0a service provider, Atlassian's.
const (
	RequestTokenPath    = "/plugins/servlet/oauth/request-token"
	OAuth1AuthorizePath = "/plugins/servlet/oauth/authorize"
	AccessTokenPath     = "/plugins/servlet/oauth/access-token"
)

// ServeRequestToken issues a request token to a consumer's signed request
// (RFC 5849 §2.1), answering oauth_token, oauth_token_secret and
// oauth_callback_confirmed form-encoded.
func (s *Server) ServeRequestToken(w http.ResponseWriter, r *http.Request) error {
	if !oauth1Method(w, r) {
		return nil
	}
	c, err := s.app.OAuth1().IssueRequestToken(r.Context(), r, s.signedURL(r))
	if err != nil {
		return s.answerOAuth1(w, r, err)
	}
	writeForm(w, url.Values{"oauth_token": {c.Token}, "oauth_token_secret": {c.Secret}, "oauth_callback_confirmed": {"true"}})
	return nil
}

// ServeAccessToken exchanges an authorized request token for an access
// token (RFC 5849 §2.3), answering oauth_token and oauth_token_secret with
// the lifetime Atlassian's products add (oauth_expires_in,
// oauth_authorization_expires_in, in seconds).
func (s *Server) ServeAccessToken(w http.ResponseWriter, r *http.Request) error {
	if !oauth1Method(w, r) {
		return nil
	}
	c, err := s.app.OAuth1().IssueAccessToken(r.Context(), r, s.signedURL(r))
	if err != nil {
		return s.answerOAuth1(w, r, err)
	}
	expires := strconv.FormatInt(c.ExpiresIn, 10)
	writeForm(w, url.Values{"oauth_token": {c.Token}, "oauth_token_secret": {c.Secret}, "oauth_expires_in": {expires}, "oauth_authorization_expires_in": {expires}})
	return nil
}

// oauth1Decision is the data of the page that shows an oob verifier.
type oauth1Decision struct {
	LinkName string
	Verifier string
}

// ServeOAuth1Authorize is the OAuth 1.0a authorization page (RFC 5849
// §2.2): GET shows, to a signed-in person (else after sign-in), the
// consent page naming the consumer and what it may do; POST records the
// decision and sends the person to the consumer's callback with the
// verifier, or for oob shows the verifier.
func (s *Server) ServeOAuth1Authorize(w http.ResponseWriter, r *http.Request) error {
	var values url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		values = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.app.Pages().Error(w, http.StatusBadRequest, "Bad request", "The authorization form could not be read.")
			return nil
		}
		values = r.PostForm
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.app.Pages().Error(w, http.StatusMethodNotAllowed, "Method not allowed", "The authorization page accepts GET and POST requests only.")
		return nil
	}
	requestToken := values.Get("oauth_token")
	p, err := s.app.OAuth1().Pending(r.Context(), requestToken)
	if errors.Is(err, provider.ErrNoPendingAuthorization) {
		s.app.Pages().Error(w, http.StatusBadRequest, "Authorization request not found", "This authorization request is unknown, has expired or was already answered. Start again from the application.")
		return nil
	}
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	sess, ok, err := s.app.Sessions().Current(r)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if !ok {
		if r.Method == http.MethodPost {
			s.app.Pages().Error(w, http.StatusUnauthorized, "Signed out", "Your session ended before you answered. Please start again from the application.")
			return nil
		}
		http.Redirect(w, r, users.LoginURL(OAuth1AuthorizePath+"?"+url.Values{"oauth_token": {requestToken}}.Encode()), http.StatusSeeOther)
		return nil
	}
	var callbackOrigin []string
	if !p.OOB() {
		callbackOrigin = []string{origin(p.Callback)}
	}
	if r.Method != http.MethodPost {
		page := consentPage{
			LinkName:       p.Link.Name,
			Scope:          p.Link.Ceiling.Label(),
			Granted:        scope.Min(p.Link.Ceiling, sess.User.Role).Label(),
			RedirectOrigin: origin(p.Callback),
			Action:         OAuth1AuthorizePath,
			OOB:            p.OOB(),
			CSRF:           s.app.Sessions().CSRFToken(sess),
			Params:         []param{{"oauth_token", requestToken}},
		}
		s.app.Pages().Render(w, http.StatusOK, "consent.html", web.Page{Title: "Allow access", User: sess.User.Name, Data: page}, callbackOrigin...)
		return nil
	}
	if !s.app.Sessions().CheckCSRF(r, sess) {
		s.app.Pages().Error(w, http.StatusForbidden, "Request refused", "The authorization form expired or did not come from this site. Please start again from the application.")
		return nil
	}
	var d provider.Decision
	if values.Get("decision") == "allow" {
		d, err = s.app.OAuth1().Approve(r.Context(), requestToken, sess.User.Name, sess.User.Role, sess.SignedInAt)
	} else {
		d, err = s.app.OAuth1().Deny(r.Context(), requestToken, sess.User.Name)
	}
	if errors.Is(err, provider.ErrNoPendingAuthorization) {
		s.app.Pages().Error(w, http.StatusBadRequest, "Authorization request not found", "This authorization request has expired or was already answered. Start again from the application.")
		return nil
	}
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	switch {
	case d.Callback != "":
		web.SetSecurityHeaders(w)
		http.Redirect(w, r, withQuery(d.Callback, d.Params), http.StatusSeeOther)
	case d.Verifier != "":
		s.app.Pages().Render(w, http.StatusOK, "verifier.html", web.Page{Title: "Access allowed", User: sess.User.Name, Data: oauth1Decision{LinkName: p.Link.Name, Verifier: d.Verifier}})
	default:
		s.app.Pages().Error(w, http.StatusOK, "Access denied", p.Link.Name+" was not given access. You can close this page.")
	}
	return nil
}

// signedURL is the URL the client sent r to, which its signature covers.
func (s *Server) signedURL(r *http.Request) string {
	return provider.RequestURL(s.app.IssuerFor(r), r)
}

// oauth1Method accepts the methods of the token endpoints, GET and POST
// (RFC 5849 leaves the choice to the server; Atlassian's accept both).
func oauth1Method(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost || r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", "GET, POST")
	w.WriteHeader(http.StatusMethodNotAllowed)
	return false
}

// answerOAuth1 answers a refusal as the Problem Reporting extension words
// it, under the gateway's issuer as realm (as Atlassian's products name
// their base URL); a request that is not signed at all is
// parameter_absent; a store that cannot be reached is 503; anything else
// goes to Caddy's error handling.
func (s *Server) answerOAuth1(w http.ResponseWriter, r *http.Request, err error) error {
	var p *oauth1.Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, oauth1.ErrNotSigned):
		p = &oauth1.Problem{Code: oauth1.ProblemParameterAbsent, Advice: "sign the request with OAuth 1.0a (an Authorization: OAuth header)", Params: url.Values{"oauth_parameters_absent": {"oauth_consumer_key&oauth_signature_method&oauth_signature&oauth_timestamp&oauth_nonce"}}}
	case errors.Is(err, oauth1.ErrFormTooLarge):
		return caddyhttp.Error(http.StatusRequestEntityTooLarge, err)
	case errors.Is(err, store.ErrConflict), unavailable.Is(err):
		w.Header().Set("Retry-After", unavailable.RetryAfter)
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	default:
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	p.Write(w, s.app.IssuerFor(r))
	return nil
}

// writeForm answers values form-encoded, as OAuth 1.0a token endpoints do.
func writeForm(w http.ResponseWriter, values url.Values) {
	h := w.Header()
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(values.Encode()))
}
