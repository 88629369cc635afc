package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// RunBenchmarks runs the store benchmarks of the token endpoint's hot
// paths (RotateRefresh, RedeemCode, LookupToken), each on a fresh store
// from newStore, under the same names for every backend so that their
// figures compare.
func RunBenchmarks(b *testing.B, newStore func(b *testing.B) store.Store) {
	b.Run("RotateRefresh", func(b *testing.B) { benchRotateRefresh(b, newStore(b)) })
	b.Run("RedeemCode", func(b *testing.B) { benchRedeemCode(b, newStore(b)) })
	b.Run("LookupToken", func(b *testing.B) { benchLookupToken(b, newStore(b)) })
}

// benchParallelism times GOMAXPROCS goroutines run each benchmark, as an
// HTTP server handles many requests at once.
const benchParallelism = 4

// benchHashes yields distinct 32-byte hashes.
type benchHashes struct{ n atomic.Uint64 }

func (h *benchHashes) next() []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.n.Add(1))
	sum := sha256.Sum256(b[:])
	return sum[:]
}

func benchCode(h *benchHashes, now time.Time) store.Code {
	return store.Code{
		Hash:                h.next(),
		LinkID:              "link-1",
		ClientID:            "client-1",
		UserID:              "alice",
		RedirectURI:         "https://app.example/callback",
		Scope:               "openid profile email",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		CreatedAt:           now,
		ExpiresAt:           now.Add(time.Minute),
	}
}

// benchPair returns an access and a refresh token of g's generation.
func benchPair(h *benchHashes, g store.Grant, now time.Time) []store.Token {
	access := store.Token{
		Hash:       h.next(),
		Kind:       store.AccessToken,
		GrantID:    g.ID,
		Generation: g.Generation,
		Scope:      g.Scope,
		IssuedAt:   now,
		ExpiresAt:  now.Add(time.Hour),
	}
	refresh := access
	refresh.Hash = h.next()
	refresh.Kind = store.RefreshToken
	refresh.ExpiresAt = now.Add(30 * 24 * time.Hour)
	refresh.AccessHash = access.Hash
	return []store.Token{access, refresh}
}

// benchRedeem is the updater of a code redemption.
func benchRedeem(h *benchHashes, id string) func(store.Code) (store.Issue, error) {
	return func(c store.Code) (store.Issue, error) {
		if c.GrantID != "" {
			return store.Issue{}, fmt.Errorf("code already redeemed")
		}
		now := time.Now().UTC()
		g := store.Grant{
			ID:         id,
			LinkID:     c.LinkID,
			ClientID:   c.ClientID,
			UserID:     c.UserID,
			Scope:      c.Scope,
			Generation: 1,
			CreatedAt:  now,
			UpdatedAt:  now,
			ExpiresAt:  now.Add(30 * 24 * time.Hour),
		}
		return store.Issue{Grant: g, Tokens: benchPair(h, g, now)}, nil
	}
}

// benchRotate is the updater of a refresh-token rotation.
func benchRotate(h *benchHashes) func(*store.Grant, *store.Token) (store.Issue, error) {
	// The token service keeps the new pair sealed on the used token for
	// retries within the grace; this is its size.
	sealed := make([]byte, 196)
	return func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		if !tok.UsedAt.IsZero() {
			return store.Issue{}, fmt.Errorf("refresh token already used")
		}
		now := time.Now().UTC()
		tok.UsedAt = now
		tok.KeepUntil = now.Add(time.Hour)
		tok.SealedChild = sealed
		g.Generation++
		g.UpdatedAt = now
		g.ExpiresAt = now.Add(30 * 24 * time.Hour)
		return store.Issue{Grant: *g, Tokens: benchPair(h, *g, now), Delete: [][]byte{tok.AccessHash}}, nil
	}
}

// benchRotateRefresh rotates refresh tokens, each goroutine along its
// own token family.
func benchRotateRefresh(b *testing.B, s store.Store) {
	ctx := context.Background()
	var h benchHashes
	var grants atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		c := benchCode(&h, time.Now().UTC())
		if err := s.CreateCode(ctx, c); err != nil {
			b.Error(err)
			return
		}
		iss, err := s.RedeemCode(ctx, c.Hash, benchRedeem(&h, fmt.Sprintf("grant-%d", grants.Add(1))))
		if err != nil {
			b.Error(err)
			return
		}
		refresh := iss.Tokens[1].Hash
		rotate := benchRotate(&h)
		for pb.Next() {
			iss, err := s.RotateRefresh(ctx, refresh, rotate)
			if err != nil {
				b.Error(err)
				return
			}
			refresh = iss.Tokens[1].Hash
		}
	})
}

// benchRedeemCode redeems codes created beforehand.
func benchRedeemCode(b *testing.B, s store.Store) {
	ctx := context.Background()
	var h benchHashes
	codes := make([][]byte, b.N)
	now := time.Now().UTC()
	// Created from several goroutines, so that their commits share WAL
	// flushes and the setup does not take longer than the benchmark.
	var wg sync.WaitGroup
	var failed atomic.Bool
	for w := range benchParallelism * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := w; i < len(codes); i += benchParallelism * runtime.GOMAXPROCS(0) {
				c := benchCode(&h, now)
				if err := s.CreateCode(ctx, c); err != nil {
					b.Error(err)
					failed.Store(true)
					return
				}
				codes[i] = c.Hash
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := s.RedeemCode(ctx, codes[i], benchRedeem(&h, fmt.Sprintf("grant-%d", i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchLookupToken looks up the tokens of 1000 grants.
func benchLookupToken(b *testing.B, s store.Store) {
	ctx := context.Background()
	var h benchHashes
	var tokens [][]byte
	for i := range 1000 {
		c := benchCode(&h, time.Now().UTC())
		if err := s.CreateCode(ctx, c); err != nil {
			b.Fatal(err)
		}
		iss, err := s.RedeemCode(ctx, c.Hash, benchRedeem(&h, fmt.Sprintf("grant-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range iss.Tokens {
			tokens = append(tokens, t.Hash)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, _, err := s.LookupToken(ctx, tokens[int(i)%len(tokens)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
