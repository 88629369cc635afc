// Package admin is the applinks admin JSON API on Caddy's admin endpoint
// (an admin.api module): incoming links (create, show, edit, credentials,
// rotate secret, delete), outgoing links (create, list, edit, delete),
// grants (list, revoke) and users (list, create or update, delete, sign
// out everywhere).
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

func init() {
	caddy.RegisterModule(new(API))
}

// API serves /applinks/… on Caddy's admin endpoint. It acts as the
// administrator "admin-api" in the audit log.
type API struct{}

// CaddyModule returns the Caddy module information.
func (*API) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.applinks",
		New: func() caddy.Module { return new(API) },
	}
}

// Routes returns the API's routes.
func (a *API) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/applinks/links", Handler: caddy.AdminHandlerFunc(a.serveLinks)},
		{Pattern: "/applinks/links/", Handler: caddy.AdminHandlerFunc(a.serveLink)},
		{Pattern: "/applinks/outgoing", Handler: caddy.AdminHandlerFunc(a.serveOutgoingLinks)},
		{Pattern: "/applinks/outgoing/", Handler: caddy.AdminHandlerFunc(a.serveOutgoingLink)},
		{Pattern: "/applinks/grants", Handler: caddy.AdminHandlerFunc(a.serveGrants)},
		{Pattern: "/applinks/grants/", Handler: caddy.AdminHandlerFunc(a.serveGrant)},
		{Pattern: "/applinks/users", Handler: caddy.AdminHandlerFunc(a.serveUsers)},
		{Pattern: "/applinks/users/", Handler: caddy.AdminHandlerFunc(a.serveUser)},
	}
}

// actor names the API in the audit log.
const actor = "admin-api"

// linkView is an incoming link as the API shows it: never a secret.
type linkView struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Direction    string    `json:"direction"`
	Source       string    `json:"source"`
	ClientID     string    `json:"client_id"`
	RedirectURIs []string  `json:"redirect_uris"`
	Scope        string    `json:"scope"`
	RequirePKCE  bool      `json:"require_pkce,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	CreatedBy    string    `json:"created_by,omitempty"`
	// ClientSecret is set only in the answer that creates or rotates it.
	ClientSecret string `json:"client_secret,omitempty"`
}

func view(l links.Link) linkView {
	return linkView{ID: l.ID, Name: l.Name, Direction: "incoming", Source: l.Source, ClientID: l.ClientID, RedirectURIs: l.RedirectURIs, Scope: l.Ceiling.String(), RequirePKCE: l.RequirePKCE, CreatedAt: l.CreatedAt, CreatedBy: l.CreatedBy}
}

// serveLinks lists (GET) or creates (POST) incoming links.
func (a *API) serveLinks(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		all, err := app.Links().List(r.Context())
		if err != nil {
			return internal(err)
		}
		out := make([]linkView, len(all))
		for i, l := range all {
			out[i] = view(l)
		}
		return writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var in struct {
			Name         string   `json:"name"`
			RedirectURIs []string `json:"redirect_uris"`
			Scope        string   `json:"scope"`
			RequirePKCE  bool     `json:"require_pkce"`
		}
		if err := readJSON(r, &in); err != nil {
			return err
		}
		ceiling, err := scope.Parse(in.Scope)
		if err != nil {
			return bad(err)
		}
		l, sec, err := app.Links().Create(r.Context(), links.NewLink{Name: in.Name, RedirectURIs: in.RedirectURIs, Ceiling: ceiling, RequirePKCE: in.RequirePKCE, CreatedBy: actor})
		if errors.Is(err, store.ErrAlreadyExists) {
			return caddy.APIError{HTTPStatus: http.StatusConflict, Err: fmt.Errorf("a link named %q exists", in.Name)}
		}
		if err != nil {
			return bad(err)
		}
		v := view(l)
		v.ClientSecret = sec
		return writeJSON(w, http.StatusCreated, v)
	}
	return methodNotAllowed(w, "GET, POST")
}

// serveLink shows (GET), edits (PATCH) or deletes (DELETE)
// /applinks/links/<id>, shows its credentials (GET …/credentials) and
// rotates its secret (POST …/rotate-secret).
func (a *API) serveLink(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	id, action, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/applinks/links/"), "/")
	l, err := app.Links().Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("link", id)
	}
	if err != nil {
		return internal(err)
	}
	switch {
	case action == "" && r.Method == http.MethodGet:
		return writeJSON(w, http.StatusOK, view(l))
	case action == "" && r.Method == http.MethodPatch:
		return a.patchLink(w, r, app, l)
	case action == "" && r.Method == http.MethodDelete:
		if err := app.Links().Delete(r.Context(), id, actor); errors.Is(err, links.ErrReadOnly) {
			return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
		} else if err != nil {
			return internal(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case action == "credentials" && r.Method == http.MethodGet:
		sec, err := app.Links().Secret(l)
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, map[string]string{"client_id": l.ClientID, "client_secret": sec})
	case action == "rotate-secret" && r.Method == http.MethodPost:
		var in struct {
			// Overlap is how long the previous secrets keep working; 0
			// revokes them at once. Absent: secret_overlap.
			Overlap *caddy.Duration `json:"overlap"`
		}
		if r.ContentLength != 0 {
			if err := readJSON(r, &in); err != nil {
				return err
			}
		}
		overlap := time.Duration(app.SecretOverlap)
		if in.Overlap != nil {
			overlap = time.Duration(*in.Overlap)
		}
		if overlap < 0 {
			return bad(errors.New("overlap must not be negative"))
		}
		sec, err := app.Links().RotateSecret(r.Context(), id, overlap, actor)
		if errors.Is(err, links.ErrReadOnly) {
			return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
		} else if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, map[string]string{"client_id": l.ClientID, "client_secret": sec})
	}
	return notFound("route", r.Method+" "+r.URL.Path)
}

// patchLink edits an incoming link: the fields sent replace the link's,
// those left out stay. Tokens already issued are held to a lowered scope
// from their next request on.
func (a *API) patchLink(w http.ResponseWriter, r *http.Request, app *applinks.App, l links.Link) error {
	var in struct {
		RedirectURIs []string `json:"redirect_uris"`
		Scope        string   `json:"scope"`
		RequirePKCE  *bool    `json:"require_pkce"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	if l.Source == links.SourceConfig {
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: links.ErrReadOnly}
	}
	edit := links.Edit{RedirectURIs: l.RedirectURIs, Ceiling: l.Ceiling, RequirePKCE: l.RequirePKCE}
	if in.RedirectURIs != nil {
		edit.RedirectURIs = in.RedirectURIs
	}
	if in.Scope != "" {
		ceiling, err := scope.Parse(in.Scope)
		if err != nil {
			return bad(err)
		}
		edit.Ceiling = ceiling
	}
	if in.RequirePKCE != nil {
		edit.RequirePKCE = *in.RequirePKCE
	}
	updated, err := app.Links().Update(r.Context(), l.ID, edit, actor)
	switch {
	case errors.Is(err, links.ErrReadOnly):
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	case errors.Is(err, store.ErrNotFound):
		return notFound("link", l.ID)
	case err != nil:
		return bad(err)
	}
	return writeJSON(w, http.StatusOK, view(updated))
}

