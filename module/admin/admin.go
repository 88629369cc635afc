// Package admin is the applinks admin JSON API on Caddy's admin endpoint
// (an admin.api module) and the `caddy applinks` command on top of it:
// incoming links (create, show, edit, credentials, rotate secret, delete),
// outgoing links (create, list, show, edit, delete) and their connections
// (list, disconnect), the OAuth 1.0a consumer identity (show), grants
// (list, show, revoke), users (list, show, create or update, delete, sign
// out everywhere), signing keys (list, rotate) and the rotation of the
// at-rest key (status). A link is named by its id or its name wherever one is asked
// for.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/applinks"
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
		{Pattern: "/applinks/connections", Handler: caddy.AdminHandlerFunc(a.serveConnections)},
		{Pattern: "/applinks/oauth1/consumer", Handler: caddy.AdminHandlerFunc(a.serveConsumer)},
		{Pattern: "/applinks/grants", Handler: caddy.AdminHandlerFunc(a.serveGrants)},
		{Pattern: "/applinks/grants/", Handler: caddy.AdminHandlerFunc(a.serveGrant)},
		{Pattern: "/applinks/users", Handler: caddy.AdminHandlerFunc(a.serveUsers)},
		{Pattern: "/applinks/users/", Handler: caddy.AdminHandlerFunc(a.serveUser)},
		{Pattern: "/applinks/keys", Handler: caddy.AdminHandlerFunc(a.serveKeys)},
		{Pattern: "/applinks/keys/", Handler: caddy.AdminHandlerFunc(a.serveKeyAction)},
		{Pattern: "/applinks/keys/at-rest", Handler: caddy.AdminHandlerFunc(a.serveAtRest)},
		{Pattern: "/applinks/backup", Handler: caddy.AdminHandlerFunc(a.serveBackup)},
	}
}

// actor names the API in the audit log.
const actor = "admin-api"

// theApp is the running applinks app.
func theApp() (*applinks.App, error) {
	a, err := caddy.ActiveContext().AppIfConfigured("applinks")
	if err != nil {
		return nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("the applinks app is not running in this configuration")}
	}
	return a.(*applinks.App), nil
}

// pathRef splits the path of r after prefix into the resource it names
// and the action after it, cutting at the first "/" of the escaped path,
// so that a name holding a "/" (sent as %2F) is one name and never a name
// and an action.
func pathRef(r *http.Request, prefix string) (ref, action string, err error) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok {
		return "", "", notFound("route", r.Method+" "+r.URL.Path)
	}
	rawRef, action, _ := strings.Cut(rest, "/")
	if ref, err = url.PathUnescape(rawRef); err != nil {
		return "", "", bad(fmt.Errorf("reading the path: %w", err))
	}
	if action, err = url.PathUnescape(action); err != nil {
		return "", "", bad(fmt.Errorf("reading the path: %w", err))
	}
	return ref, action, nil
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

func conflict(err error) error { return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err} }

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
