package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// consumerColumns are the columns of consumer_identity, in the order of
// consumerDest.
const consumerColumns = "consumer_key, sealed, created_at"

// CreateConsumerIdentity stores the gateway's OAuth 1.0a consumer
// identity unless one is stored already (store.ErrAlreadyExists): the
// table holds one row at most, so that of gateways creating it at once the
// first one's is kept.
func (s *Store) CreateConsumerIdentity(ctx context.Context, c store.ConsumerIdentity) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO consumer_identity ("+consumerColumns+") VALUES ($1, $2, $3)", c.Key, c.Sealed, c.CreatedAt)
	if err != nil {
		return failed(err, "creating consumer identity")
	}
	return nil
}

// GetConsumerIdentity returns the consumer identity; store.ErrNotFound
// when none is stored.
func (s *Store) GetConsumerIdentity(ctx context.Context) (store.ConsumerIdentity, error) {
	var c store.ConsumerIdentity
	err := s.pool.QueryRow(ctx, "SELECT "+consumerColumns+" FROM consumer_identity").Scan(consumerDest(&c)...)
	if err != nil {
		return store.ConsumerIdentity{}, failed(err, "reading consumer identity")
	}
	return c, nil
}

// consumerDest returns the scan targets of consumerColumns.
func consumerDest(c *store.ConsumerIdentity) []any {
	return []any{&c.Key, &c.Sealed, &c.CreatedAt}
}

// UpdateConsumerIdentity runs fn on the stored consumer identity, its row
// locked, and saves the result in the same transaction;
// store.ErrNotFound when none is stored.
func (s *Store) UpdateConsumerIdentity(ctx context.Context, fn func(*store.ConsumerIdentity) error) (store.ConsumerIdentity, error) {
	var updated store.ConsumerIdentity
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var c store.ConsumerIdentity
		if err := tx.QueryRow(ctx, "SELECT "+consumerColumns+" FROM consumer_identity FOR UPDATE").Scan(consumerDest(&c)...); err != nil {
			return err
		}
		key := c.Key
		if err := fn(&c); err != nil {
			return updaterError{err}
		}
		if c.Key != key {
			return fmt.Errorf("the consumer key cannot change (to %q)", c.Key)
		}
		if _, err := tx.Exec(ctx, "UPDATE consumer_identity SET sealed = $2, created_at = $3 WHERE consumer_key = $1", c.Key, c.Sealed, c.CreatedAt); err != nil {
			return err
		}
		updated = c
		return nil
	})
	if err != nil {
		return store.ConsumerIdentity{}, failed(err, "updating consumer identity")
	}
	return updated, nil
}
