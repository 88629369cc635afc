package badgerstore

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateConsumerIdentity stores the gateway's OAuth 1.0a consumer
// identity, forever, unless one is stored already
// (store.ErrAlreadyExists); the test and the write are one transaction.
func (s *Store) CreateConsumerIdentity(ctx context.Context, c store.ConsumerIdentity) error {
	k := skey(prefixConsumer)
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
		return fmt.Errorf("creating consumer identity: %w", err)
	}
	return nil
}

// GetConsumerIdentity returns the consumer identity; store.ErrNotFound
// when none is stored.
func (s *Store) GetConsumerIdentity(ctx context.Context) (store.ConsumerIdentity, error) {
	var c store.ConsumerIdentity
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getJSON(txn, skey(prefixConsumer), &c)
	})
	if err != nil {
		return store.ConsumerIdentity{}, fmt.Errorf("reading consumer identity: %w", err)
	}
	return c, nil
}

// UpdateConsumerIdentity runs fn on the stored consumer identity and saves
// the result in one transaction; store.ErrNotFound when none is stored.
func (s *Store) UpdateConsumerIdentity(ctx context.Context, fn func(*store.ConsumerIdentity) error) (store.ConsumerIdentity, error) {
	return updateJSON(ctx, s, "consumer identity", skey(prefixConsumer), nil, func(c *store.ConsumerIdentity, _ bool) error {
		key := c.Key
		if err := fn(c); err != nil {
			return err
		}
		if c.Key != key {
			return fmt.Errorf("the consumer key cannot change (to %q)", c.Key)
		}
		return nil
	}, nil)
}
