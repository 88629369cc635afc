package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateSession stores a session until s.ExpiresAt.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, key(prefixSession, sess.Hash), sess, sess.ExpiresAt)
	})
	if err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	return nil
}

// GetSession returns the live session with the given hash.
func (s *Store) GetSession(ctx context.Context, hash []byte) (store.Session, error) {
	var sess store.Session
	now := s.now()
	err := s.view(ctx, func(txn *badger.Txn) error {
		if err := getJSON(txn, key(prefixSession, hash), &sess); err != nil {
			return err
		}
		if expired(sess.ExpiresAt, now) {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("getting session: %w", err)
	}
	return sess, nil
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		return deletePresent(txn, key(prefixSession, hash))
	})
	if err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of one user and returns how
// many live ones there were. Sessions have no per-user index: it scans them all,
// which is cheap for the number of browsers signed in to one gateway and
// keeps sign-in to one write.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	var n int
	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		var doomed [][]byte
		live := 0
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixSession)
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var sess store.Session
			if err := item.Value(func(b []byte) error { return decode(item.Key(), b, &sess) }); err != nil {
				it.Close()
				return err
			}
			if sess.UserID == userID {
				doomed = append(doomed, item.KeyCopy(nil))
				if !expired(sess.ExpiresAt, now) {
					live++
				}
			}
		}
		it.Close()
		for _, k := range doomed {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		n = live
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("deleting sessions of user %q: %w", userID, err)
	}
	return n, nil
}

// PutUser creates or replaces a user.
func (s *Store) PutUser(ctx context.Context, u store.User) error {
	if u.Name == "" {
		return errors.New("putting user: empty name")
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, skey(prefixUser, u.Name), u, time.Time{})
	})
	if err != nil {
		return fmt.Errorf("putting user %q: %w", u.Name, err)
	}
	return nil
}

// GetUser returns the user with the given name.
func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	var u store.User
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getJSON(txn, skey(prefixUser, name), &u)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("getting user %q: %w", name, err)
	}
	return u, nil
}

// UpdateUser runs fn on the stored user, or on a new one with only its
// name set, and saves the result in one transaction; nothing is written
// when fn fails, and fn's error is returned unchanged. fn may run more
// than once: when a concurrent update commits first, fn runs again with
// what that update left. Changing the name is an error.
func (s *Store) UpdateUser(ctx context.Context, name string, fn func(*store.User, bool) error) (store.User, error) {
	if name == "" {
		return store.User{}, errors.New("updating user: empty name")
	}
	return updateJSON(ctx, s, fmt.Sprintf("user %q", name), skey(prefixUser, name),
		func() store.User { return store.User{Name: name} },
		fn,
		func(_ *badger.Txn, _ store.User, u *store.User) error {
			return sameKey("name", name, u.Name)
		})
}

// ListUsers returns all stored users ordered by name (byte-wise, the
// order of their keys).
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	users := []store.User{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixUser, func() any {
			users = append(users, store.User{})
			return &users[len(users)-1]
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return users, nil
}

// DeleteUser removes a user; a missing one is not an error.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		return deletePresent(txn, skey(prefixUser, name))
	})
	if err != nil {
		return fmt.Errorf("deleting user %q: %w", name, err)
	}
	return nil
}
