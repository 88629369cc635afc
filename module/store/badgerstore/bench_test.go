package badgerstore

import (
	"testing"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/storetest"
)

// BenchmarkStore runs the store benchmarks on a new Badger database in a
// temp dir each. Compare with pgstore's BenchmarkStore.
func BenchmarkStore(b *testing.B) {
	storetest.RunBenchmarks(b, func(b *testing.B) store.Store {
		s, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
