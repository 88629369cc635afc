package pgstore

import (
	"context"
	"testing"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a store on dsn, closed when the test ends.
func open(t testing.TB, dsn string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// newStore opens a store on a new database.
func newStore(t *testing.T) store.Store {
	return open(t, pgtest.DSN(t), Options{})
}

func TestStore(t *testing.T) {
	storetest.RunTests(t, newStore)
}

func TestConcurrency(t *testing.T) {
	storetest.RunConcurrencyTests(t, newStore)
}
