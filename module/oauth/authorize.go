package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
	"github.com/applinks/caddy-applinks/module/web"
)

// authParams are the authorization request parameters carried from the
// authorization endpoint through sign-in to the consent form.
var authParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "nonce", "resource"}

// authRequest is a validated authorization request.
type authRequest struct {
	link        links.Link
	redirectURI string // as sent; "" when omitted
	target      string // where the answer goes
	state       string
	scope       scope.Scope
	oidc        []string // OpenID Connect scopes asked for
	challenge   string
	method      string
	nonce       string
	// resource is the RFC 8707 resource asked for, validated; "" for none.
	resource string
	params   url.Values
}

// oidcScopes are the OpenID Connect scopes a link may ask for beside its
// permission; they never raise the permission.
var oidcScopes = []string{"openid", "profile", "email"}

// pageError is an authorization error shown to the person, never
// redirected: the client or redirect URI cannot be trusted.
type pageError struct {
	status  int
	heading string
	message string
}

// ServeAuthorize handles the authorization endpoint: it validates the
// request, sends the person to sign in if needed, then to consent.
func (s *Server) ServeAuthorize(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.app.Pages().Error(w, http.StatusMethodNotAllowed, "Method not allowed", "The authorization endpoint accepts GET requests only.")
		return nil
	}
	req, valid := s.validRequest(w, r, r.URL.Query())
	if !valid {
		return nil
	}
	_, ok, err := s.app.Sessions().Current(r)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if !ok {
		http.Redirect(w, r, users.LoginURL(AuthorizePath+"?"+r.URL.RawQuery), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, ConsentPath+"?"+req.params.Encode(), http.StatusSeeOther)
	return nil
}

type consentPage struct {
	// SignIn is set when the application also asks to sign the user in
	// (OpenID Connect).
	SignIn         bool
	LinkName       string
	Scope          string
	Granted        string
	RedirectOrigin string
	// SelfRegistered: the client registered itself (RFC 7591); no
	// administrator vouched for it.
	SelfRegistered bool
	RedirectHost   string
	// Document: the client is identified by its own client ID metadata
	// document, served at ClientHost; ClaimedName is the name it gives
	// itself there.
	Document    bool
	ClientHost  string
	ClaimedName string
	// Resource is the RFC 8707 resource the tokens will be bound to; ""
	// when the client asks for none.
	Resource string
	// Action is where the form posts: the consent path, or the OAuth 1.0a
	// authorize path.
	Action string
	// OOB: an OAuth 1.0a consumer without a callback; the person is
	// shown a verifier instead of being sent back.
	OOB    bool
	CSRF   string
	Params []param
}

type param struct{ Name, Value string }

// ServeConsent shows the consent page (GET) and records the person's
// decision (POST), answering the client at its redirect URI.
func (s *Server) ServeConsent(w http.ResponseWriter, r *http.Request) error {
	var values url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		values = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.app.Pages().Error(w, http.StatusBadRequest, "Bad request", "The consent form could not be read.")
			return nil
		}
		values = r.PostForm
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.app.Pages().Error(w, http.StatusMethodNotAllowed, "Method not allowed", "The consent page accepts GET and POST requests only.")
		return nil
	}
	req, valid := s.validRequest(w, r, values)
	if !valid {
		return nil
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
		http.Redirect(w, r, users.LoginURL(ConsentPath+"?"+req.params.Encode()), http.StatusSeeOther)
		return nil
	}
	granted := scope.Min(req.scope, sess.User.Role)
	if r.Method != http.MethodPost {
		page := consentPage{
			SignIn:         slices.Contains(req.oidc, "openid"),
			LinkName:       req.link.Name,
			Scope:          req.scope.Label(),
			Granted:        granted.Label(),
			RedirectOrigin: origin(req.target),
			SelfRegistered: req.link.Registered,
			RedirectHost:   redirectHost(req.target),
			Document:       req.link.Source == links.SourceDocument,
			ClientHost:     req.link.Name,
			ClaimedName:    req.link.ClaimedName,
			Resource:       req.resource,
			Action:         ConsentPath,
			CSRF:           s.app.Sessions().CSRFToken(sess),
		}
		for _, k := range authParams {
			if v := req.params.Get(k); v != "" {
				page.Params = append(page.Params, param{k, v})
			}
		}
		s.app.Pages().Render(w, http.StatusOK, "consent.html", web.Page{Title: "Allow access", User: sess.User.Name, Data: page}, origin(req.target))
		return nil
	}
	if !s.app.Sessions().CheckCSRF(r, sess) {
		s.app.Pages().Error(w, http.StatusForbidden, "Request refused", "The consent form expired or did not come from this site. Please start again from the application.")
		return nil
	}
	if values.Get("decision") != "allow" {
		s.app.Audit().Info("consent denied", zap.String("link", req.link.Name), zap.String("client_id", req.link.ClientID), zap.String("user", sess.User.Name))
		s.redirectError(w, r, req, oautherror.New(oautherror.AccessDenied, "the user denied the request"))
		return nil
	}
	code, err := s.app.Grants().IssueCode(r.Context(), grants.CodeRequest{
		Client:              client(req.link),
		UserID:              sess.User.Name,
		RedirectURI:         req.redirectURI,
		Scope:               granted,
		CodeChallenge:       req.challenge,
		CodeChallengeMethod: req.method,
		Nonce:               req.nonce,
		OIDCScopes:          req.oidc,
		AuthTime:            sess.SignedInAt,
		Resource:            req.resource,
	})
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	s.app.Audit().Info("consent given", zap.String("link", req.link.Name), zap.String("client_id", req.link.ClientID), zap.String("user", sess.User.Name), zap.String("scope", granted.String()))
	q := url.Values{"code": {code}, "iss": {s.app.IssuerFor(r)}}
	if req.state != "" {
		q.Set("state", req.state)
	}
	http.Redirect(w, r, withQuery(req.target, q), http.StatusSeeOther)
	return nil
}

