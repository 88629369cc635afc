package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// Columns of signing_keys and key_check, in the order of signingKeyDest
// and keyCheckDest.
const (
	signingKeyColumns = "id, algorithm, sealed, created_at, retired_at, expires_at"
	keyCheckColumns   = "kind, mac, created_at, retired"
)

// PutSigningKey creates or replaces a key. It is kept until k.ExpiresAt
// when that is set, forever otherwise; a key written with an expiry
// already past is never returned.
func (s *Store) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.ID == "" {
		return errors.New("putting signing key: empty id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET algorithm = EXCLUDED.algorithm, sealed = EXCLUDED.sealed,
			created_at = EXCLUDED.created_at, retired_at = EXCLUDED.retired_at, expires_at = EXCLUDED.expires_at`,
		k.ID, k.Algorithm, k.Sealed, k.CreatedAt, nullTime(k.RetiredAt), nullTime(k.ExpiresAt))
	if err != nil {
		return failed(err, "putting signing key "+strconv.Quote(k.ID))
	}
	return nil
}

// ListSigningKeys returns the live keys, newest (by CreatedAt) first;
// keys created at the same instant are ordered by id.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+signingKeyColumns+" FROM signing_keys WHERE "+liveSigningKey("$1")+
		" ORDER BY created_at DESC, id", s.now())
	keys, err := collect(rows, err, signingKeyDest)
	if err != nil {
		return nil, failed(err, "listing signing keys")
	}
	return keys, nil
}

// DeleteSigningKey removes a key; a missing one is not an error.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM signing_keys WHERE id = $1", id); err != nil {
		return failed(err, "deleting signing key "+strconv.Quote(id))
	}
	return nil
}

// CreateKeyCheck stores the key check unless one is stored already
// (store.ErrAlreadyExists): the table holds one row at most, so that of
// two openers with different keys only the first one's check is kept.
func (s *Store) CreateKeyCheck(ctx context.Context, c store.KeyCheck) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO key_check ("+keyCheckColumns+") VALUES ($1, $2, $3, $4)", c.Kind, c.MAC, c.CreatedAt, c.Retired)
	if err != nil {
		return failed(err, "creating key check")
	}
	return nil
}

// GetKeyCheck returns the key check; store.ErrNotFound when none is
// stored.
func (s *Store) GetKeyCheck(ctx context.Context) (store.KeyCheck, error) {
	var c store.KeyCheck
	err := s.pool.QueryRow(ctx, "SELECT "+keyCheckColumns+" FROM key_check").Scan(keyCheckDest(&c)...)
	if err != nil {
		return store.KeyCheck{}, failed(err, "reading key check")
	}
	return c, nil
}

// UpdateKeyCheck runs fn on the key check, its row locked, and saves
// what fn left in the same transaction; store.ErrNotFound when none is
// stored.
func (s *Store) UpdateKeyCheck(ctx context.Context, fn func(*store.KeyCheck) error) (store.KeyCheck, error) {
	var updated store.KeyCheck
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var c store.KeyCheck
		if err := tx.QueryRow(ctx, "SELECT "+keyCheckColumns+" FROM key_check FOR UPDATE").Scan(keyCheckDest(&c)...); err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return updaterError{err}
		}
		if _, err := tx.Exec(ctx, "UPDATE key_check SET kind = $1, mac = $2, created_at = $3, retired = $4", c.Kind, c.MAC, c.CreatedAt, c.Retired); err != nil {
			return err
		}
		updated = c
		return nil
	})
	if err != nil {
		return store.KeyCheck{}, failed(err, "updating key check")
	}
	return updated, nil
}

// UpdateSigningKey runs fn on the live key of the id, its row locked, and
// saves what fn left in the same transaction; store.ErrNotFound when
// there is none.
func (s *Store) UpdateSigningKey(ctx context.Context, id string, fn func(*store.SigningKey) error) (store.SigningKey, error) {
	var updated store.SigningKey
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var k store.SigningKey
		err := tx.QueryRow(ctx, "SELECT "+signingKeyColumns+" FROM signing_keys WHERE id = $1 AND "+liveSigningKey("$2")+" FOR UPDATE", id, s.now()).
			Scan(signingKeyDest(&k)...)
		if err != nil {
			return err
		}
		if err := fn(&k); err != nil {
			return updaterError{err}
		}
		if k.ID != id {
			return fmt.Errorf("the id cannot change (to %q)", k.ID)
		}
		_, err = tx.Exec(ctx, `UPDATE signing_keys SET algorithm = $2, sealed = $3, created_at = $4, retired_at = $5, expires_at = $6 WHERE id = $1`,
			k.ID, k.Algorithm, k.Sealed, k.CreatedAt, nullTime(k.RetiredAt), nullTime(k.ExpiresAt))
		if err != nil {
			return err
		}
		updated = k
		return nil
	})
	if err != nil {
		return store.SigningKey{}, failed(err, "updating signing key "+strconv.Quote(id))
	}
	return updated, nil
}

// liveSigningKey is the condition that a signing key has not expired at
// the time in parameter p.
func liveSigningKey(p string) string {
	return "(expires_at IS NULL OR expires_at > " + p + ")"
}

// signingKeyDest returns the scan targets of signingKeyColumns.
func signingKeyDest(k *store.SigningKey) []any {
	return []any{&k.ID, &k.Algorithm, &k.Sealed, &k.CreatedAt, (*nullTime)(&k.RetiredAt), (*nullTime)(&k.ExpiresAt)}
}

// keyCheckDest returns the scan targets of keyCheckColumns.
func keyCheckDest(c *store.KeyCheck) []any {
	return []any{&c.Kind, &c.MAC, &c.CreatedAt, &c.Retired}
}
