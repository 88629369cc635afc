package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateRequestToken stores a new request token until t.ExpiresAt.
func (s *Store) CreateRequestToken(ctx context.Context, t store.RequestToken) error {
	if len(t.Hash) == 0 {
		return errors.New("creating request token: empty hash")
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, key(prefixReqToken, t.Hash), t, t.ExpiresAt)
	})
	if err != nil {
		return fmt.Errorf("creating request token: %w", err)
	}
	return nil
}

// GetRequestToken returns the live request token with the given hash.
func (s *Store) GetRequestToken(ctx context.Context, hash []byte) (store.RequestToken, error) {
	var t store.RequestToken
	now := s.now()
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getRequestToken(txn, hash, now, &t)
	})
	if err != nil {
		return store.RequestToken{}, fmt.Errorf("getting request token: %w", err)
	}
	return t, nil
}

// UpdateRequestToken runs fn on the live request token and writes what
// fn left, with the expiry it had, in one transaction (run again on a
// conflict); nothing is written when fn fails, and fn's error is returned
// unchanged.
func (s *Store) UpdateRequestToken(ctx context.Context, hash []byte, fn func(*store.RequestToken) error) (store.RequestToken, error) {
	var (
		out   store.RequestToken
		fnErr error
	)
	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		fnErr = nil
		var t store.RequestToken
		if err := getRequestToken(txn, hash, now, &t); err != nil {
			return err
		}
		exp := t.ExpiresAt
		if err := fn(&t); err != nil {
			fnErr = err
			return err
		}
		t.Hash, t.ExpiresAt = hash, exp
		out = t
		return setJSON(txn, key(prefixReqToken, hash), t, exp)
	})
	if fnErr != nil {
		return store.RequestToken{}, fnErr
	}
	if err != nil {
		return store.RequestToken{}, fmt.Errorf("updating request token: %w", err)
	}
	return out, nil
}

// RedeemRequestToken loads the live request token and calls fn; the token
// as fn left it (its expiry unchanged) and the Issue, when it has a grant,
// are committed in one transaction. fn may run more than once: when a
// concurrent redemption commits first, fn runs again and sees the token
// that one left.
func (s *Store) RedeemRequestToken(ctx context.Context, hash []byte, fn func(*store.RequestToken) (store.Issue, error)) (store.Issue, error) {
	var (
		issue store.Issue
		fnErr error
	)
	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		fnErr = nil
		var t store.RequestToken
		if err := getRequestToken(txn, hash, now, &t); err != nil {
			return err
		}
		exp := t.ExpiresAt
		iss, err := fn(&t)
		if err != nil {
			fnErr = err
			return err
		}
		t.Hash, t.ExpiresAt = hash, exp
		if err := setJSON(txn, key(prefixReqToken, hash), t, exp); err != nil {
			return err
		}
		if iss.Grant.ID != "" {
			if err := writeIssue(txn, nil, iss); err != nil {
				return err
			}
		}
		issue = iss
		return nil
	})
	if fnErr != nil {
		return store.Issue{}, fnErr
	}
	if err != nil {
		return store.Issue{}, fmt.Errorf("redeeming request token: %w", err)
	}
	return issue, nil
}

// RememberNonce stores n until n.ExpiresAt unless a live nonce of its hash
// is stored (store.ErrAlreadyExists). Badger's conflict detection makes
// one of two concurrent transactions that both found the key free start
// over, and that one then finds it taken.
func (s *Store) RememberNonce(ctx context.Context, n store.Nonce) error {
	if len(n.Hash) == 0 {
		return errors.New("remembering nonce: empty hash")
	}
	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		k := key(prefixNonce, n.Hash)
		var old store.Nonce
		err := getJSON(txn, k, &old)
		switch {
		case err == nil && !expired(old.ExpiresAt, now):
			return store.ErrAlreadyExists
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		return setJSON(txn, k, n, n.ExpiresAt)
	})
	if err != nil {
		return fmt.Errorf("remembering nonce: %w", err)
	}
	return nil
}

// getRequestToken reads the request token with the given hash into t;
// store.ErrNotFound when it is gone or expired at now.
func getRequestToken(txn *badger.Txn, hash []byte, now time.Time, t *store.RequestToken) error {
	if err := getJSON(txn, key(prefixReqToken, hash), t); err != nil {
		return err
	}
	if expired(t.ExpiresAt, now) {
		return store.ErrNotFound
	}
	return nil
}
