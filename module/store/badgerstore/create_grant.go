package badgerstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateGrant stores a grant issued without a code and its tokens in one
// transaction, applying iss.Delete too.
func (s *Store) CreateGrant(ctx context.Context, iss store.Issue) error {
	if iss.Grant.ID == "" {
		return errors.New("creating grant: the issue has no grant id")
	}
	err := s.update(ctx, func(txn *badger.Txn) error { return writeIssue(txn, nil, iss) })
	if err != nil {
		return fmt.Errorf("creating grant %q: %w", iss.Grant.ID, err)
	}
	return nil
}
