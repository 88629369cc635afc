package integration

import (
	"testing"

	"github.com/applinks/caddy-applinks/internal/pgtest"
)

// TestMain makes the gateway trust the certificate of httptest's TLS
// servers (see trustTestServers), and stops the PostgreSQL server the
// cluster tests started, if any.
func TestMain(m *testing.M) {
	trustTestServers()
	pgtest.Main(m)
}
