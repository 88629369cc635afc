package gateway

import (
	"net/http"
	"net/url"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// serveConsumerInfo serves the gateway's OAuth 1.0a consumer identity as
// an outgoing.ConsumerInfo document, to anyone (it holds only public
// values), creating the identity the first time.
func (h *Handler) serveConsumerInfo(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, nil)
	}
	c, err := h.app.Outgoing().Consumer(r.Context())
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	issuer := h.app.IssuerFor(r)
	name := issuer
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		name = u.Host
	}
	body, err := outgoing.ConsumerInfo{Key: c.Key, Name: name, PublicKey: c.PublicKeyBase64(), Description: "caddy-applinks at " + issuer}.Marshal()
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	w.Header().Set("Content-Type", "application/xml;charset=UTF-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
	return nil
}
