package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// exportOrder lists the record prefixes in the order Export gives them,
// each with how to decode one record.
var exportOrder = []struct {
	prefix string
	decode func([]byte) (store.Record, error)
}{
	{prefixLink, decodeAs(func(v *store.Link) store.Record { return store.Record{Link: v} })},
	{prefixOutLink, decodeAs(func(v *store.OutgoingLink) store.Record { return store.Record{OutgoingLink: v} })},
	{prefixUser, decodeAs(func(v *store.User) store.Record { return store.Record{User: v} })},
	{prefixSubject, decodeAs(func(v *store.Subject) store.Record { return store.Record{Subject: v} })},
	{prefixSigningKey, decodeAs(func(v *store.SigningKey) store.Record { return store.Record{SigningKey: v} })},
	{prefixKeyCheck, decodeAs(func(v *store.KeyCheck) store.Record { return store.Record{KeyCheck: v} })},
	{prefixConsumer, decodeAs(func(v *store.ConsumerIdentity) store.Record { return store.Record{ConsumerIdentity: v} })},
	{prefixGrant, decodeAs(func(v *store.Grant) store.Record { return store.Record{Grant: v} })},
	{prefixToken, decodeAs(func(v *store.Token) store.Record { return store.Record{Token: v} })},
	{prefixCode, decodeAs(func(v *store.Code) store.Record { return store.Record{Code: v} })},
	{prefixSession, decodeAs(func(v *store.Session) store.Record { return store.Record{Session: v} })},
	{prefixPending, decodeAs(func(v *pendingRecord) store.Record { p := v.pending(); return store.Record{Pending: &p} })},
	{prefixConn, decodeAs(func(v *connRecord) store.Record { c := v.connection(); return store.Record{Connection: &c} })},
}

// decodeAs returns a decoder of JSON into a new T, wrapped by wrap.
func decodeAs[T any](wrap func(*T) store.Record) func([]byte) (store.Record, error) {
	return func(b []byte) (store.Record, error) {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return store.Record{}, err
		}
		return wrap(v), nil
	}
}

// Export calls fn with every live record, in one read transaction (a
// consistent snapshot), in the order store.Copier documents. Liveness is
// judged by the store's clock when it starts, as reads judge it: a record
// past its expiry is left out even while its TTL keeps it, and so is a
// token whose grant is gone (revoked grants leave their tokens to their
// TTLs).
func (s *Store) Export(ctx context.Context, fn func(store.Record) error) error {
	now := s.now()
	return s.view(ctx, func(txn *badger.Txn) error {
		for _, kind := range exportOrder {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = []byte(kind.prefix)
			it := txn.NewIterator(opts)
			err := func() error {
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					if err := ctx.Err(); err != nil {
						return err
					}
					item := it.Item()
					b, err := item.ValueCopy(nil)
					if err != nil {
						return err
					}
					r, err := kind.decode(b)
					if err != nil {
						return fmt.Errorf("decoding %q: %w", item.Key(), err)
					}
					ok, err := live(txn, r, now)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
					if err := fn(r); err != nil {
						return err
					}
				}
				return nil
			}()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// ImportGrant writes a grant as it is, with its index entries and expiry.
func (s *Store) ImportGrant(ctx context.Context, g store.Grant) error {
	return s.update(ctx, func(txn *badger.Txn) error { return putGrant(txn, nil, g) })
}

// ImportToken writes a token as it is, until its expiry.
func (s *Store) ImportToken(ctx context.Context, t store.Token) error {
	return s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, key(prefixToken, t.Hash), t, t.Expiry())
	})
}

// live reports whether r is live at now: not expired and, for a token,
// of a live grant.
func live(txn *badger.Txn, r store.Record, now time.Time) (bool, error) {
	if expired(expiryOf(r), now) {
		return false, nil
	}
	if r.Token == nil {
		return true, nil
	}
	var g store.Grant
	err := getLiveGrant(txn, r.Token.GrantID, now, &g)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// expiryOf returns when r expires; zero for the kinds that never do.
func expiryOf(r store.Record) time.Time {
	switch {
	case r.SigningKey != nil:
		return r.SigningKey.ExpiresAt
	case r.Grant != nil:
		return r.Grant.ExpiresAt
	case r.Token != nil:
		return r.Token.Expiry()
	case r.Code != nil:
		return r.Code.ExpiresAt
	case r.Session != nil:
		return r.Session.ExpiresAt
	case r.Pending != nil:
		return r.Pending.ExpiresAt
	}
	return time.Time{}
}

// Interface guards
var _ store.Copier = (*Store)(nil)
