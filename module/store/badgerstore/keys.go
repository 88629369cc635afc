package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// PutSigningKey creates or replaces a key. It is kept until k.ExpiresAt
// (rounded up to the next second) when that is set, forever otherwise; a
// key written with an expiry already past is never returned, and replacing
// a live key with such a record removes it.
func (s *Store) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.ID == "" {
		return errors.New("putting signing key: empty id")
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, skey(prefixSigningKey, k.ID), k, k.ExpiresAt)
	})
	if err != nil {
		return fmt.Errorf("putting signing key %q: %w", k.ID, err)
	}
	return nil
}

// ListSigningKeys returns the live keys, newest (by CreatedAt) first; keys
// created at the same instant are ordered by id. A key whose ExpiresAt has
// passed is left out even while its entry awaits the end of its TTL.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys := []store.SigningKey{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixSigningKey, func() any {
			keys = append(keys, store.SigningKey{})
			return &keys[len(keys)-1]
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	now := s.now()
	keys = slices.DeleteFunc(keys, func(k store.SigningKey) bool { return expired(k.ExpiresAt, now) })
	slices.SortFunc(keys, func(a, b store.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return keys, nil
}

// DeleteSigningKey removes a key; a missing one is not an error.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		return deletePresent(txn, skey(prefixSigningKey, id))
	})
	if err != nil {
		return fmt.Errorf("deleting signing key %q: %w", id, err)
	}
	return nil
}

// UpdateSigningKey runs fn on the stored key and saves what it left in
// one transaction (retried on conflicts), with the TTL of its ExpiresAt
// as PutSigningKey sets it. store.ErrNotFound when there is no live key
// of the id.
func (s *Store) UpdateSigningKey(ctx context.Context, id string, fn func(*store.SigningKey) error) (store.SigningKey, error) {
	var (
		updated store.SigningKey
		fnErr   error
	)
	k := skey(prefixSigningKey, id)
	err := s.update(ctx, func(txn *badger.Txn) error {
		fnErr = nil
		var sk store.SigningKey
		if err := getJSON(txn, k, &sk); err != nil {
			return err
		}
		if expired(sk.ExpiresAt, s.now()) {
			return store.ErrNotFound
		}
		if err := fn(&sk); err != nil {
			fnErr = err
			return err
		}
		if err := sameKey("id", id, sk.ID); err != nil {
			return err
		}
		updated = sk
		return setJSON(txn, k, sk, sk.ExpiresAt)
	})
	if fnErr != nil {
		return store.SigningKey{}, fnErr
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("updating signing key %q: %w", id, err)
	}
	return updated, nil
}
