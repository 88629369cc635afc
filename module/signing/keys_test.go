package signing_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// TestKeyListingShowsNoPrivateKeyAndNamesTheSigner: an administrator who
// lists the signing keys learns which one signs and which are retiring,
// but no private key material; after a rotation the key marked active is
// the one whose kid new tokens carry.
func TestKeyListingShowsNoPrivateKeyAndNamesTheSigner(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	now := time.Now().UTC().Truncate(time.Second)
	k, err := signing.New(ctx, st, keys(t), signing.ES256, time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	first, err := k.Keys(ctx)
	if err != nil || len(first) != 1 || first[0].Status != signing.StatusActive || first[0].Algorithm != signing.ES256 {
		t.Fatalf("keys of a new keyring: %+v, %v", first, err)
	}
	now = now.Add(time.Minute)
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := k.Keys(ctx)
	if err != nil || len(after) != 2 {
		t.Fatalf("keys after a rotation: %+v, %v", after, err)
	}
	jws, err := k.Sign(map[string]any{"sub": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	for _, ki := range after {
		switch ki.ID {
		case sig.Signatures[0].Header.KeyID:
			if ki.Status != signing.StatusActive {
				t.Errorf("the key that signs is listed %s", ki.Status)
			}
		case first[0].ID:
			if ki.Status != signing.StatusRetiring || !ki.RetiredAt.Equal(now) || !ki.ExpiresAt.Equal(now.Add(time.Hour)) {
				t.Errorf("the rotated-out key is listed %+v", ki)
			}
		default:
			t.Errorf("an unknown key is listed: %+v", ki)
		}
	}
	raw, err := json.Marshal(after)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{`"sealed"`, `"d"`, `"x"`, `"private`} {
		if strings.Contains(string(raw), word) {
			t.Errorf("the key listing has %s: %s", word, raw)
		}
	}
	for _, sk := range stored {
		sealed, _ := json.Marshal(sk.Sealed)
		if strings.Contains(string(raw), strings.Trim(string(sealed), `"`)) {
			t.Errorf("the key listing carries the sealed key of %s", sk.ID)
		}
	}
}
