package admin

import (
	"errors"
	"net/http"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

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

// serveUser shows (GET), creates or updates (PUT) or deletes (DELETE) a
// user, signs a user out everywhere (POST …/sign-out) or revokes their
// grants (POST …/revoke-grants). Role changes, disabling and deletion are
// felt on the next request of every token and session of the user; a new
// password, a role change and disabling end every session.
func (a *API) serveUser(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	name, action, err := pathRef(r, "/applinks/users/")
	if err != nil {
		return err
	}
	if name == "" {
		return notFound("user", name)
	}
	switch {
	case action == "" && r.Method == http.MethodGet:
		u, err := findUser(r, app, name)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, u)
	case action == "" && r.Method == http.MethodPut:
		return a.putUser(w, r, app, name)
	case action == "" && r.Method == http.MethodDelete:
		if _, err := findUser(r, app, name); err != nil {
			return err
		}
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
		n, err := app.Grants().RevokeUser(r.Context(), name, actor)
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	}
	if action != "" {
		return notFound("route", r.Method+" "+r.URL.Path)
	}
	return methodNotAllowed(w, "GET, PUT, DELETE")
}

// putUser creates or updates the stored user name.
func (a *API) putUser(w http.ResponseWriter, r *http.Request, app *applinks.App, name string) error {
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
	u, created, err := app.SaveUser(r.Context(), name, users.Change{Password: in.Password, Role: role, Disabled: in.Disabled}, actor)
	if err != nil {
		return userError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, applinks.UserEntry{Name: u.Name, Role: u.Role, Disabled: u.Disabled, Source: "runtime"})
}

// findUser returns the user entry of name, or the API error saying why
// there is none.
func findUser(r *http.Request, app *applinks.App, name string) (applinks.UserEntry, error) {
	all, err := app.ListUsers(r.Context())
	if err != nil {
		return applinks.UserEntry{}, internal(err)
	}
	for _, u := range all {
		if u.Name == name {
			return u, nil
		}
	}
	return applinks.UserEntry{}, notFound("user", name)
}

// userError maps an error of SaveUser or DeleteUser to an API error.
func userError(err error) error {
	switch {
	case errors.Is(err, users.ErrUserReadOnly):
		return conflict(err)
	case users.IsInputError(err):
		return bad(err)
	}
	return internal(err)
}
