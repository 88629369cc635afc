package signing_test

import (
	"context"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/secret/secrettest"
	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// TestResealKeepsARotationDuringThePass: after an at-rest key rotation
// the signing keys the old key sealed are re-sealed, so that a keyring
// with the new key alone loads them and publishes the same key ids (ID
// tokens signed before still verify); a signing-key rotation between the
// pass's read and its write keeps the retirement it wrote.
func TestResealKeepsARotationDuringThePass(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	oldKeys := secrettest.Passphrase(t, "the at-rest key before the rotation, 32+ chars")
	newKey := secrettest.Passphrase(t, "the at-rest key after the rotation, 32+ chars")
	before, err := signing.New(ctx, st, oldKeys, signing.ES256, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	first := before.JWKS().Keys[0].KeyID
	jws, err := before.Sign(map[string]string{"sub": "alice"})
	if err != nil {
		t.Fatal(err)
	}

	rotating, err := newKey.WithPrevious(oldKeys)
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.New(ctx, st, rotating, signing.ES256, time.Hour, time.Now)
	if err != nil {
		t.Fatalf("a keyring with the new key and the old one as previous: %v", err)
	}
	tally := &secrettest.Tally{DuringCensus: func() {
		if err := k.Rotate(ctx); err != nil {
			t.Error(err)
		}
	}}
	if err := k.Reseal(ctx, tally); err != nil {
		t.Fatalf("Reseal: %v", err)
	}
	if got, want := tally.Counts(), (secrettest.Counts{Previous: 1, Resealed: 1, Writes: 1}); got != want {
		t.Errorf("the pass told %+v, want %+v", got, want)
	}

	after, err := signing.New(ctx, st, newKey, signing.ES256, time.Hour, time.Now)
	if err != nil {
		t.Fatalf("a keyring with the new key alone after the pass: %v", err)
	}
	infos, err := after.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Fatalf("%d signing keys after the pass, want the rotated one and the one it retired", len(infos))
	}
	for _, info := range infos {
		if info.ID == first && (info.Status != signing.StatusRetiring || info.RetiredAt.IsZero()) {
			t.Errorf("the key retired during the pass is %s (retired %v): the pass wrote back the key it read", info.Status, info.RetiredAt)
		}
	}
	if kid := verify(t, jws, after.JWKS(), signing.ES256); kid != first {
		t.Errorf("a token signed before the rotation verifies with key %s, want %s", kid, first)
	}
}
