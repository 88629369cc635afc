package signing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// BenchmarkSign measures one ID-token signature per algorithm: the cost a
// grant with openid adds to the token endpoint.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{signing.ES256, signing.RS256} {
		b.Run(alg, func(b *testing.B) {
			st := badgertest.Open(b)
			keys, err := secret.FromPassphrase(strings.Repeat("k", 32))
			if err != nil {
				b.Fatal(err)
			}
			k, err := signing.New(context.Background(), st, keys, alg, time.Hour, time.Now)
			if err != nil {
				b.Fatal(err)
			}
			claims := map[string]any{"iss": "https://gw.example", "sub": "alice", "aud": "client", "exp": 2000000000, "iat": 1900000000}
			for b.Loop() {
				if _, err := k.Sign(claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
