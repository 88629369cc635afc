package admin

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/applinks"
)

// serveKeys lists (GET) the token-signing keys: kid, algorithm, status
// (active, retiring, inactive) and dates, never private material.
func (a *API) serveKeys(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	return writeKeys(w, r, app, http.StatusOK)
}

// serveKeyAction rotates the signing key (POST /applinks/keys/rotate): a
// new key signs from now on, the previous one stays published until the
// tokens it signed have expired. The answer is the keys as they are now,
// the new one first.
func (a *API) serveKeyAction(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if strings.TrimPrefix(r.URL.Path, "/applinks/keys/") != "rotate" {
		return notFound("route", r.Method+" "+r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, "POST")
	}
	if err := app.RotateSigningKey(r.Context()); err != nil {
		return internal(err)
	}
	app.Audit().Info("signing key rotated", zap.String("by", actor))
	return writeKeys(w, r, app, http.StatusOK)
}

func writeKeys(w http.ResponseWriter, r *http.Request, app *applinks.App, status int) error {
	keyring, err := app.Keyring()
	if err != nil {
		return internal(err)
	}
	keys, err := keyring.Keys(r.Context())
	if err != nil {
		return internal(err)
	}
	return writeJSON(w, status, keys)
}
