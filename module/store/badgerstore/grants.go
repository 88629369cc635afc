package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateCode stores a new authorization code until c.ExpiresAt.
func (s *Store) CreateCode(ctx context.Context, c store.Code) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, key(prefixCode, c.Hash), c, c.ExpiresAt)
	})
	if err != nil {
		return fmt.Errorf("creating code: %w", err)
	}
	return nil
}

// RedeemCode loads the live code with the given hash and calls fn with it. The
// code (its GrantID set to the new grant's id, its expiry unchanged), the
// grant with its index entries, the tokens and the deletions of the Issue
// are committed in one transaction; nothing is written when fn fails, and
// fn's error is returned unchanged. fn may run more than once: when a
// concurrent redemption commits first, fn runs again and sees the code
// redeemed.
func (s *Store) RedeemCode(ctx context.Context, codeHash []byte, fn func(store.Code) (store.Issue, error)) (store.Issue, error) {
	var (
		issue store.Issue
		fnErr error
	)
	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		fnErr = nil
		k := key(prefixCode, codeHash)
		var c store.Code
		if err := getJSON(txn, k, &c); err != nil {
			return err
		}
		if expired(c.ExpiresAt, now) {
			return store.ErrNotFound
		}
		iss, err := fn(c)
		if err != nil {
			fnErr = err
			return err
		}
		if iss.Grant.ID == "" {
			return errors.New("the issue has no grant id")
		}
		c.GrantID = iss.Grant.ID
		if err := setJSON(txn, k, c, c.ExpiresAt); err != nil {
			return err
		}
		if err := writeIssue(txn, nil, iss); err != nil {
			return err
		}
		issue = iss
		return nil
	})
	if fnErr != nil {
		return store.Issue{}, fnErr
	}
	if err != nil {
		return store.Issue{}, fmt.Errorf("redeeming code: %w", err)
	}
	return issue, nil
}

// RotateRefresh loads the refresh token with the given hash and its grant
// and calls fn. The token as fn left it (with the expiry it now has), the
// deletions, the tokens and the grant of the Issue (whose id must be the
// token's grant id) are committed in one transaction; nothing is written
// when fn fails, and fn's error is returned unchanged. store.ErrNotFound,
// without calling fn, when the token or its grant is gone. fn may run more
// than once: when a concurrent rotation commits first, fn runs again with
// the token and grant that rotation left.
func (s *Store) RotateRefresh(ctx context.Context, refreshHash []byte, fn func(*store.Grant, *store.Token) (store.Issue, error)) (store.Issue, error) {
	var (
		issue store.Issue
		fnErr error
	)
	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		fnErr = nil
		k := key(prefixToken, refreshHash)
		var (
			tok store.Token
			g   store.Grant
		)
		if err := getTokenGrant(txn, k, now, &tok, &g); err != nil {
			return err
		}
		old := g
		iss, err := fn(&g, &tok)
		if err != nil {
			fnErr = err
			return err
		}
		if iss.Grant.ID != old.ID {
			return fmt.Errorf("the issue's grant id %q is not the token's %q", iss.Grant.ID, old.ID)
		}
		if err := setJSON(txn, k, tok, tok.Expiry()); err != nil {
			return err
		}
		if err := writeIssue(txn, &old, iss); err != nil {
			return err
		}
		issue = iss
		return nil
	})
	if fnErr != nil {
		return store.Issue{}, fnErr
	}
	if err != nil {
		return store.Issue{}, fmt.Errorf("rotating refresh token: %w", err)
	}
	return issue, nil
}

// LookupToken returns the token with the given hash and its grant;
// store.ErrNotFound when either is gone or expired.
func (s *Store) LookupToken(ctx context.Context, hash []byte) (store.Token, store.Grant, error) {
	var (
		tok store.Token
		g   store.Grant
	)
	now := s.now()
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getTokenGrant(txn, key(prefixToken, hash), now, &tok, &g)
	})
	if err != nil {
		return store.Token{}, store.Grant{}, fmt.Errorf("looking up token: %w", err)
	}
	return tok, g, nil
}

// GetGrant returns the live grant with the given id.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	var g store.Grant
	now := s.now()
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getLiveGrant(txn, id, now, &g)
	})
	if err != nil {
		return store.Grant{}, fmt.Errorf("getting grant %q: %w", id, err)
	}
	return g, nil
}

