package provider_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	client "github.com/dghubble/oauth1"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// BenchmarkGuard is what require_token spends judging one request, on
// real Badger, each way a client may authenticate: a bearer token (the
// cached validation), and an OAuth 1.0a access token signed with RSA-SHA1
// (2048 bits) or HMAC-SHA1: parsing, the cached token validation, the
// signature and the nonce written to the store. The consumer's signing of
// each request is not timed.
//
//	go test -run '^$' -bench Guard -benchtime 3000x -benchmem ./module/oauth1/provider/
func BenchmarkGuard(b *testing.B) {
	b.Run("bearer", func(b *testing.B) {
		f := newFixture(b)
		ctx := context.Background()
		c := grants.Client{LinkID: links.ConfigID("jira"), ClientID: "jira", Ceiling: scope.Write}
		code, err := f.grants.IssueCode(ctx, grants.CodeRequest{Client: c, UserID: "alice", RedirectURI: "https://x/cb", Scope: scope.Write})
		if err != nil {
			b.Fatal(err)
		}
		tok, err := f.grants.Exchange(ctx, c, code, "https://x/cb", "", "")
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := f.tokens.Validate(ctx, tok.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, m := range []struct {
		name string
		cfg  func(f *fixture) *client.Config
	}{
		{"oauth1-rsa-sha1", func(f *fixture) *client.Config { return rsaConfig(f.key) }},
		{"oauth1-hmac-sha1", func(*fixture) *client.Config { return client.NewConfig("legacy", sharedSecret) }},
	} {
		b.Run(m.name, func(b *testing.B) {
			f := newFixture(b)
			cfg := m.cfg(f)
			cfg.CallbackURL = "oob"
			rt, rs, verifier := f.authorized(b, cfg)
			at, as := exchange(b, f, cfg, rt, rs, verifier)
			tok := client.NewToken(at, as)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				req := sign(b, cfg, tok, http.MethodGet, "/rest/api/2/issue/ABC-1?fields=summary")
				b.StartTimer()
				if _, err := f.svc.Authenticate(ctx, req, origin+"/rest/api/2/issue/ABC-1?fields=summary"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGuardParts splits the OAuth 1.0a path into its two costs: the
// RSA-SHA1 verification of a 2048-bit signature, and remembering the
// nonce in Badger.
//
//	go test -run '^$' -bench GuardParts -benchmem ./module/oauth1/provider/
func BenchmarkGuardParts(b *testing.B) {
	b.Run("rsa-verify", func(b *testing.B) {
		f := newFixture(b)
		req := sign(b, rsaConfig(f.key), client.NewToken("alo_x", ""), http.MethodGet, "/rest/api/2/issue/ABC-1")
		q, err := oauth1.Parse(req, origin+"/rest/api/2/issue/ABC-1", 1<<10)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := q.VerifyRSA(&f.key.PublicKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nonce", func(b *testing.B) {
		f := newFixture(b)
		ctx := context.Background()
		for b.Loop() {
			h := make([]byte, 32)
			_, _ = rand.Read(h)
			if err := f.store.RememberNonce(ctx, store.Nonce{Hash: h, ExpiresAt: time.Now().Add(5 * time.Minute)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// exchange signs the access-token request of an authorized request token
// and returns the access token and its secret.
func exchange(tb testing.TB, f *fixture, cfg *client.Config, rt, rs, verifier string) (string, string) {
	tb.Helper()
	s := &sink{}
	cfg.HTTPClient = &http.Client{Transport: s}
	cfg.Endpoint.AccessTokenURL = origin + "/plugins/servlet/oauth/access-token"
	_, _, _ = cfg.AccessToken(rt, rs, verifier) // the sink answers nothing; the header is what is wanted
	req, _ := http.NewRequest(http.MethodPost, origin+"/plugins/servlet/oauth/access-token", nil)
	req.Header.Set("Authorization", s.auth)
	c, err := f.svc.IssueAccessToken(context.Background(), req, origin+"/plugins/servlet/oauth/access-token")
	if err != nil {
		tb.Fatal(err)
	}
	return c.Token, c.Secret
}
