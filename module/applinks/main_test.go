package applinks_test

import (
	"testing"

	"github.com/applinks/caddy-applinks/internal/pgtest"
)

// TestMain stops the PostgreSQL server the cluster tests started, if any.
func TestMain(m *testing.M) { pgtest.Main(m) }
