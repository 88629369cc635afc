package admin

import (
	"net/http"
	"time"
)

// serveAtRest answers GET /applinks/keys/at-rest: how far the rotation
// of the at-rest key has come on this gateway (see
// applinks.AtRestStatus).
func (a *API) serveAtRest(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	s, err := app.AtRestStatus(r.Context(), time.Now())
	if err != nil {
		return internal(err)
	}
	return writeJSON(w, http.StatusOK, s)
}
