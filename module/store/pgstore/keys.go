package pgstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/applinks/caddy-applinks/module/store"
)

// PutSigningKey creates or replaces a key. It is kept until k.ExpiresAt
// when that is set, forever otherwise; a key written with an expiry
// already past is never returned.
func (s *Store) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.ID == "" {
		return errors.New("putting signing key: empty id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, sealed, created_at, retired_at, expires_at)
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
	rows, err := s.pool.Query(ctx, `SELECT id, algorithm, sealed, created_at, retired_at, expires_at FROM signing_keys
		WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC, id`, s.now())
	keys, err := collect(rows, err, func(k *store.SigningKey) []any {
		return []any{&k.ID, &k.Algorithm, &k.Sealed, &k.CreatedAt, (*nullTime)(&k.RetiredAt), (*nullTime)(&k.ExpiresAt)}
	})
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
	_, err := s.pool.Exec(ctx, "INSERT INTO key_check (kind, mac, created_at) VALUES ($1, $2, $3)", c.Kind, c.MAC, c.CreatedAt)
	if err != nil {
		return failed(err, "creating key check")
	}
	return nil
}

// GetKeyCheck returns the key check; store.ErrNotFound when none is
// stored.
func (s *Store) GetKeyCheck(ctx context.Context) (store.KeyCheck, error) {
	var c store.KeyCheck
	err := s.pool.QueryRow(ctx, "SELECT kind, mac, created_at FROM key_check").Scan(&c.Kind, &c.MAC, &c.CreatedAt)
	if err != nil {
		return store.KeyCheck{}, failed(err, "reading key check")
	}
	return c, nil
}
