package grants_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/store/pgstore"
)

type everyone struct{}

func (everyone) Role(context.Context, string, time.Time) (scope.Scope, error) {
	return scope.SystemAdmin, nil
}
func (everyone) Ceiling(context.Context, string) (scope.Scope, error) { return scope.SystemAdmin, nil }

// newService returns a token service over real Badger in a temp dir with n
// access tokens issued.
func newService(b *testing.B, n int) (*grants.Service, *grants.Epoch, []string) {
	return newServiceOn(b, badgertest.Open(b), n)
}

// newServiceOn is newService over st.
func newServiceOn(b *testing.B, st store.Store, n int) (*grants.Service, *grants.Epoch, []string) {
	epoch := new(grants.Epoch)
	s := grants.New(st, everyone{}, everyone{}, epoch, grants.Config{AccessTTL: time.Hour, RefreshTTL: 24 * time.Hour, CodeTTL: time.Minute, RefreshGrace: 10 * time.Second, ReplayMemory: time.Minute}, time.Now, zap.NewNop())
	c := grants.Client{LinkID: "l", ClientID: "c", Ceiling: scope.Write}
	toks := make([]string, n)
	for i := range toks {
		code, err := s.IssueCode(context.Background(), grants.CodeRequest{Client: c, UserID: "u", RedirectURI: "https://x/cb", Scope: scope.Write})
		if err != nil {
			b.Fatal(err)
		}
		t, err := s.Exchange(context.Background(), c, code, "https://x/cb", "", "")
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = t.AccessToken
	}
	return s, epoch, toks
}

// BenchmarkValidateUncached is the cost of a cold validation: checksum,
// SHA-256, token and grant read from the store, role and link checks, on
// Badger and on PostgreSQL side by side, one at a time.
func BenchmarkValidateUncached(b *testing.B) {
	b.Run("badger", func(b *testing.B) { benchValidateUncached(b, badgertest.Open(b)) })
	b.Run("postgres", func(b *testing.B) { benchValidateUncached(b, openPostgres(b)) })
}

// BenchmarkValidateUncachedParallel is BenchmarkValidateUncached from
// many goroutines at once, as a busy guard validates.
func BenchmarkValidateUncachedParallel(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"badger", func(b *testing.B) store.Store { return badgertest.Open(b) }},
		{"postgres", openPostgres},
	} {
		b.Run(backend.name, func(b *testing.B) {
			s, _, toks := newServiceOn(b, backend.open(b), 2_000)
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Validate(context.Background(), toks[next.Add(1)%int64(len(toks))], "access"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
		})
	}
}

func benchValidateUncached(b *testing.B, st store.Store) {
	s, _, toks := newServiceOn(b, st, 2_000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Validate(ctx, toks[i%len(toks)], "access"); err != nil {
			b.Fatal(err)
		}
	}
}

// openPostgres opens a PostgreSQL store on a new database.
func openPostgres(b *testing.B) store.Store {
	st, err := pgstore.Open(context.Background(), pgtest.DSN(b), pgstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	return st
}

// BenchmarkValidateCached is the guard's usual path: a cache hit.
func BenchmarkValidateCached(b *testing.B) {
	s, epoch, toks := newService(b, 1_000)
	v := grants.NewValidator(s, epoch, grants.DefaultCacheEntries, time.Now)
	ctx := context.Background()
	for _, t := range toks {
		if _, err := v.Validate(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := v.Validate(ctx, toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
	}
}
