// Package inject is the outgoing_token handler: it puts the provider access
// token of an outgoing link on the request before it is proxied, refreshing
// the token first when it is about to expire.
package inject

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/guard"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Handler sets `Authorization: Bearer <provider access token>` of an
// outgoing link, replacing whatever the client sent. For a per_user link
// the user is the one require_token let through, else the person signed in
// to the gateway; a shared link has one token for everyone.
//
// Without a usable token, API clients get 401
// {"error":"authorization_required","authorize_url":…} and browsers are
// sent to connect; a provider that cannot be reached gives 502.
type Handler struct {
	// Link is the name of the outgoing link.
	Link string `json:"link"`

	app *applinks.App
}

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.outgoing_token",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision checks that the link exists, declared or created at runtime.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := ctx.App("applinks")
	if err != nil {
		return err
	}
	h.app = app.(*applinks.App)
	if _, err := h.app.Outgoing().Link(ctx, h.Link); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("outgoing_token: no outgoing link named %q", h.Link)
	} else if err != nil {
		return fmt.Errorf("outgoing_token: %w", err)
	}
	return nil
}

// ServeHTTP injects the token or answers why it cannot.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	l, err := h.app.Outgoing().Link(r.Context(), h.Link)
	if err != nil {
		// Deleted at runtime since provisioning, or its provider cannot load.
		return caddyhttp.Error(http.StatusServiceUnavailable, fmt.Errorf("outgoing link %q: %w", h.Link, err))
	}
	var userID string
	if l.Mode == outgoing.ModePerUser {
		if id := guard.IdentityOf(r); id != nil {
			userID = id.UserID
		} else if sess, ok, err := h.app.Sessions().Current(r); err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		} else if ok {
			userID = sess.User.Name
		} else {
			return h.authorizationRequired(w, r, l, "sign in to the gateway and connect your account first")
		}
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

// authorizationRequired sends browsers to connect and answers API clients
// 401 with the URL to connect at.
func (h *Handler) authorizationRequired(w http.ResponseWriter, r *http.Request, l *outgoing.Link, why string) error {
	connect := h.app.IssuerFor(r) + outgoing.ConnectPrefix + l.Name + "?return_to=" + url.QueryEscape(r.URL.RequestURI())
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, connect, http.StatusSeeOther)
		return nil
	}
	oautherror.Write(w, &oautherror.Error{Code: "authorization_required", Description: why, Status: http.StatusUnauthorized, Extra: map[string]string{"authorize_url": connect}})
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
