// Package badgertest opens Badger stores in temporary directories for the
// tests and benchmarks of packages built on the store.
package badgertest

import (
	"testing"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store/badgerstore"
)

// Open returns a store in a fresh t.TempDir(), closed when the test ends.
func Open(t testing.TB) *badgerstore.Store {
	t.Helper()
	st, err := badgerstore.Open(t.TempDir(), badgerstore.Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}
