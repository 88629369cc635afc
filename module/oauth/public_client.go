package oauth

import (
	"context"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oautherror"
)

// authenticate identifies the client of a token, revocation or
// introspection request. Without a secret it must be a public link
// (token_endpoint_auth_method none); with one, a confidential link whose
// secret matches. A secret sent for a public client is refused rather
// than ignored (RFC 6749 §2.3 leaves this to the server): the client
// believes it holds a credential the server never issued, so it is
// misconfigured, or it is not the client it claims to be.
func (s *Server) authenticate(ctx context.Context, clientID, secret string) (links.Link, error) {
	var (
		l   links.Link
		err error
	)
	if secret == "" {
		l, err = s.app.Links().AuthenticatePublic(ctx, clientID)
	} else {
		l, err = s.app.Links().Authenticate(ctx, clientID, secret)
	}
	if err != nil {
		return links.Link{}, err
	}
	if l.Disabled {
		return links.Link{}, links.ErrBadClient
	}
	// A registered client in use is kept (one write a day at most).
	if err := s.app.Links().MarkUsed(ctx, l); err != nil {
		s.app.Logger().Warn("recording the use of a registered client", zap.String("client_id", l.ClientID), zap.Error(err))
	}
	return l, nil
}

// authFailure is the error_description of a failed client
// authentication.
func authFailure(secret string) string {
	if secret == "" {
		return "client authentication is required: this client_id is unknown or not a public client, so send its client secret (client_secret_basic or client_secret_post)"
	}
	return "unknown client or wrong client secret (a public client sends no secret)"
}

// confidentialRequest is clientRequest for an endpoint that public clients
// may not use: introspection (RFC 7662 §2.1 requires the caller to be
// authorized, which a public client cannot be).
func (s *Server) confidentialRequest(w http.ResponseWriter, r *http.Request) (url.Values, grants.Client, error) {
	form, c, err := s.clientRequest(w, r)
	if err != nil {
		return nil, grants.Client{}, err
	}
	if c.Public {
		return nil, grants.Client{}, oautherror.New(oautherror.InvalidClient, "a public client cannot introspect tokens: it has no secret to authenticate with").WithStatus(http.StatusUnauthorized)
	}
	return form, c, nil
}
