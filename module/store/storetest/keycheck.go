package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

func testKeyCheck(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetKeyCheck(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetKeyCheck of an empty store: got %v, want ErrNotFound", err)
	}
	first := store.KeyCheck{Kind: store.KeyKindFile, MAC: []byte("mac of the first key"), CreatedAt: now()}
	must(t, "CreateKeyCheck", s.CreateKeyCheck(ctx, first))
	got, err := s.GetKeyCheck(ctx)
	must(t, "GetKeyCheck", err)
	checkEqual(t, "GetKeyCheck", got, first)

	// A second check, as an opener with another key would write, is
	// refused and leaves the first in place.
	other := store.KeyCheck{Kind: store.KeyKindPassphrase, MAC: []byte("mac of another key"), CreatedAt: now()}
	if err := s.CreateKeyCheck(ctx, other); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("CreateKeyCheck over an existing check: got %v, want ErrAlreadyExists", err)
	}
	got, err = s.GetKeyCheck(ctx)
	must(t, "GetKeyCheck after the refused create", err)
	checkEqual(t, "GetKeyCheck after the refused create", got, first)
}

// testUpdateKeyCheck: a rotation of the at-rest key replaces the check
// through UpdateKeyCheck, keeping the MACs of the keys it retired.
func testUpdateKeyCheck(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.UpdateKeyCheck(ctx, func(*store.KeyCheck) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateKeyCheck of an empty store: got %v, want ErrNotFound", err)
	}
	first := store.KeyCheck{Kind: store.KeyKindFile, MAC: []byte("mac of the first key"), CreatedAt: now()}
	must(t, "CreateKeyCheck", s.CreateKeyCheck(ctx, first))

	rekeyed := store.KeyCheck{Kind: store.KeyKindPassphrase, MAC: []byte("mac of the second key"), CreatedAt: now().Add(time.Hour), Retired: [][]byte{first.MAC}}
	got, err := s.UpdateKeyCheck(ctx, func(c *store.KeyCheck) error {
		checkEqual(t, "the check UpdateKeyCheck's updater gets", *c, first)
		*c = rekeyed
		return nil
	})
	must(t, "UpdateKeyCheck", err)
	checkEqual(t, "UpdateKeyCheck's result", got, rekeyed)
	got, err = s.GetKeyCheck(ctx)
	must(t, "GetKeyCheck after UpdateKeyCheck", err)
	checkEqual(t, "GetKeyCheck after UpdateKeyCheck", got, rekeyed)

	// An updater's error aborts without a write.
	_, err = s.UpdateKeyCheck(ctx, func(c *store.KeyCheck) error {
		c.MAC = []byte("not written")
		c.Retired = append(c.Retired, c.MAC)
		return errBoom
	})
	wantErr(t, "UpdateKeyCheck with a failing fn", err, errBoom)

	// Several retired keys are kept in order.
	third := store.KeyCheck{Kind: store.KeyKindFile, MAC: []byte("mac of the third key"), CreatedAt: now().Add(2 * time.Hour), Retired: [][]byte{rekeyed.MAC, first.MAC}}
	_, err = s.UpdateKeyCheck(ctx, func(c *store.KeyCheck) error {
		*c = third
		return nil
	})
	must(t, "UpdateKeyCheck again", err)
	got, err = s.GetKeyCheck(ctx)
	must(t, "GetKeyCheck after two updates", err)
	checkEqual(t, "GetKeyCheck after two updates", got, third)
	if err := s.CreateKeyCheck(ctx, first); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("CreateKeyCheck over an updated check: got %v, want ErrAlreadyExists", err)
	}
}
