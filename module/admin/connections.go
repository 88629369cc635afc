package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/store"
)

// connectionView is an outgoing link's connection as the API shows it:
// never the provider's tokens.
type connectionView struct {
	Link string `json:"link"`
	// User is empty for a shared link's connection.
	User      string    `json:"user,omitempty"`
	Status    string    `json:"status"`
	Expiry    time.Time `json:"expiry,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Failures  int       `json:"failures,omitempty"`
	RetryAt   time.Time `json:"retry_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func connectionViewOf(c store.Connection) connectionView {
	return connectionView{Link: c.LinkID, User: c.UserID, Status: c.Status, Expiry: c.Expiry, LastError: c.LastError, Failures: c.Failures, RetryAt: c.RetryAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// serveConnections lists (GET) the connections of outgoing links,
// filtered by ?link= and ?user=, or disconnects (DELETE) the connection
// of ?link= for ?user= (no user for a shared link's) and answers with it.
func (a *API) serveConnections(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	link, user := q.Get("link"), q.Get("user")
	if link != "" {
		if _, err := app.Outgoing().Link(r.Context(), link); errors.Is(err, store.ErrNotFound) {
			return notFound("outgoing link", link)
		} else if err != nil {
			return internal(err)
		}
	}
	switch r.Method {
	case http.MethodGet:
		cs, err := app.Outgoing().Connections(r.Context(), store.ConnectionFilter{LinkID: link, UserID: user})
		if err != nil {
			return internal(err)
		}
		out := make([]connectionView, len(cs))
		for i, c := range cs {
			out[i] = connectionViewOf(c)
		}
		return writeJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		if link == "" {
			return bad(errors.New("which connection: ?link= is required, and ?user= unless the link is shared"))
		}
		c, err := app.Outgoing().Disconnect(r.Context(), link, user, actor)
		if errors.Is(err, store.ErrNotFound) && user == "" {
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("outgoing link %q has no shared connection; name the user whose connection to delete", link)}
		}
		if errors.Is(err, store.ErrNotFound) {
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("%q has no connection of outgoing link %q", user, link)}
		}
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, connectionViewOf(c))
	}
	return methodNotAllowed(w, "GET, DELETE")
}