// validRequest parses an authorization request; when it is not valid it
// answers (an error page, or an error sent to the redirect URI) and
// returns false.
func (s *Server) validRequest(w http.ResponseWriter, r *http.Request, values url.Values) (*authRequest, bool) {
	req, perr, rerr := s.parseAuthRequest(r.Context(), values)
	if perr == nil && rerr == nil {
		req.resource, rerr = s.target(r, values)
	}
	switch {
	case perr != nil:
		s.app.Pages().Error(w, perr.status, perr.heading, perr.message)
		return nil, false
	case rerr != nil:
		s.redirectError(w, r, req, rerr)
		return nil, false
	}
	return req, true
}

// parseAuthRequest validates an authorization request. Problems with the
// client or redirect URI give a pageError; the rest give an OAuth error to
// send to the (then trusted) redirect URI.
func (s *Server) parseAuthRequest(ctx context.Context, in url.Values) (*authRequest, *pageError, *oautherror.Error) {
	if len(in["client_id"]) > 1 {
		return nil, &pageError{http.StatusBadRequest, "Invalid request", "The parameter client_id appears more than once."}, nil
	}
	clientID := in.Get("client_id")
	if clientID == "" {
		return nil, &pageError{http.StatusBadRequest, "Invalid request", "The request has no client_id: the application that sent you here is misconfigured."}, nil
	}
	link, err := s.app.Links().ByClientID(ctx, clientID)
	if err == nil && link.IsOAuth1() {
		// An OAuth 1.0a consumer's key is no OAuth 2.0 client id.
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, &pageError{http.StatusBadRequest, "Unknown application", "No application is linked with this client_id. It may have been deleted by an administrator."}, nil
	}
	if errors.Is(err, links.ErrBadDocument) {
		// invalid_client, shown here: the redirect URI is not verified.
		return nil, &pageError{http.StatusBadRequest, "Application not recognized", "This application names itself by the URL of its client ID metadata document, which was refused (invalid_client): " + links.DocumentProblem(err) + "."}, nil
	}
	if err != nil {
		return nil, &pageError{http.StatusInternalServerError, "Server error", "The gateway could not look up the application. Try again later."}, nil
	}
	return parseAuthParams(link, in)
}

