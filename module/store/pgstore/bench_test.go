package pgstore

import (
	"testing"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/storetest"
)

// BenchmarkStore runs the store benchmarks on a new database each; every
// commit waits for PostgreSQL's WAL flush (fsync on). Compare with
// badgerstore's BenchmarkStore.
func BenchmarkStore(b *testing.B) {
	storetest.RunBenchmarks(b, func(b *testing.B) store.Store { return open(b, pgtest.DSN(b), Options{}) })
}
