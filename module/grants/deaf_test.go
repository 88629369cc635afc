package grants_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// TestDeafValidatorDoesNotTrustItsCache: a revocation made by another
// gateway that this one did not hear about (its epoch was not bumped)
// must not be outlived by a cached validation once the gateway knows it
// can no longer hear the others, unless the operator allowed a bounded
// staleness.
func TestDeafValidatorDoesNotTrustItsCache(t *testing.T) {
	st := badgertest.Open(t)
	keys, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	// The service is "the other gateway": its revocations bump an epoch
	// this validator does not read.
	theirs, ours := new(grants.Epoch), new(grants.Epoch)
	reg, err := links.New(st, keys, nil, time.Now, zap.NewNop(), theirs.Bump)
	if err != nil {
		t.Fatal(err)
	}
	s := grants.New(st, everyone{}, reg, theirs, grants.Config{AccessTTL: time.Hour, RefreshTTL: 24 * time.Hour, CodeTTL: time.Minute, RefreshGrace: 10 * time.Second, ReplayMemory: time.Minute}, time.Now, zap.NewNop())
	clock := time.Now()
	v := grants.NewValidator(s, ours, grants.DefaultCacheEntries, func() time.Time { return clock })
	f := &linkFixture{reg: reg, service: s, validator: v}
	ctx := context.Background()
	l, _, err := reg.Create(ctx, links.NewLink{Name: "app", RedirectURIs: []string{"https://x/cb"}, Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.issue(t, f.client(t, l.ID), scope.Write)
	if _, err := v.Validate(ctx, tok.AccessToken); err != nil { // cached
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, grants.Client{LinkID: l.ID, ClientID: l.ClientID}, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, tok.AccessToken); err != nil {
		t.Fatalf("hearing the others, the cached validation stands until they announce: %v", err)
	}

	v.SetMaxStale(30 * time.Second)
	v.Deaf(true)
	if _, err := v.Validate(ctx, tok.AccessToken); err != nil {
		t.Fatalf("deaf for less than the allowed staleness, the cache stands: %v", err)
	}
	clock = clock.Add(31 * time.Second)
	if _, err := v.Validate(ctx, tok.AccessToken); !errors.Is(err, grants.ErrInvalidToken) {
		t.Fatalf("deaf for longer than the allowed staleness: got %v, want the store's answer %v", err, grants.ErrInvalidToken)
	}
}
