package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
	"github.com/applinks/caddy-applinks/module/web"
)

// AccountPath is the signed-in user's page of authorized applications and
// outgoing connections.
const AccountPath = "/applinks/account"

type accountPage struct {
	CSRF        string
	Grants      []accountGrant
	Connections []accountConnection
	Notice      users.Flash
}

type accountGrant struct {
	ID, Link, Scope string
	Authorized      time.Time
}

type accountConnection struct {
	Link, Status, ConnectURL string
	Connected                bool
}

// serveAccount shows (GET) the user's authorized applications and outgoing
// connections, and revokes one, disconnects one or signs the user out
// everywhere (POST, with the form's anti-CSRF token).
func (h *Handler) serveAccount(w http.ResponseWriter, r *http.Request) error {
	sess, ok, err := h.app.Sessions().Current(r)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if !ok {
		http.Redirect(w, r, users.LoginURL(AccountPath), http.StatusSeeOther)
		return nil
	}
	user := sess.User.Name
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil || !h.app.Sessions().CheckCSRF(r, sess) {
			h.app.Pages().Error(w, http.StatusForbidden, "Request refused", "The form expired or did not come from this site. Please try again.")
			return nil
		}
		if r.PostFormValue("action") == "signout-everywhere" {
			return h.signOutEverywhere(w, r, user)
		}
		notice, err := h.accountAction(r, user)
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		if notice == "" {
			h.app.Pages().Error(w, http.StatusNotFound, "Not found", "That application or connection is not yours, or is already gone.")
			return nil
		}
		h.app.Sessions().SetFlash(w, r, sess, users.Flash{Text: notice})
		http.Redirect(w, r, AccountPath, http.StatusSeeOther)
		return nil
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		return caddyhttp.Error(http.StatusMethodNotAllowed, errors.New("method not allowed"))
	}
	page := accountPage{CSRF: h.app.Sessions().CSRFToken(sess), Notice: h.app.Sessions().TakeFlash(w, r, sess)}
	gs, err := h.app.Grants().List(r.Context(), store.GrantFilter{UserID: user})
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	for _, g := range gs {
		name := "(deleted application)"
		if l, err := h.app.Links().Get(r.Context(), g.LinkID); err == nil {
			name = l.Name
		}
		page.Grants = append(page.Grants, accountGrant{ID: g.ID, Link: name, Scope: scopeLabel(g.Scope), Authorized: g.CreatedAt})
	}
	names, err := h.app.Outgoing().Names(r.Context())
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	for _, n := range names {
		l, err := h.app.Outgoing().Link(r.Context(), n)
		if err != nil || l.Mode != outgoing.ModePerUser {
			continue
		}
		status, err := h.app.Outgoing().Status(r.Context(), l, user)
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		c := accountConnection{Link: l.Name, Status: outgoing.StatusLabel(status), Connected: status != "", ConnectURL: outgoing.ConnectPrefix + l.Name + "?return_to=" + url.QueryEscape(AccountPath)}
		page.Connections = append(page.Connections, c)
	}
	h.app.Pages().Render(w, http.StatusOK, "account.html", web.Page{Title: "Your applications", User: user, Admin: sess.User.Role.Includes(scope.SystemAdmin), Data: page})
	return nil
}

// signOutEverywhere ends every session of the user, this one included.
func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request, user string) error {
	if _, err := h.app.SignOutUser(r.Context(), user, user); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if err := h.app.Sessions().End(w, r); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h.app.Pages().Render(w, http.StatusOK, "signedout.html", web.Page{Title: "Signed out", Data: "You have signed out of the gateway in every browser."})
	return nil
}

// accountAction revokes one of the user's grants or disconnects one of
// their outgoing connections; it returns "" when the target is not theirs.
func (h *Handler) accountAction(r *http.Request, user string) (string, error) {
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "revoke":
		g, err := h.app.Grants().Get(ctx, r.PostFormValue("grant"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && g.UserID != user) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if err := h.app.Grants().RevokeGrant(ctx, g.ID, user); err != nil {
			return "", err
		}
		return "Access revoked.", nil
	case "disconnect":
		name := r.PostFormValue("link")
		if _, err := h.app.Outgoing().Disconnect(ctx, name, user, user); errors.Is(err, store.ErrNotFound) {
			return "", nil
		} else if err != nil {
			return "", err
		}
		return name + " disconnected.", nil
	}
	return "", nil
}

// scopeLabel is a stored grant's scope (its highest permission first, then
// OpenID scopes) as people read it.
func scopeLabel(granted string) string {
	highest, other := scope.ParseList(granted)
	return strings.Join(append([]string{highest.Label()}, other...), ", ")
}
