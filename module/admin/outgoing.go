package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
)

// outgoingView is an outgoing link as the API shows it: never a secret.
type outgoingView struct {
	Name            string   `json:"name"`
	Direction       string   `json:"direction"`
	Source          string   `json:"source"`
	Mode            string   `json:"mode"`
	ClientID        string   `json:"client_id"`
	Scopes          []string `json:"scopes,omitempty"`
	RedirectURIPath string   `json:"redirect_uri_path"`
}

func outgoingViewOf(app *applinks.App, l *outgoing.Link) outgoingView {
	source := "runtime"
	if app.Outgoing().Declared(l.Name) {
		source = "config"
	}
	return outgoingView{Name: l.Name, Direction: "outgoing", Source: source, Mode: l.Mode, ClientID: l.ClientID, Scopes: l.Scopes, RedirectURIPath: outgoing.CallbackPrefix + l.Name}
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
			out = append(out, outgoingViewOf(app, l))
		}
		return writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var in outgoing.ConfigLink
		if err := readJSON(r, &in); err != nil {
			return err
		}
		l, err := app.Outgoing().Create(r.Context(), outgoing.NewOutgoing{ConfigLink: in, CreatedBy: actor})
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict(fmt.Errorf("an outgoing link named %q exists", in.Name))
		}
		if err != nil {
			return bad(err)
		}
		return writeJSON(w, http.StatusCreated, map[string]string{"name": l.Name, "mode": l.Mode, "redirect_uri_path": outgoing.CallbackPrefix + l.Name})
	}
	return methodNotAllowed(w, "GET, POST")
}

// serveOutgoingLink shows (GET), edits (PATCH) or deletes (DELETE)
// /applinks/outgoing/<name>, the latter with its connections.
func (a *API) serveOutgoingLink(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	name, action, err := pathRef(r, "/applinks/outgoing/")
	if err != nil {
		return err
	}
	if action != "" {
		return notFound("route", r.Method+" "+r.URL.Path)
	}
	switch r.Method {
	case http.MethodGet:
		l, err := app.Outgoing().Link(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("outgoing link", name)
		}
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, outgoingViewOf(app, l))
	case http.MethodPatch:
		return a.patchOutgoingLink(w, r, app, name)
	case http.MethodDelete:
		return a.deleteOutgoingLink(w, r, app, name)
	}
	return methodNotAllowed(w, "GET, PATCH, DELETE")
}

// deleteOutgoingLink deletes an outgoing link with its connections.
func (a *API) deleteOutgoingLink(w http.ResponseWriter, r *http.Request, app *applinks.App, name string) error {
	switch err := app.Outgoing().Delete(r.Context(), name, actor); {
	case errors.Is(err, store.ErrNotFound):
		return notFound("outgoing link", name)
	case errors.Is(err, outgoing.ErrReadOnly):
		return conflict(err)
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
		return conflict(err)
	case errors.Is(err, store.ErrNotFound):
		return notFound("outgoing link", name)
	case err != nil:
		return bad(err)
	}
	return writeJSON(w, http.StatusOK, outgoingViewOf(app, l))
}
