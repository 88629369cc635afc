package storetest

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// newSigningKey returns a signing key with every field but RetiredAt and
// ExpiresAt set, created at created.
func newSigningKey(id string, created time.Time) store.SigningKey {
	return store.SigningKey{
		ID:        id,
		Algorithm: "ES256",
		Sealed:    []byte("sealed-" + rand.Text()),
		CreatedAt: created,
	}
}

// listSigningKeys lists the signing keys or fails the test.
func listSigningKeys(t *testing.T, s store.Store) []store.SigningKey {
	t.Helper()
	keys, err := s.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	return keys
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	if keys := listSigningKeys(t, s); len(keys) != 0 {
		t.Fatalf("ListSigningKeys of an empty store returned %d keys", len(keys))
	}

	// Ids sort differently from creation times, and are prefixes of each
	// other, so that neither key order nor prefix scans give the answer.
	n := now()
	retired := newSigningKey("key-1", n.Add(-72*time.Hour))
	retired.Algorithm = "RS256"
	retired.RetiredAt = n.Add(-24 * time.Hour)
	retired.ExpiresAt = n.Add(24 * time.Hour)
	current := newSigningKey("key-10", n)
	previous := newSigningKey("key", n.Add(-24*time.Hour))
	previous.RetiredAt = n
	previous.ExpiresAt = n.Add(48 * time.Hour)
	for _, k := range []store.SigningKey{previous, current, retired} {
		must(t, "PutSigningKey", s.PutSigningKey(ctx, k))
	}
	checkEqual(t, "ListSigningKeys", listSigningKeys(t, s), []store.SigningKey{current, previous, retired})

	// PutSigningKey replaces, and the order follows the new CreatedAt.
	previous.Sealed = []byte("resealed-" + rand.Text())
	previous.RetiredAt = n.Add(time.Minute)
	previous.ExpiresAt = time.Time{}
	previous.CreatedAt = n.Add(time.Hour)
	must(t, "PutSigningKey replacing", s.PutSigningKey(ctx, previous))
	checkEqual(t, "ListSigningKeys after replacing", listSigningKeys(t, s), []store.SigningKey{previous, current, retired})

	must(t, "DeleteSigningKey", s.DeleteSigningKey(ctx, current.ID))
	checkEqual(t, "ListSigningKeys after DeleteSigningKey", listSigningKeys(t, s), []store.SigningKey{previous, retired})
	must(t, "DeleteSigningKey of a deleted key", s.DeleteSigningKey(ctx, current.ID))
	must(t, "DeleteSigningKey of a missing key", s.DeleteSigningKey(ctx, "missing"))
	checkEqual(t, "ListSigningKeys after deleting missing keys", listSigningKeys(t, s), []store.SigningKey{previous, retired})

	// A deleted id can be used again.
	current.CreatedAt = n.Add(2 * time.Hour)
	must(t, "PutSigningKey of a deleted id", s.PutSigningKey(ctx, current))
	checkEqual(t, "ListSigningKeys after re-creating", listSigningKeys(t, s), []store.SigningKey{current, previous, retired})
}

func expirySigningKey(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	ctx := t.Context()
	n := now()
	// The expiring key is the newest, so that a backend that stops at the
	// first expired key in creation order loses the others.
	short := newSigningKey("short", n)
	short.RetiredAt = n
	short.ExpiresAt = n.Add(shortTTL)
	long := newSigningKey("long", n.Add(-time.Hour))
	long.RetiredAt = n
	long.ExpiresAt = n.Add(time.Hour)
	forever := newSigningKey("forever", n.Add(-2*time.Hour))
	for _, k := range []store.SigningKey{short, long, forever} {
		must(t, "PutSigningKey", s.PutSigningKey(ctx, k))
	}
	// An update keeps the key's expiry.
	updated, err := s.UpdateSigningKey(ctx, short.ID, func(sk *store.SigningKey) error {
		sk.Sealed = []byte("resealed-" + rand.Text())
		return nil
	})
	must(t, "UpdateSigningKey", err)
	short = updated
	checkEqual(t, "ListSigningKeys before expiry", listSigningKeys(t, s), []store.SigningKey{short, long, forever})

	return short.ExpiresAt, func(t *testing.T) {
		checkEqual(t, "ListSigningKeys after expiry", listSigningKeys(t, s), []store.SigningKey{long, forever})
	}
}

func testUpdateSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := now()
	if _, err := s.UpdateSigningKey(ctx, "missing", func(*store.SigningKey) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateSigningKey of a missing key: got %v, want ErrNotFound", err)
	}
	k := newSigningKey("key", n)
	k.RetiredAt = n
	k.ExpiresAt = n.Add(time.Hour)
	other := newSigningKey("key-2", n.Add(-time.Hour))
	must(t, "PutSigningKey", s.PutSigningKey(ctx, k))
	must(t, "PutSigningKey", s.PutSigningKey(ctx, other))

	// The updater sees the stored key, and what it leaves is stored.
	resealed := []byte("resealed-" + rand.Text())
	got, err := s.UpdateSigningKey(ctx, k.ID, func(sk *store.SigningKey) error {
		checkEqual(t, "the key UpdateSigningKey's updater gets", *sk, k)
		sk.Sealed = resealed
		return nil
	})
	must(t, "UpdateSigningKey", err)
	k.Sealed = resealed
	checkEqual(t, "UpdateSigningKey's result", got, k)
	checkEqual(t, "ListSigningKeys after UpdateSigningKey", listSigningKeys(t, s), []store.SigningKey{k, other})

	// An updater's error aborts without a write.
	_, err = s.UpdateSigningKey(ctx, k.ID, func(sk *store.SigningKey) error {
		sk.Sealed = []byte("not written")
		return errBoom
	})
	wantErr(t, "UpdateSigningKey with a failing fn", err, errBoom)
	// Changing the id is refused, without a write.
	if _, err := s.UpdateSigningKey(ctx, k.ID, func(sk *store.SigningKey) error {
		sk.ID = "renamed"
		return nil
	}); err == nil {
		t.Fatal("UpdateSigningKey let the updater change the id")
	}
	checkEqual(t, "ListSigningKeys after refused updates", listSigningKeys(t, s), []store.SigningKey{k, other})

	// A key past its ExpiresAt is not found.
	gone := newSigningKey("gone", n)
	gone.ExpiresAt = n.Add(-time.Second)
	must(t, "PutSigningKey of an expired key", s.PutSigningKey(ctx, gone))
	if _, err := s.UpdateSigningKey(ctx, gone.ID, func(*store.SigningKey) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateSigningKey of an expired key: got %v, want ErrNotFound", err)
	}
	checkEqual(t, "ListSigningKeys after updating an expired key", listSigningKeys(t, s), []store.SigningKey{k, other})
}
