package applinks

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/applinks/caddy-applinks/module/clientdoc"
	"github.com/applinks/caddy-applinks/module/scope"
)

// DocumentsConfig turns on client ID metadata documents: a client may use
// an https URL as its client_id, and the JSON document served there
// describes it (its redirect URIs bind the flow). Such clients are public:
// PKCE with S256, no secret.
type DocumentsConfig struct {
	// AllowHosts are the hosts whose URLs may act as clients. Default: any
	// public host.
	AllowHosts []string `json:"allow_hosts,omitempty"`
	// Scope is the permission ceiling of such clients. Default: READ.
	Scope string `json:"scope,omitempty"`
	// AllowLoopback lets documents be served on loopback addresses, over
	// http too: for tests and local development only. Default: false.
	AllowLoopback bool `json:"allow_loopback,omitempty"`
}

// Check reports the first problem of the configuration.
func (c *DocumentsConfig) Check() error {
	if c.Scope != "" {
		if _, err := scope.Parse(c.Scope); err != nil {
			return fmt.Errorf("client_id_metadata_documents: scope: %w", err)
		}
	}
	for _, h := range c.AllowHosts {
		if h == "" || strings.ContainsAny(h, "/:@ ") {
			return fmt.Errorf("client_id_metadata_documents: allow_hosts %q: want a host name, like app.example.com", h)
		}
	}
	return nil
}

// fetcher returns the document fetcher of the configuration; it never
// connects to the denied addresses.
func (c *DocumentsConfig) fetcher(denied []netip.AddrPort) (*clientdoc.Fetcher, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	ceiling := scope.Read
	if c.Scope != "" {
		ceiling, _ = scope.Parse(c.Scope) // checked
	}
	return clientdoc.New(clientdoc.Policy{AllowHosts: c.AllowHosts, AllowLoopback: c.AllowLoopback, Ceiling: ceiling, Denied: denied}, time.Now), nil
}

// ClientIDMetadataDocuments reports whether https URLs are taken as client
// ids.
func (a *App) ClientIDMetadataDocuments() bool { return a.Documents != nil }