// parseAuthParams validates an authorization request for the link its
// client_id names; it does no I/O. Errors are as parseAuthRequest's.
func parseAuthParams(link links.Link, in url.Values) (*authRequest, *pageError, *oautherror.Error) {
	if len(in["redirect_uri"]) > 1 {
		return nil, &pageError{http.StatusBadRequest, "Invalid request", "The parameter redirect_uri appears more than once."}, nil
	}
	if link.Disabled {
		return nil, &pageError{http.StatusForbidden, "Application disabled", fmt.Sprintf("An administrator has disabled %s, so it cannot ask for access now.", link.Name)}, nil
	}
	req := &authRequest{link: link, redirectURI: in.Get("redirect_uri"), params: url.Values{}}
	switch {
	case req.redirectURI != "" && !link.AllowsRedirect(req.redirectURI):
		return nil, &pageError{http.StatusBadRequest, "Redirect URL mismatch", fmt.Sprintf("The redirect URL sent by %s is not registered for this application link, so you were not sent back to it.", link.Name)}, nil
	case req.redirectURI != "":
		req.target = req.redirectURI
	case len(link.RedirectURIs) == 1:
		req.target = link.RedirectURIs[0]
	case len(link.RedirectURIs) == 0:
		return nil, &pageError{http.StatusBadRequest, "Invalid request", "This application link has no redirect URL: it acts as a service account (client_credentials) and cannot ask users for access."}, nil
	default:
		return nil, &pageError{http.StatusBadRequest, "Invalid request", "The request has no redirect_uri and the application link has several."}, nil
	}
	for _, k := range authParams {
		if v := in.Get(k); v != "" {
			req.params.Set(k, v)
		}
	}
	req.state = in.Get("state")
	for _, k := range authParams {
		if len(in[k]) > 1 {
			return req, nil, oautherror.New(oautherror.InvalidRequest, fmt.Sprintf("the parameter %s appears more than once", k))
		}
	}
	switch rt := in.Get("response_type"); rt {
	case "code":
	case "":
		return req, nil, oautherror.New(oautherror.InvalidRequest, "response_type is required")
	default:
		return req, nil, oautherror.New(oautherror.UnsupportedResponseType, "only response_type=code is supported")
	}
	requested, other := scope.ParseList(in.Get("scope"))
	for _, o := range other {
		if !slices.Contains(oidcScopes, o) {
			return req, nil, oautherror.New(oautherror.InvalidScope, fmt.Sprintf("unknown scope %q: use READ, WRITE, ADMIN or SYSTEM_ADMIN, and openid, profile or email", o))
		}
		if !slices.Contains(req.oidc, o) {
			req.oidc = append(req.oidc, o)
		}
	}
	switch {
	case requested > link.Ceiling:
		return req, nil, oautherror.New(oautherror.InvalidScope, fmt.Sprintf("scope %s exceeds the link's permission %s", requested, link.Ceiling))
	case requested == scope.None:
		requested = link.Ceiling
	}
	req.scope = requested
	req.challenge = in.Get("code_challenge")
	method, ok := grants.NormalizeMethod(in.Get("code_challenge_method"))
	switch {
	case !ok:
		return req, nil, oautherror.New(oautherror.InvalidRequest, "code_challenge_method must be S256 or plain")
	case req.challenge == "" && in.Get("code_challenge_method") != "":
		return req, nil, oautherror.New(oautherror.InvalidRequest, "code_challenge_method sent without code_challenge")
	case req.challenge == "" && link.PKCERequired():
		return req, nil, oautherror.New(oautherror.InvalidRequest, "this application link requires PKCE: send code_challenge")
	case link.PKCERequired() && method != grants.MethodS256:
		// A plain challenge is the verifier itself: whoever reads the
		// authorization request (logs, history, a referrer) can redeem
		// the code, which is what requiring PKCE must rule out.
		return req, nil, oautherror.New(oautherror.InvalidRequest, "this application link requires PKCE with code_challenge_method=S256")
	case req.challenge != "" && !grants.ValidVerifierSyntax(req.challenge):
		return req, nil, oautherror.New(oautherror.InvalidRequest, "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]")
	}
	if req.challenge != "" {
		req.method = method
	}
	req.nonce = in.Get("nonce")
	return req, nil, nil
}

// redirectError sends an OAuth error to the registered redirect URI.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *oautherror.Error) {
	q := url.Values{"error": {e.Code}, "iss": {s.app.IssuerFor(r)}}
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	web.SetSecurityHeaders(w)
	http.Redirect(w, r, withQuery(req.target, q), http.StatusSeeOther)
}

func client(l links.Link) grants.Client {
	return grants.Client{LinkID: l.ID, ClientID: l.ClientID, Ceiling: l.Ceiling, RequirePKCE: l.PKCERequired(), Public: l.Public, ServiceUser: l.ServiceUser}
}

// withQuery adds q to the query of a redirect URI, keeping its own.
func withQuery(target string, q url.Values) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	own := u.Query()
	for k, vs := range q {
		own[k] = vs
	}
	u.RawQuery = own.Encode()
	return u.String()
}

// origin is the scheme and host of a URL, as CSP source expressions
// write it; for a private-use scheme, the scheme alone.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}
