package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// requestTokenColumns are the columns of request_tokens, in the order of
// requestTokenDest and requestTokenArgs.
const requestTokenColumns = `hash, link_id, consumer_key, callback, sealed_secret, verifier_hash, user_id,
	scope, auth_time, used_at, grant_id, created_at, expires_at`

// CreateRequestToken stores a new request token until t.ExpiresAt; an
// existing one of the same hash is replaced.
func (s *Store) CreateRequestToken(ctx context.Context, t store.RequestToken) error {
	if len(t.Hash) == 0 {
		return errors.New("creating request token: empty hash")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO request_tokens (`+requestTokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (hash) DO UPDATE SET link_id = EXCLUDED.link_id, consumer_key = EXCLUDED.consumer_key,
			callback = EXCLUDED.callback, sealed_secret = EXCLUDED.sealed_secret,
			verifier_hash = EXCLUDED.verifier_hash, user_id = EXCLUDED.user_id, scope = EXCLUDED.scope,
			auth_time = EXCLUDED.auth_time, used_at = EXCLUDED.used_at, grant_id = EXCLUDED.grant_id,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`, requestTokenArgs(t)...)
	if err != nil {
		return failed(err, "creating request token")
	}
	return nil
}

// GetRequestToken returns the live request token with the given hash.
func (s *Store) GetRequestToken(ctx context.Context, hash []byte) (store.RequestToken, error) {
	var t store.RequestToken
	err := s.pool.QueryRow(ctx, "SELECT "+requestTokenColumns+" FROM request_tokens WHERE hash = $1 AND expires_at > $2", hash, s.now()).
		Scan(requestTokenDest(&t)...)
	if err != nil {
		return store.RequestToken{}, failed(err, "getting request token")
	}
	return t, nil
}

// UpdateRequestToken locks the live request token, runs fn on it and
// writes what fn left (its hash and expiry unchanged) in one transaction;
// nothing is written when fn fails, and fn's error is returned unchanged.
func (s *Store) UpdateRequestToken(ctx context.Context, hash []byte, fn func(*store.RequestToken) error) (store.RequestToken, error) {
	var t store.RequestToken
	err := s.update(ctx, func(b *pgx.Batch) {
		queueLockRequestToken(b, hash, s.now(), &t)
	}, func(b *pgx.Batch) error {
		exp := t.ExpiresAt
		if err := fn(&t); err != nil {
			return updaterError{err}
		}
		t.Hash, t.ExpiresAt = hash, exp
		queueWriteRequestToken(b, t)
		return nil
	})
	if err != nil {
		return store.RequestToken{}, failed(err, "updating request token")
	}
	return t, nil
}

// RedeemRequestToken locks the live request token and calls fn; the token
// as fn left it and the Issue, when it has a grant, are committed in one
// transaction. Concurrent redemptions wait for the lock, so fn sees what
// the one before left.
func (s *Store) RedeemRequestToken(ctx context.Context, hash []byte, fn func(*store.RequestToken) (store.Issue, error)) (store.Issue, error) {
	var (
		t     store.RequestToken
		issue store.Issue
	)
	err := s.update(ctx, func(b *pgx.Batch) {
		queueLockRequestToken(b, hash, s.now(), &t)
	}, func(b *pgx.Batch) error {
		exp := t.ExpiresAt
		iss, err := fn(&t)
		if err != nil {
			return updaterError{err}
		}
		t.Hash, t.ExpiresAt = hash, exp
		queueWriteRequestToken(b, t)
		if iss.Grant.ID != "" {
			queueIssue(b, iss)
		}
		issue = iss
		return nil
	})
	if err != nil {
		return store.Issue{}, failed(err, "redeeming request token")
	}
	return issue, nil
}

// RememberNonce inserts the nonce, or takes over the row of an expired
// one of the same hash, in one statement: of concurrent inserts one
// succeeds and the others find the row live (store.ErrAlreadyExists).
func (s *Store) RememberNonce(ctx context.Context, n store.Nonce) error {
	if len(n.Hash) == 0 {
		return errors.New("remembering nonce: empty hash")
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO nonces (hash, expires_at) VALUES ($1, $2)
		ON CONFLICT (hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE nonces.expires_at <= $3`,
		n.Hash, n.ExpiresAt, s.now())
	if err != nil {
		return failed(err, "remembering nonce")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("remembering nonce: %w", store.ErrAlreadyExists)
	}
	return nil
}

// queueLockRequestToken queues the locking read of the live request token
// with the given hash into t.
func queueLockRequestToken(b *pgx.Batch, hash []byte, now time.Time, t *store.RequestToken) {
	b.Queue("SELECT "+requestTokenColumns+" FROM request_tokens WHERE hash = $1 AND expires_at > $2 FOR UPDATE", hash, now).
		QueryRow(func(row pgx.Row) error {
			*t = store.RequestToken{}
			return row.Scan(requestTokenDest(t)...)
		})
}

// queueWriteRequestToken queues the update of a request token's row.
func queueWriteRequestToken(b *pgx.Batch, t store.RequestToken) {
	b.Queue(`UPDATE request_tokens SET link_id = $2, consumer_key = $3, callback = $4, sealed_secret = $5,
		verifier_hash = $6, user_id = $7, scope = $8, auth_time = $9, used_at = $10, grant_id = $11,
		created_at = $12, expires_at = $13 WHERE hash = $1`, requestTokenArgs(t)...)
}

// requestTokenDest returns the scan targets of requestTokenColumns.
func requestTokenDest(t *store.RequestToken) []any {
	return []any{&t.Hash, &t.LinkID, &t.ConsumerKey, &t.Callback, &t.SealedSecret, &t.VerifierHash, &t.UserID,
		&t.Scope, (*nullTime)(&t.AuthTime), (*nullTime)(&t.UsedAt), &t.GrantID, &t.CreatedAt, &t.ExpiresAt}
}

// requestTokenArgs returns the values of requestTokenColumns.
func requestTokenArgs(t store.RequestToken) []any {
	return []any{t.Hash, t.LinkID, t.ConsumerKey, t.Callback, t.SealedSecret, t.VerifierHash, t.UserID,
		t.Scope, nullTime(t.AuthTime), nullTime(t.UsedAt), t.GrantID, t.CreatedAt, t.ExpiresAt}
}