// ListGrants returns the live grants of one user (filter.UserID set), of
// one link (filter.LinkID set), of one user through one link (both set),
// or all of them (both empty), ordered by id. The user and link filters
// read an index; listing all grants scans them.
func (s *Store) ListGrants(ctx context.Context, filter store.GrantFilter) ([]store.Grant, error) {
	grants := []store.Grant{}
	now := s.now()
	err := s.view(ctx, func(txn *badger.Txn) error {
		var ids []string
		switch {
		case filter.UserID != "":
			ids, _ = scanIndex(txn, skey(prefixGrantUser, filter.UserID, "\x00"), 0)
		case filter.LinkID != "":
			ids, _ = scanIndex(txn, skey(prefixGrantLink, filter.LinkID, "\x00"), 0)
		default:
			return scanJSON(txn, prefixGrant, func() any {
				grants = append(grants, store.Grant{})
				return &grants[len(grants)-1]
			})
		}
		for _, id := range ids {
			var g store.Grant
			err := getJSON(txn, skey(prefixGrant, id), &g)
			if errors.Is(err, store.ErrNotFound) {
				// The index entry outlived its grant.
				continue
			}
			if err != nil {
				return err
			}
			grants = append(grants, g)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing grants: %w", err)
	}
	both := filter.UserID != "" && filter.LinkID != ""
	grants = slices.DeleteFunc(grants, func(g store.Grant) bool {
		return expired(g.ExpiresAt, now) || (both && g.LinkID != filter.LinkID)
	})
	return grants, nil
}

// DeleteGrant removes a grant and its index entries, revoking its whole
// token family (the tokens themselves expire on their own). Deleting a
// grant that is already gone is not an error.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		return deleteGrant(txn, id)
	})
	if err != nil {
		return fmt.Errorf("deleting grant %q: %w", id, err)
	}
	return nil
}

// getTokenGrant reads the token at k and its grant; store.ErrNotFound when
// either is gone or expired at now.
func getTokenGrant(txn *badger.Txn, k []byte, now time.Time, tok *store.Token, g *store.Grant) error {
	if err := getJSON(txn, k, tok); err != nil {
		return err
	}
	if expired(tok.Expiry(), now) {
		return store.ErrNotFound
	}
	return getLiveGrant(txn, tok.GrantID, now, g)
}

// getLiveGrant reads the grant with the given id into g; store.ErrNotFound
// when it is gone or expired at now.
func getLiveGrant(txn *badger.Txn, id string, now time.Time, g *store.Grant) error {
	if err := getJSON(txn, skey(prefixGrant, id), g); err != nil {
		return err
	}
	if expired(g.ExpiresAt, now) {
		return store.ErrNotFound
	}
	return nil
}

// writeIssue stores the grant (old is its stored version, nil for a new
// grant), deletes the listed tokens and stores the new ones.
func writeIssue(txn *badger.Txn, old *store.Grant, iss store.Issue) error {
	for _, h := range iss.Delete {
		if err := txn.Delete(key(prefixToken, h)); err != nil {
			return err
		}
	}
	for _, t := range iss.Tokens {
		if err := setJSON(txn, key(prefixToken, t.Hash), t, t.Expiry()); err != nil {
			return err
		}
	}
	return putGrant(txn, old, iss.Grant)
}

// putGrant stores g and (re)writes its index entries when they are new,
// point elsewhere or must carry a different expiry. old is the stored
// version of g, nil for a new grant.
func putGrant(txn *badger.Txn, old *store.Grant, g store.Grant) error {
	exp := expiresAt(g.ExpiresAt)
	if err := setJSON(txn, skey(prefixGrant, g.ID), g, g.ExpiresAt); err != nil {
		return err
	}
	rewrite := old == nil || expiresAt(old.ExpiresAt) != exp
	oldUser, oldLink := g.UserID, g.LinkID
	if old != nil {
		oldUser, oldLink = old.UserID, old.LinkID
	}
	if err := putGrantIndex(txn, prefixGrantUser, oldUser, g.UserID, g.ID, exp, rewrite); err != nil {
		return err
	}
	return putGrantIndex(txn, prefixGrantLink, oldLink, g.LinkID, g.ID, exp, rewrite)
}

// putGrantIndex moves the index entry of grant id from oldValue to value
// and writes it with the grant's expiry when it moved or rewrite is set.
func putGrantIndex(txn *badger.Txn, prefix, oldValue, value, id string, exp uint64, rewrite bool) error {
	if oldValue != value {
		if err := txn.Delete(skey(prefix, oldValue, "\x00", id)); err != nil {
			return err
		}
		rewrite = true
	}
	if !rewrite {
		return nil
	}
	return set(txn, skey(prefix, value, "\x00", id), []byte{}, exp)
}

// deleteGrant deletes the grant with the given id and its index entries;
// nothing when it is gone.
func deleteGrant(txn *badger.Txn, id string) error {
	var g store.Grant
	err := getJSON(txn, skey(prefixGrant, id), &g)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range [][]byte{
		skey(prefixGrant, id),
		skey(prefixGrantUser, g.UserID, "\x00", id),
		skey(prefixGrantLink, g.LinkID, "\x00", id),
	} {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
