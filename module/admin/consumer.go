package admin

import (
	"net/http"
	"time"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// identityView is the gateway's OAuth 1.0a consumer identity: its key and
// public key (never the private key), for the administrators of the
// products its OAuth 1.0a links go to.
type identityView struct {
	Key string `json:"key"`
	// PublicKey is PEM (BEGIN PUBLIC KEY); PublicKeyBase64 the same key's
	// DER in base64 on one line, as Atlassian's forms take it.
	PublicKey       string    `json:"public_key"`
	PublicKeyBase64 string    `json:"public_key_base64"`
	ConsumerInfo    string    `json:"consumer_info_path"`
	CreatedAt       time.Time `json:"created_at"`
}

// serveConsumer shows (GET) the gateway's OAuth 1.0a consumer identity,
// creating it the first time.
func (a *API) serveConsumer(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	app, err := theApp()
	if err != nil {
		return err
	}
	c, err := app.Outgoing().Consumer(r.Context())
	if err != nil {
		return internal(err)
	}
	return writeJSON(w, http.StatusOK, identityView{Key: c.Key, PublicKey: c.PublicKeyPEM(), PublicKeyBase64: c.PublicKeyBase64(), ConsumerInfo: outgoing.ConsumerInfoPath, CreatedAt: c.CreatedAt})
}
