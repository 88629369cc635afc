// Package oauth is the gateway's OAuth 2.0 authorization server: the
// authorization and consent pages, the token, revocation (RFC 7009) and
// introspection (RFC 7662) endpoints, and RFC 8414 / RFC 9728 metadata;
// and the HTTP endpoints of its OAuth 1.0a service provider (request
// token, authorization, access token at Atlassian's paths).
package oauth

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/resource"
)

// Paths served by the authorization server.
const (
	AuthorizePath        = "/rest/oauth2/latest/authorize"
	TokenPath            = "/rest/oauth2/latest/token"
	RevokePath           = "/rest/oauth2/latest/revoke"
	IntrospectPath       = "/rest/oauth2/latest/introspect"
	RegisterPath         = "/rest/oauth2/latest/register"
	ConsentPath          = "/applinks/consent"
	ServerMetadataPath   = "/.well-known/oauth-authorization-server"
	ResourceMetadataPath = resource.MetadataPath
)

// maxFormBytes bounds request bodies of the endpoints.
const maxFormBytes = 64 << 10

// Server serves the authorization server's endpoints from the app's state.
type Server struct {
	app *applinks.App
	now func() time.Time
}

// New returns a server over the app.
func New(app *applinks.App) *Server {
	return &Server{app: app, now: time.Now}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