// outgoingView is an outgoing link as the API shows it: never a secret.
type outgoingView struct {
	Name            string   `json:"name"`
	Direction       string   `json:"direction"`
	Mode            string   `json:"mode"`
	ClientID        string   `json:"client_id"`
	Scopes          []string `json:"scopes,omitempty"`
	RedirectURIPath string   `json:"redirect_uri_path"`
}

func outgoingViewOf(l *outgoing.Link) outgoingView {
	return outgoingView{Name: l.Name, Direction: "outgoing", Mode: l.Mode, ClientID: l.ClientID, Scopes: l.Scopes, RedirectURIPath: outgoing.CallbackPrefix + l.Name}
}

// serveOutgoingLinks lists (GET) or creates (POST) outgoing links.
func (a *API) serveOutgoingLinks(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		names, err := app.Outgoing().Names(r.Context())
		if err != nil {
			return internal(err)
		}
		out := []outgoingView{}
		for _, n := range names {
			l, err := app.Outgoing().Link(r.Context(), n)
			if err != nil {
				return internal(err)
			}
			out = append(out, outgoingViewOf(l))
		}
		return writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var in outgoing.ConfigLink
		if err := readJSON(r, &in); err != nil {
			return err
		}
		l, err := app.Outgoing().Create(r.Context(), outgoing.NewOutgoing{ConfigLink: in, CreatedBy: actor})
		if errors.Is(err, store.ErrAlreadyExists) {
			return caddy.APIError{HTTPStatus: http.StatusConflict, Err: fmt.Errorf("an outgoing link named %q exists", in.Name)}
		}
		if err != nil {
			return bad(err)
		}
		return writeJSON(w, http.StatusCreated, map[string]string{"name": l.Name, "mode": l.Mode, "redirect_uri_path": outgoing.CallbackPrefix + l.Name})
	}
	return methodNotAllowed(w, "GET, POST")
}

// serveOutgoingLink edits (PATCH) or deletes (DELETE)
// /applinks/outgoing/<name>, the latter with its connections.
func (a *API) serveOutgoingLink(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(r.URL.Path, "/applinks/outgoing/")
	switch r.Method {
	case http.MethodPatch:
		return a.patchOutgoingLink(w, r, app, name)
	case http.MethodDelete:
		return a.deleteOutgoingLink(w, r, app, name)
	}
	return methodNotAllowed(w, "PATCH, DELETE")
}

