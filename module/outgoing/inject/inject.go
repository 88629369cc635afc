// Package inject is the outgoing_token handler: it puts the provider access
// token of an outgoing link on the request before it is proxied, refreshing
// the token first when it is about to expire.
package inject

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/guard"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/users"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Handler sets `Authorization: Bearer <provider access token>` of an
// outgoing link, replacing whatever the client sent; for an OAuth 1.0a
// link it signs the request instead (`Authorization: OAuth …`, RSA-SHA1,
// for the link's application URL with the request's path and query, a
// form body included), and a 401 of the remote product refusing the
// token asks the user to connect again. For a per_user link
// the user is the one require_token let through, else the person signed in
// to the gateway; a shared link has one token for everyone, lent only to
// requests with such a user unless AllowAnonymous is set.
//
// No credential of the gateway goes on to the provider's API: its cookies
// and its own token are taken off the request (users.StripCredentials);
// other cookies pass unchanged. A state-changing request that relies on
// the session cookie and comes from another site is refused (403).
//
// Without a usable token, API clients get 401
// {"error":"authorization_required","authorize_url":…} and browsers are
// sent to connect; a request without a user gets 401 (browsers are sent
// to sign in); a provider that cannot be reached gives 502.
type Handler struct {
	// Link is the name of the outgoing link.
	Link string `json:"link"`
	// AllowAnonymous lends a shared link's token also to requests that
	// neither a require_token before this handler let through nor a
	// signed-in person sent, i.e. to anyone who can reach the route.
	// Per-user links always need a user. Default: false.
	AllowAnonymous bool `json:"allow_anonymous,omitempty"`

	app *applinks.App
}

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.outgoing_token",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision connects the handler to the applinks app, which checks when
// it starts that the link exists, declared or created at runtime (the
// store is not open while provisioning).
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.Link == "" {
		return errors.New("outgoing_token: the name of an outgoing link is required")
	}
	app, err := ctx.App("applinks")
	if err != nil {
		return err
	}
	h.app = app.(*applinks.App)
	h.app.RequireOutgoingLink(h.Link)
	return nil
}

// ServeHTTP injects the token or answers why it cannot.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	r = users.StripCredentials(r)
	l, err := h.app.Outgoing().Link(r.Context(), h.Link)
	if err != nil {
		// Deleted at runtime since provisioning, or its provider cannot load.
		return caddyhttp.Error(http.StatusServiceUnavailable, fmt.Errorf("outgoing link %q: %w", h.Link, err))
	}
	var userID string
	if l.Mode == outgoing.ModePerUser || !h.AllowAnonymous {
		user, ok, err := h.user(r)
		if errors.Is(err, errCrossSite) {
			oautherror.Write(w, &oautherror.Error{Code: oautherror.AccessDenied, Description: "a cross-site request cannot act with the gateway session; send a gateway access token", Status: http.StatusForbidden})
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case !ok && l.Mode == outgoing.ModePerUser:
			return h.authorizationRequired(w, r, l, "sign in to the gateway and connect your account first")
		case !ok:
			return h.signInRequired(w, r, l)
		}
		if l.Mode == outgoing.ModePerUser {
			userID = user
		}
	}
	if l.OAuth1 != nil {
		return h.serveSigned(w, r, next, l, userID)
	}
	tok, err := h.app.Outgoing().Token(r.Context(), l, userID)
	switch {
	case errors.Is(err, outgoing.ErrNotConnected):
		return h.authorizationRequired(w, r, l, "no usable "+l.Name+" token: connect (again) at the provider")
	case errors.Is(err, outgoing.ErrProviderUnavailable):
		oautherror.Write(w, &oautherror.Error{Code: "provider_unavailable", Description: "the " + l.Name + " provider cannot be reached to refresh the token; try again later", Status: http.StatusBadGateway})
		return nil
	case err != nil:
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return next.ServeHTTP(w, r)
}

