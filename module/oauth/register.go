package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oautherror"
)

// RFC 7591 §3.2.2 error codes.
const (
	invalidRedirectURI    = "invalid_redirect_uri"
	invalidClientMetadata = "invalid_client_metadata"
)

// registrationRequest is the client metadata of RFC 7591 §2 that the
// gateway reads; other fields are ignored, as §3.1 allows.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	Scope                   string   `json:"scope"`
}

// registrationResponse is the RFC 7591 §3.2.1 answer.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
}

// ServeRegister handles dynamic client registration (RFC 7591): off
// (404) unless configured, open or behind an initial access token. A
// registered client is an incoming link marked as registered, held to
// the policy's ceiling until an administrator raises it.
func (s *Server) ServeRegister(w http.ResponseWriter, r *http.Request) error {
	policy, on := s.app.Registration()
	if !on {
		http.NotFound(w, r)
		return nil
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return s.answer(w, oautherror.New(oautherror.InvalidRequest, "use POST").WithStatus(http.StatusMethodNotAllowed))
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !s.app.RegistrationAllowed(tok) {
		e := oautherror.New("invalid_token", "registration needs this gateway's initial access token as a Bearer token").WithStatus(http.StatusUnauthorized)
		e.Challenge = `Bearer realm="applinks", error="invalid_token"`
		return s.answer(w, e)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return s.answer(w, oautherror.New(invalidClientMetadata, "the body must be application/json").WithStatus(http.StatusUnsupportedMediaType))
	}
	var in registrationRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err := dec.Decode(&in); err != nil {
		return s.answer(w, oautherror.New(invalidClientMetadata, "the body is not a JSON object of client metadata"))
	}
	public, e := checkRegistration(in)
	if e != nil {
		return s.answer(w, e)
	}
	l, sec, err := s.app.Links().Register(r.Context(), policy, links.Registrant{ClientName: in.ClientName, RedirectURIs: in.RedirectURIs, Public: public})
	switch {
	case errors.Is(err, links.ErrBadRedirect):
		return s.answer(w, oautherror.New(invalidRedirectURI, strings.TrimPrefix(err.Error(), links.ErrBadRedirect.Error()+": ")))
	case errors.Is(err, links.ErrBadMetadata):
		return s.answer(w, oautherror.New(invalidClientMetadata, strings.TrimPrefix(err.Error(), links.ErrBadMetadata.Error()+": ")))
	case errors.Is(err, links.ErrTooManyRegistered):
		return s.answer(w, oautherror.New(invalidClientMetadata, "this gateway accepts no more registered clients; ask its administrator").WithStatus(http.StatusForbidden))
	case err != nil:
		return s.answer(w, err)
	}
	method := "client_secret_basic"
	if public {
		method = "none"
	}
	out := registrationResponse{
		ClientID: l.ClientID, ClientSecret: sec, ClientIDIssuedAt: l.CreatedAt.Unix(), ClientName: l.Name,
		RedirectURIs: l.RedirectURIs, TokenEndpointAuthMethod: method,
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, Scope: l.Ceiling.String(),
	}
	if method == "client_secret_basic" && in.TokenEndpointAuthMethod == "client_secret_post" {
		out.TokenEndpointAuthMethod = "client_secret_post"
	}
	if sec != "" {
		never := int64(0)
		out.ClientSecretExpiresAt = &never
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// checkRegistration checks the metadata the gateway cannot honour and
// tells whether the client is public.
func checkRegistration(in registrationRequest) (public bool, e *oautherror.Error) {
	switch in.TokenEndpointAuthMethod {
	case "none":
		public = true
	case "", "client_secret_basic", "client_secret_post":
	default:
		return false, oautherror.New(invalidClientMetadata, fmt.Sprintf("token_endpoint_auth_method %q is not supported: use none, client_secret_basic or client_secret_post", in.TokenEndpointAuthMethod))
	}
	for _, g := range in.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return false, oautherror.New(invalidClientMetadata, fmt.Sprintf("grant type %q cannot be registered: registered clients use authorization_code and refresh_token", g))
		}
	}
	for _, rt := range in.ResponseTypes {
		if rt != "code" {
			return false, oautherror.New(invalidClientMetadata, fmt.Sprintf("response type %q is not supported: use code", rt))
		}
	}
	if len(in.RedirectURIs) == 0 {
		return false, oautherror.New(invalidRedirectURI, "redirect_uris is required")
	}
	if len(in.RedirectURIs) > 10 || slices.ContainsFunc(in.RedirectURIs, func(u string) bool { return len(u) > 2000 }) {
		return false, oautherror.New(invalidRedirectURI, "at most 10 redirect URIs of at most 2000 characters each")
	}
	return public, nil
}

// redirectHost is the host of a redirect URI, or its scheme for a
// private-use one, as the consent page names where the answer goes.
func redirectHost(raw string) string {
	o := origin(raw)
	if i := strings.Index(o, "://"); i >= 0 {
		return o[i+3:]
	}
	return o
}
