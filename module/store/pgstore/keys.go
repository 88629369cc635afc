package pgstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/applinks/caddy-applinks/module/store"
)

// Columns of signing_keys and key_check, in the order of signingKeyDest
// and keyCheckDest.
const (
	signingKeyColumns = "id, algorithm, sealed, created_at, retired_at, expires_at"
	keyCheckColumns   = "kind, mac, created_at"
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
	_, err := s.pool.Exec(ctx, "INSERT INTO key_check ("+keyCheckColumns+") VALUES ($1, $2, $3)", c.Kind, c.MAC, c.CreatedAt)
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
	return []any{&c.Kind, &c.MAC, &c.CreatedAt}
}
