package badgerstore

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateKeyCheck stores the key check, forever, unless one is stored
// already (store.ErrAlreadyExists); the test and the write are one
// transaction, so that of two openers with different keys only the first
// one's check is kept.
func (s *Store) CreateKeyCheck(ctx context.Context, c store.KeyCheck) error {
	k := skey(prefixKeyCheck)
	err := s.update(ctx, func(txn *badger.Txn) error {
		found, err := exists(txn, k)
		if err != nil {
			return err
		}
		if found {
			return store.ErrAlreadyExists
		}
		return setJSON(txn, k, c, time.Time{})
	})
	if err != nil {
		return fmt.Errorf("creating key check: %w", err)
	}
	return nil
}

// GetKeyCheck returns the key check; store.ErrNotFound when none is
// stored.
func (s *Store) GetKeyCheck(ctx context.Context) (store.KeyCheck, error) {
	var c store.KeyCheck
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getJSON(txn, skey(prefixKeyCheck), &c)
	})
	if err != nil {
		return store.KeyCheck{}, fmt.Errorf("reading key check: %w", err)
	}
	return c, nil
}

// UpdateKeyCheck runs fn on the stored key check and saves what it left,
// in one transaction; store.ErrNotFound when none is stored.
func (s *Store) UpdateKeyCheck(ctx context.Context, fn func(*store.KeyCheck) error) (store.KeyCheck, error) {
	return updateJSON(ctx, s, "key check", skey(prefixKeyCheck), nil,
		func(c *store.KeyCheck, _ bool) error { return fn(c) }, nil)
}
