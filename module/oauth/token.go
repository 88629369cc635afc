package oauth

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/ratelimit"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/unavailable"
	"github.com/applinks/caddy-applinks/module/users"
)

// basicChallenge answers a failed HTTP Basic client authentication.
const basicChallenge = `Basic realm="applinks", charset="UTF-8"`

// tokenResponse is a successful RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	IDToken      string `json:"id_token,omitempty"`
}

// ServeToken handles the token endpoint: grant types authorization_code,
// refresh_token and client_credentials.
func (s *Server) ServeToken(w http.ResponseWriter, r *http.Request) error {
	form, c, err := s.clientRequest(w, r)
	if err != nil {
		return s.answer(w, err)
	}
	var out grants.Tokens
	target, terr := s.target(r, form)
	if terr != nil {
		return s.answer(w, terr)
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		code := form.Get("code")
		if code == "" {
			return s.answer(w, oautherror.New(oautherror.InvalidRequest, "code is required"))
		}
		out, err = s.app.Grants().Exchange(r.Context(), c, code, form.Get("redirect_uri"), form.Get("code_verifier"), target)
	case "refresh_token":
		rt := form.Get("refresh_token")
		if rt == "" {
			return s.answer(w, oautherror.New(oautherror.InvalidRequest, "refresh_token is required"))
		}
		out, err = s.app.Grants().Refresh(r.Context(), c, rt, form.Get("scope"), target)
	case "client_credentials":
		out, err = s.clientCredentials(r, c, form.Get("scope"))
	case "":
		err = oautherror.New(oautherror.InvalidRequest, "grant_type is required")
	default:
		err = oautherror.New(oautherror.UnsupportedGrantType, "grant_type must be authorization_code, refresh_token or client_credentials")
	}
	if err != nil {
		return s.answer(w, err)
	}
	resp := tokenResponse{
		AccessToken:  out.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    out.ExpiresIn,
		RefreshToken: out.RefreshToken,
		Scope:        out.ScopeString(),
	}
	if slices.Contains(out.OIDCScopes, "openid") {
		if resp.IDToken, err = s.idToken(r, out); err != nil {
			return s.answer(w, err)
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// ServeRevoke handles RFC 7009 revocation: revoking an access or refresh
// token ends its whole grant.
func (s *Server) ServeRevoke(w http.ResponseWriter, r *http.Request) error {
	form, c, err := s.clientRequest(w, r)
	if err != nil {
		return s.answer(w, err)
	}
	tok := form.Get("token")
	if tok == "" {
		return s.answer(w, oautherror.New(oautherror.InvalidRequest, "token is required"))
	}
	if err := s.app.Grants().Revoke(r.Context(), c, tok); err != nil {
		return s.answer(w, err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// introspection is an RFC 7662 §2.2 answer.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	Subject   string `json:"sub,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Expires   int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	// Audience is the RFC 8707 resource the token is bound to.
	Audience string `json:"aud,omitempty"`
}

// ServeIntrospect handles RFC 7662 introspection. A link introspects the
// tokens issued to it; any other token is reported inactive.
func (s *Server) ServeIntrospect(w http.ResponseWriter, r *http.Request) error {
	form, c, err := s.confidentialRequest(w, r)
	if err != nil {
		return s.answer(w, err)
	}
	tok := form.Get("token")
	if tok == "" {
		return s.answer(w, oautherror.New(oautherror.InvalidRequest, "token is required"))
	}
	kinds := []store.TokenKind{store.AccessToken, store.RefreshToken}
	if form.Get("token_type_hint") == "refresh_token" {
		kinds[0], kinds[1] = kinds[1], kinds[0]
	}
	for _, kind := range kinds {
		a, err := s.app.Grants().Validate(r.Context(), tok, kind)
		if errors.Is(err, grants.ErrInvalidToken) {
			continue
		}
		if err != nil {
			return s.answer(w, err)
		}
		if a.ClientID != c.ClientID {
			break
		}
		sub, err := s.app.Users().Subject(r.Context(), a.UserID, s.now())
		if errors.Is(err, store.ErrNotFound) {
			break // the user was deleted meanwhile
		}
		if err != nil {
			return s.answer(w, err)
		}
		typ := "Bearer"
		if kind == store.RefreshToken {
			typ = "refresh_token"
		}
		writeJSON(w, http.StatusOK, introspection{
			Active: true, Scope: grants.JoinScopes(a.Scope.String(), a.OIDCScopes), ClientID: a.ClientID, Username: a.UserID, Subject: sub,
			TokenType: typ, Expires: a.ExpiresAt.Unix(), IssuedAt: a.IssuedAt.Unix(), Issuer: s.app.IssuerFor(r),
			Audience: a.Resource,
		})
		return nil
	}
	writeJSON(w, http.StatusOK, introspection{Active: false})
	return nil
}

// clientRequest reads a POST form of the token, revocation or
// introspection endpoint and authenticates the client with
// client_secret_basic or client_secret_post (one of them, not both).
func (s *Server) clientRequest(w http.ResponseWriter, r *http.Request) (url.Values, grants.Client, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return nil, grants.Client{}, oautherror.New(oautherror.InvalidRequest, "use POST").WithStatus(http.StatusMethodNotAllowed)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, grants.Client{}, oautherror.New(oautherror.InvalidRequest, "the body must be application/x-www-form-urlencoded").WithStatus(http.StatusUnsupportedMediaType)
	}
	if r.ContentLength > maxFormBytes {
		return nil, grants.Client{}, oautherror.New(oautherror.InvalidRequest, "the request body is too large").WithStatus(http.StatusRequestEntityTooLarge)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, grants.Client{}, oautherror.New(oautherror.InvalidRequest, "the request body is too large").WithStatus(http.StatusRequestEntityTooLarge)
		}
		return nil, grants.Client{}, oautherror.New(oautherror.InvalidRequest, "the body is not a valid form")
	}
	form := r.PostForm
	if e := singleValued(form); e != nil {
		return nil, grants.Client{}, e
	}
	clientID, secret, basic, e := clientCredentials(r.Header.Values("Authorization"), form)
	if e != nil {
		return nil, grants.Client{}, e
	}
	addr := users.ClientAddress(r)
	addrKey := ratelimit.AddressKey(addr)
	// knownKey pairs the client id with the address: an address that
	// authenticated as this client lately is not held back by failures
	// others cause with its client id.
	knownKey := clientID + "\x00" + addrKey
	limits, now := s.app.Limits(), s.now()
	if limits.ClientFailures.Blocked(addrKey, now) || (limits.ClientFailuresByID.Blocked(clientID, now) && !limits.KnownClients.Known(knownKey)) {
		w.Header().Set("Retry-After", "1")
		return nil, grants.Client{}, oautherror.New(oautherror.InvalidClient, "too many failed client authentications; slow down").WithStatus(http.StatusTooManyRequests)
	}
	link, err := s.authenticate(r.Context(), clientID, secret)
	if errors.Is(err, links.ErrBadClient) {
		limits.ClientFailures.Allow(addrKey, now)
		limits.ClientFailuresByID.Allow(clientID, now)
		s.app.Audit().Info("client authentication failed", zap.String("client_id", clientID), zap.String("remote_ip", addr))
		msg := authFailure(secret)
		if errors.Is(err, links.ErrBadDocument) {
			msg = "the client ID metadata document named by client_id was refused: " + links.DocumentProblem(err)
		}
		return nil, grants.Client{}, clientFailed(basic, msg)
	}
	if err != nil {
		return nil, grants.Client{}, err
	}
	limits.KnownClients.Remember(knownKey, now)
	return form, client(link), nil
}

// clientCredentials runs the client_credentials grant. Where no link may
// use it, the server does not offer it (its metadata does not list it), so
// the answer is unsupported_grant_type, as for grants it never implements;
// where some link may, another link is refused with unauthorized_client
// (RFC 6749 §5.2).
func (s *Server) clientCredentials(r *http.Request, c grants.Client, scope string) (grants.Tokens, error) {
	if c.ServiceUser == "" {
		kinds, err := s.app.Links().Kinds(r.Context())
		if err != nil {
			return grants.Tokens{}, err
		}
		if !kinds.ClientCredentials {
			return grants.Tokens{}, oautherror.New(oautherror.UnsupportedGrantType, "grant_type must be authorization_code or refresh_token: no application link of this gateway acts as a service user")
		}
	}
	return s.app.Grants().ClientCredentials(r.Context(), c, scope)
}

// clientFailed is the invalid_client answer, with the Basic challenge when
// the client used Basic (RFC 6749 §5.2).
func clientFailed(basic bool, msg string) *oautherror.Error {
	e := oautherror.New(oautherror.InvalidClient, msg).WithStatus(http.StatusUnauthorized)
	if basic {
		e.Challenge = basicChallenge
	}
	return e
}

// answer writes an OAuth error as RFC 6749 JSON, and a conflict or a store
// that cannot be reached as temporarily_unavailable (503, Retry-After);
// any other error goes to Caddy's error handling as a 500 (its text stays
// in the log).
func (s *Server) answer(w http.ResponseWriter, err error) error {
	var oe *oautherror.Error
	if errors.As(err, &oe) {
		oautherror.Write(w, oe)
		return nil
	}
	if errors.Is(err, store.ErrConflict) {
		oautherror.Write(w, oautherror.New(oautherror.TemporarilyUnavailable, "the request conflicted with another; retry").WithStatus(http.StatusServiceUnavailable))
		return nil
	}
	if unavailable.Is(err) {
		w.Header().Set("Retry-After", unavailable.RetryAfter)
		oautherror.Write(w, oautherror.New(oautherror.TemporarilyUnavailable, "the authorization server cannot reach its storage; retry later").WithStatus(http.StatusServiceUnavailable))
		return nil
	}
	return caddyhttp.Error(http.StatusInternalServerError, err)
}
