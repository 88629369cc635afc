package gateway

import (
	"encoding/xml"
	"net/http"
	"net/url"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// consumerInfo is the gateway's OAuth 1.0a consumer identity in the XML
// that Atlassian products serve at /plugins/servlet/oauth/consumer-info,
// for the application link wizard of another product to read: the key,
// a name, the public key as the base64 of its DER on one line, and a
// description. Atlassian adds <callback> only for a consumer with one
// callback; the gateway's callback is per link, so it has none.
type consumerInfo struct {
	XMLName     xml.Name `xml:"consumer"`
	Key         string   `xml:"key"`
	Name        string   `xml:"name"`
	PublicKey   string   `xml:"publicKey"`
	Description string   `xml:"description"`
}

// serveConsumerInfo serves the consumer identity, to anyone (it holds
// only public values), creating it the first time.
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
	body, err := xml.Marshal(consumerInfo{Key: c.Key, Name: name, PublicKey: c.PublicKeyBase64(), Description: "caddy-applinks at " + issuer})
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	w.Header().Set("Content-Type", "application/xml;charset=UTF-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append([]byte(xml.Header), body...))
	}
	return nil
}
