package grants_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

type everyone struct{}

func (everyone) Role(context.Context, string, time.Time) (scope.Scope, error) {
	return scope.SystemAdmin, nil
}
func (everyone) Ceiling(context.Context, string) (scope.Scope, error) { return scope.SystemAdmin, nil }

// newService returns a token service over real Badger in a temp dir with n
// access tokens issued.
func newService(b *testing.B, n int) (*grants.Service, *grants.Epoch, []string) {
	st := badgertest.Open(b)
	epoch := new(grants.Epoch)
	s := grants.New(st, everyone{}, everyone{}, epoch, grants.Config{AccessTTL: time.Hour, RefreshTTL: 24 * time.Hour, CodeTTL: time.Minute, RefreshGrace: 10 * time.Second, ReplayMemory: time.Minute}, time.Now, zap.NewNop())
	c := grants.Client{LinkID: "l", ClientID: "c", Ceiling: scope.Write}
	toks := make([]string, n)
	for i := range toks {
		code, err := s.IssueCode(context.Background(), grants.CodeRequest{Client: c, UserID: "u", RedirectURI: "https://x/cb", Scope: scope.Write})
		if err != nil {
			b.Fatal(err)
		}
		t, err := s.Exchange(context.Background(), c, code, "https://x/cb", "")
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = t.AccessToken
	}
	return s, epoch, toks
}

// BenchmarkValidateUncached is the cost of a cold validation: checksum,
// SHA-256, token and grant read from Badger, role and link checks.
func BenchmarkValidateUncached(b *testing.B) {
	s, _, toks := newService(b, 10_000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Validate(ctx, toks[i%len(toks)], "access"); err != nil {
			b.Fatal(err)
		}
	}
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
