package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/store"
)

// grantView is a grant as the API shows it, with its link's name.
type grantView struct {
	ID         string   `json:"id"`
	User       string   `json:"user_id"`
	LinkID     string   `json:"link_id"`
	Link       string   `json:"link"`
	ClientID   string   `json:"client_id"`
	Scope      string   `json:"scope"`
	OIDCScopes []string `json:"oidc_scopes,omitempty"`
	// Resource is the RFC 8707 resource the grant's tokens are bound to.
	Resource  string    `json:"resource,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// grantViewOf shows g with the name of its link ("" when the link is
// gone).
func grantViewOf(r *http.Request, app *applinks.App, g store.Grant) grantView {
	v := grantView{ID: g.ID, User: g.UserID, LinkID: g.LinkID, ClientID: g.ClientID, Scope: g.Scope, OIDCScopes: g.OIDCScopes, Resource: g.Resource, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt, ExpiresAt: g.ExpiresAt}
	if l, err := app.Links().Get(r.Context(), g.LinkID); err == nil {
		v.Link = l.Name
	}
	return v
}

// serveGrants lists grants, filtered by ?user= and ?link= (a link's id or
// name).
func (a *API) serveGrants(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	filter := store.GrantFilter{UserID: r.URL.Query().Get("user")}
	if ref := r.URL.Query().Get("link"); ref != "" {
		l, err := findLink(r, app, ref)
		if err != nil {
			return err
		}
		filter.LinkID = l.ID
	}
	gs, err := app.Grants().List(r.Context(), filter)
	if err != nil {
		return internal(err)
	}
	out := make([]grantView, len(gs))
	for i, g := range gs {
		out[i] = grantViewOf(r, app, g)
	}
	return writeJSON(w, http.StatusOK, out)
}

// serveGrant shows (GET) or revokes (DELETE) /applinks/grants/<id>; a
// grant that does not exist is not found, not silently revoked.
func (a *API) serveGrant(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	id, action, err := pathRef(r, "/applinks/grants/")
	if err != nil {
		return err
	}
	if action != "" {
		return notFound("route", r.Method+" "+r.URL.Path)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodDelete {
		return methodNotAllowed(w, "GET, DELETE")
	}
	g, err := app.Grants().Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("grant", id)
	}
	if err != nil {
		return internal(err)
	}
	if r.Method == http.MethodGet {
		return writeJSON(w, http.StatusOK, grantViewOf(r, app, g))
	}
	if err := app.Grants().RevokeGrant(r.Context(), g.ID, actor); err != nil {
		return internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
