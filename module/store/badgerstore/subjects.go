package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateSubject stores the subject of sub.UserID; store.ErrAlreadyExists
// when the user has one.
func (s *Store) CreateSubject(ctx context.Context, sub store.Subject) error {
	if sub.UserID == "" {
		return errors.New("creating subject: empty user id")
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		k := skey(prefixSubject, sub.UserID)
		taken, err := exists(txn, k)
		if err != nil {
			return err
		}
		if taken {
			return store.ErrAlreadyExists
		}
		return setJSON(txn, k, sub, time.Time{})
	})
	if err != nil {
		return fmt.Errorf("creating subject of user %q: %w", sub.UserID, err)
	}
	return nil
}

// PutSubject creates or replaces the subject of sub.UserID.
func (s *Store) PutSubject(ctx context.Context, sub store.Subject) error {
	if sub.UserID == "" {
		return errors.New("putting subject: empty user id")
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, skey(prefixSubject, sub.UserID), sub, time.Time{})
	})
	if err != nil {
		return fmt.Errorf("putting subject of user %q: %w", sub.UserID, err)
	}
	return nil
}

// GetSubject returns the subject of the user.
func (s *Store) GetSubject(ctx context.Context, userID string) (store.Subject, error) {
	var sub store.Subject
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getJSON(txn, skey(prefixSubject, userID), &sub)
	})
	if err != nil {
		return store.Subject{}, fmt.Errorf("getting subject of user %q: %w", userID, err)
	}
	return sub, nil
}

// DeleteSubject removes the subject of the user; a missing one is not an
// error.
func (s *Store) DeleteSubject(ctx context.Context, userID string) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		return deletePresent(txn, skey(prefixSubject, userID))
	})
	if err != nil {
		return fmt.Errorf("deleting subject of user %q: %w", userID, err)
	}
	return nil
}
