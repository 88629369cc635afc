package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/guard"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/store"
)

// Paths of the OpenID Connect provider.
const (
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
	JWKSPath                = "/rest/oauth2/latest/jwks"
	UserInfoPath            = "/rest/oauth2/latest/userinfo"
)

// idClaims are the claims of an ID token (OpenID Connect Core §2).
type idClaims struct {
	Issuer            string `json:"iss"`
	Subject           string `json:"sub"`
	Audience          string `json:"aud"`
	AuthorizedParty   string `json:"azp"`
	Expiry            int64  `json:"exp"`
	IssuedAt          int64  `json:"iat"`
	AuthTime          int64  `json:"auth_time,omitempty"`
	Nonce             string `json:"nonce,omitempty"`
	AccessTokenHash   string `json:"at_hash"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Name              string `json:"name,omitempty"`
}

// idToken signs the ID token of a token response for a grant with the
// openid scope. Its sub is the user's stable subject, not their name,
// which a later user may take (OpenID Connect Core §2: never reassigned).
func (s *Server) idToken(r *http.Request, t grants.Tokens) (string, error) {
	sub, err := s.app.Users().Subject(r.Context(), t.UserID, s.now())
	if err != nil {
		return "", fmt.Errorf("finding the subject of the ID token: %w", err)
	}
	sum := sha256.Sum256([]byte(t.AccessToken))
	c := idClaims{
		Issuer:          s.app.IssuerFor(r),
		Subject:         sub,
		Audience:        t.ClientID,
		AuthorizedParty: t.ClientID,
		IssuedAt:        t.IssuedAt.Unix(),
		Expiry:          t.IssuedAt.Add(time.Duration(t.ExpiresIn) * time.Second).Unix(),
		Nonce:           t.Nonce,
		AccessTokenHash: base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	}
	if !t.AuthTime.IsZero() {
		c.AuthTime = t.AuthTime.Unix()
	}
	if slices.Contains(t.OIDCScopes, "profile") {
		c.PreferredUsername, c.Name = t.UserID, t.UserID
	}
	keyring, err := s.app.Keyring()
	if err != nil {
		return "", err
	}
	return keyring.Sign(c)
}

// providerMetadata is the OpenID Connect Discovery document.
type providerMetadata struct {
	ServerMetadata
	UserinfoEndpoint                 string   `json:"userinfo_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// ServeOpenIDConfiguration answers /.well-known/openid-configuration.
func (s *Server) ServeOpenIDConfiguration(w http.ResponseWriter, r *http.Request) error {
	issuer := s.app.IssuerFor(r)
	f, err := s.features(r.Context())
	if err != nil {
		return s.answer(w, err)
	}
	md := providerMetadata{
		ServerMetadata:                   Metadata(issuer, f),
		UserinfoEndpoint:                 issuer + UserInfoPath,
		JWKSURI:                          issuer + JWKSPath,
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{s.app.IDTokenAlgorithm},
		ClaimsSupported:                  []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "preferred_username", "name"},
	}
	md.ScopesSupported = append(slices.Clone(oidcScopes), md.ScopesSupported...)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, md)
	return nil
}

// ServeJWKS publishes the public signing keys.
func (s *Server) ServeJWKS(w http.ResponseWriter, _ *http.Request) error {
	keyring, err := s.app.Keyring()
	if err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Type", "application/json")
	// Short, so that clients see a rotated key soon.
	h.Set("Cache-Control", "public, max-age=60")
	return json.NewEncoder(w).Encode(keyring.JWKS())
}

// userInfo is the UserInfo response (OpenID Connect Core §5.3).
type userInfo struct {
	Subject           string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Name              string `json:"name,omitempty"`
}

// ServeUserInfo answers the UserInfo endpoint for access tokens of grants
// with the openid scope.
func (s *Server) ServeUserInfo(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return s.answer(w, oautherror.New(oautherror.InvalidRequest, "use GET or POST").WithStatus(http.StatusMethodNotAllowed))
	}
	realm := `Bearer realm="applinks"`
	tok, present, err := guard.BearerToken(r)
	if !present {
		return s.answer(w, &oautherror.Error{Code: oautherror.Unauthorized, Description: "a bearer token is required", Status: http.StatusUnauthorized, Challenge: realm})
	}
	if err != nil {
		return s.answer(w, &oautherror.Error{Code: oautherror.InvalidToken, Description: err.Error(), Status: http.StatusUnauthorized, Challenge: oautherror.BearerChallenge("applinks", oautherror.InvalidToken, err.Error(), "")})
	}
	a, err := s.app.Tokens().Validate(r.Context(), tok)
	if errors.Is(err, grants.ErrInvalidToken) {
		desc := "the access token is invalid, expired or revoked"
		return s.answer(w, &oautherror.Error{Code: oautherror.InvalidToken, Description: desc, Status: http.StatusUnauthorized, Challenge: oautherror.BearerChallenge("applinks", oautherror.InvalidToken, desc, "")})
	}
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if !slices.Contains(a.OIDCScopes, "openid") {
		desc := "the access token was not granted the openid scope"
		return s.answer(w, &oautherror.Error{Code: oautherror.InsufficientScope, Description: desc, Status: http.StatusForbidden, Challenge: oautherror.BearerChallenge("applinks", oautherror.InsufficientScope, desc, "openid")})
	}
	sub, err := s.app.Users().Subject(r.Context(), a.UserID, s.now())
	if errors.Is(err, store.ErrNotFound) {
		desc := "the access token is invalid, expired or revoked"
		return s.answer(w, &oautherror.Error{Code: oautherror.InvalidToken, Description: desc, Status: http.StatusUnauthorized, Challenge: oautherror.BearerChallenge("applinks", oautherror.InvalidToken, desc, "")})
	}
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	info := userInfo{Subject: sub}
	if slices.Contains(a.OIDCScopes, "profile") {
		info.PreferredUsername, info.Name = a.UserID, a.UserID
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}
