package storetest

import (
	"errors"
	"testing"

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