// serveSigned signs the request for an OAuth 1.0a link with the access
// token of userID's connection and passes it on. When the remote product
// answers that it refused the token (401 with oauth_problem
// token_rejected, token_expired or token_revoked), the connection becomes
// UNRECOVERABLE and the answer is the one of a missing connection: the
// user is asked to connect again.
func (h *Handler) serveSigned(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, l *outgoing.Link, userID string) error {
	host := r.Host // the gateway's; Sign sets the product's
	signed, err := h.app.Outgoing().Sign(r.Context(), l, userID, r)
	switch {
	case errors.Is(err, outgoing.ErrNotConnected):
		return h.authorizationRequired(w, r, l, "no usable "+l.Name+" token: connect (again) at the provider")
	case errors.Is(err, oauth1.ErrFormTooLarge):
		return caddyhttp.Error(http.StatusRequestEntityTooLarge, fmt.Errorf("signing for outgoing link %q: %w", l.Name, err))
	case errors.Is(err, oauth1.ErrProtocolParameter):
		oautherror.Write(w, &oautherror.Error{Code: oautherror.InvalidRequest, Description: "the request carries OAuth 1.0 protocol parameters (oauth_…) in its query or form; the gateway signs it for " + l.Name, Status: http.StatusBadRequest})
		return nil
	case err != nil:
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	var held bytes.Buffer
	rec := caddyhttp.NewResponseRecorder(w, &held, func(status int, header http.Header) bool {
		return status == http.StatusUnauthorized && outgoing.TokenRefused(oauth1.ChallengeProblem(header))
	})
	if err := next.ServeHTTP(rec, r); err != nil {
		return err
	}
	if !rec.Buffered() {
		return nil
	}
	problem := oauth1.ChallengeProblem(rec.Header())
	if err := h.app.Outgoing().Rejected(r.Context(), signed, problem); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	clear(w.Header())
	r.Host = host
	return h.authorizationRequired(w, r, l, l.Name+" refused the access token (oauth_problem="+problem+"): connect again")
}

// errCrossSite is a state-changing request from another site that only
// the session cookie would authenticate.
var errCrossSite = errors.New("cross-site request with the session cookie")

// user returns who the request acts for: the user a require_token before
// this handler let through, else the person signed in. A state-changing
// request from another site cannot use the session (403).
func (h *Handler) user(r *http.Request) (string, bool, error) {
	if id := guard.IdentityOf(r); id != nil {
		return id.UserID, true, nil
	}
	sess, ok, err := h.app.Sessions().Current(r)
	if err != nil {
		return "", false, caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if !ok {
		return "", false, nil
	}
	if err := h.app.Sessions().CheckOrigin(r); err != nil {
		return "", false, errCrossSite
	}
	return sess.User.Name, true, nil
}

// signInRequired answers a request without a user on a shared link:
// browsers are sent to sign in, API clients get 401.
func (h *Handler) signInRequired(w http.ResponseWriter, r *http.Request, l *outgoing.Link) error {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, users.LoginURL(askedURI(r)), http.StatusSeeOther)
		return nil
	}
	oautherror.Write(w, &oautherror.Error{
		Code:        oautherror.Unauthorized,
		Description: "the " + l.Name + " link needs a signed-in user or a gateway access token (require_token before outgoing_token)",
		Status:      http.StatusUnauthorized,
		Challenge:   oautherror.BearerChallenge("applinks", "", "", ""),
	})
	return nil
}

// authorizationRequired sends browsers to connect and answers API clients
// 401 with the URL to connect at, which returns to the URL the client
// asked for.
func (h *Handler) authorizationRequired(w http.ResponseWriter, r *http.Request, l *outgoing.Link, why string) error {
	connect := h.app.IssuerFor(r) + outgoing.ConnectPrefix + l.Name + "?return_to=" + url.QueryEscape(askedURI(r))
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, connect, http.StatusSeeOther)
		return nil
	}
	oautherror.Write(w, &oautherror.Error{Code: "authorization_required", Description: why, Status: http.StatusUnauthorized, Extra: map[string]string{"authorize_url": connect}})
	return nil
}

// askedURI is the path and query the client asked for, before the route
// rewrote them (uri, handle_path): where to come back to after signing in
// or connecting.
func askedURI(r *http.Request) string {
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		return orig.URL.RequestURI()
	}
	return r.URL.RequestURI()
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