// deleteOutgoingLink deletes an outgoing link with its connections.
func (a *API) deleteOutgoingLink(w http.ResponseWriter, r *http.Request, app *applinks.App, name string) error {
	switch err := app.Outgoing().Delete(r.Context(), name, actor); {
	case errors.Is(err, store.ErrNotFound):
		return notFound("outgoing link", name)
	case errors.Is(err, outgoing.ErrReadOnly):
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	case err != nil:
		return internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchOutgoingLink edits an outgoing link's client credentials, scopes
// and mode: the fields sent replace the link's, those left out (and an
// empty client_secret) stay. Its provider and connections stay.
func (a *API) patchOutgoingLink(w http.ResponseWriter, r *http.Request, app *applinks.App, name string) error {
	var in struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		Scopes       []string `json:"scopes"`
		Mode         string   `json:"mode"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	cur, err := app.Outgoing().Link(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("outgoing link", name)
	}
	if err != nil {
		return internal(err)
	}
	edit := outgoing.EditOutgoing{ClientID: cur.ClientID, ClientSecret: in.ClientSecret, Scopes: cur.Scopes, Mode: cur.Mode}
	if in.ClientID != "" {
		edit.ClientID = in.ClientID
	}
	if in.Scopes != nil {
		edit.Scopes = in.Scopes
	}
	if in.Mode != "" {
		edit.Mode = in.Mode
	}
	l, err := app.Outgoing().Update(r.Context(), name, edit, actor)
	switch {
	case errors.Is(err, outgoing.ErrReadOnly):
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	case errors.Is(err, store.ErrNotFound):
		return notFound("outgoing link", name)
	case err != nil:
		return bad(err)
	}
	return writeJSON(w, http.StatusOK, outgoingViewOf(l))
}

// serveGrants lists grants, filtered by ?user= and ?link=.
func (a *API) serveGrants(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	gs, err := app.Store().ListGrants(r.Context(), store.GrantFilter{UserID: r.URL.Query().Get("user"), LinkID: r.URL.Query().Get("link")})
	if err != nil {
		return internal(err)
	}
	return writeJSON(w, http.StatusOK, gs)
}

// serveGrant revokes (DELETE) /applinks/grants/<id>.
func (a *API) serveGrant(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if r.Method != http.MethodDelete {
		return methodNotAllowed(w, "DELETE")
	}
	if err := app.Grants().RevokeGrant(r.Context(), strings.TrimPrefix(r.URL.Path, "/applinks/grants/"), actor); err != nil {
		return internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// serveUsers lists the users declared in the configuration and stored.
func (a *API) serveUsers(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	out, err := app.ListUsers(r.Context())
	if err != nil {
		return internal(err)
	}
	return writeJSON(w, http.StatusOK, out)
}

// serveUser creates or updates (PUT) or deletes (DELETE) a stored user,
// signs a user out everywhere (POST …/sign-out) or revokes their grants
// (POST …/revoke-grants). Role changes, disabling and deletion are felt on
// the next request of every token and session of the user; a new password,
// a role change and disabling end every session.
func (a *API) serveUser(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(r.URL.Path, "/applinks/users/")
	if name == "" {
		return notFound("user", name)
	}
	name, action, _ := strings.Cut(name, "/")
	switch {
	case action == "" && r.Method == http.MethodPut:
		var in struct {
			Password string `json:"password"`
			Role     string `json:"role"`
			Disabled bool   `json:"disabled"`
		}
		if err := readJSON(r, &in); err != nil {
			return err
		}
		role, err := scope.Parse(in.Role)
		if err != nil {
			return bad(err)
		}
		u, created, err := app.SaveUser(r.Context(), name, applinks.UserChange{Password: in.Password, Role: role, Disabled: in.Disabled}, actor)
		if err != nil {
			return userError(err)
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return writeJSON(w, status, applinks.UserEntry{Name: u.Name, Role: u.Role, Disabled: u.Disabled, Source: "runtime"})
	case action == "" && r.Method == http.MethodDelete:
		if err := app.DeleteUser(r.Context(), name, actor); err != nil {
			return userError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case action == "sign-out" && r.Method == http.MethodPost:
		n, err := app.SignOutUser(r.Context(), name, actor)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("user", name)
		}
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, map[string]int{"sessions_ended": n})
	case action == "revoke-grants" && r.Method == http.MethodPost:
		n, err := app.RevokeUserGrants(r.Context(), name, actor)
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	}
	if action != "" {
		return notFound("route", r.Method+" "+r.URL.Path)
	}
	return methodNotAllowed(w, "PUT, DELETE")
}

// userError maps an error of SaveUser or DeleteUser to an API error.
func userError(err error) error {
	switch {
	case errors.Is(err, applinks.ErrUserReadOnly):
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	case applinks.IsUserInputError(err):
		return bad(err)
	}
	return internal(err)
}

// theApp is the running applinks app.
func theApp() (*applinks.App, error) {
	a, err := caddy.ActiveContext().AppIfConfigured("applinks")
	if err != nil {
		return nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("the applinks app is not running in this configuration")}
	}
	return a.(*applinks.App), nil
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bad(fmt.Errorf("reading the JSON body: %w", err))
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func bad(err error) error { return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err} }

func internal(err error) error {
	return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
}

func notFound(what, id string) error {
	return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no %s %q", what, id)}
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed")}
}

// Interface guards
var _ caddy.AdminRouter = (*API)(nil)
