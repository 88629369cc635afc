package signing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

func keys(t *testing.T) *secret.Keys {
	t.Helper()
	k, err := secret.FromPassphrase(strings.Repeat("p", 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verify checks a JWS against a key set and returns its key id.
func verify(t *testing.T, jws string, set jose.JSONWebKeySet, alg string) string {
	t.Helper()
	sig, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatal(err)
	}
	kid := sig.Signatures[0].Header.KeyID
	found := set.Key(kid)
	if len(found) != 1 {
		t.Fatalf("key %s not published", kid)
	}
	if _, err := sig.Verify(found[0].Key); err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	return kid
}

// TestKeyringSignRotateReload: signatures verify with the published keys;
// a rotation publishes the new key first and keeps the old one until the
// tokens it signed expire; a keyring opened again on the same store signs
// with the same active key; the private keys are stored sealed.
func TestKeyringSignRotateReload(t *testing.T) {
	for _, alg := range []string{signing.ES256, signing.RS256} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			st := badgertest.Open(t)
			now := time.Now()
			k, err := signing.New(ctx, st, keys(t), alg, time.Hour, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			first, err := k.Sign(map[string]any{"sub": "alice"})
			if err != nil {
				t.Fatal(err)
			}
			oldKid := verify(t, first, k.JWKS(), alg)

			if err := k.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			set := k.JWKS()
			if len(set.Keys) != 2 || set.Keys[1].KeyID != oldKid {
				t.Fatalf("after rotation the JWKS is %v", set.Keys)
			}
			second, _ := k.Sign(map[string]any{"sub": "alice"})
			newKid := verify(t, second, set, alg)
			if newKid == oldKid || set.Keys[0].KeyID != newKid {
				t.Fatal("the new key does not sign, or is not published first")
			}
			verify(t, first, set, alg) // the old token still verifies

			stored, err := st.ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var retired store.SigningKey
			for _, sk := range stored {
				if sk.ID == oldKid {
					retired = sk
				}
				if strings.Contains(string(sk.Sealed), "PRIVATE") || len(sk.Sealed) < 64 {
					t.Fatalf("key %s not sealed", sk.ID)
				}
			}
			if retired.RetiredAt.IsZero() || !retired.ExpiresAt.Equal(retired.RetiredAt.Add(time.Hour)) {
				t.Fatalf("retired key kept until %v, retired %v", retired.ExpiresAt, retired.RetiredAt)
			}

			again, err := signing.New(ctx, st, keys(t), alg, time.Hour, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			third, _ := again.Sign(map[string]any{"sub": "alice"})
			if verify(t, third, again.JWKS(), alg) != newKid {
				t.Fatal("a reopened keyring signs with another key")
			}
		})
	}
}

// TestKeyringRefusesOtherAlgorithms: only ES256 and RS256.
func TestKeyringRefusesOtherAlgorithms(t *testing.T) {
	if _, err := signing.New(context.Background(), badgertest.Open(t), keys(t), "HS256", time.Hour, time.Now); err == nil {
		t.Fatal("HS256 accepted")
	}
}
