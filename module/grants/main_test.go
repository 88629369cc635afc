package grants_test

import (
	"testing"

	"github.com/applinks/caddy-applinks/internal/pgtest"
)

// TestMain stops the PostgreSQL server the benchmarks started, if any.
func TestMain(m *testing.M) { pgtest.Main(m) }
