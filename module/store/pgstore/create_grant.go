package pgstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateGrant stores a grant issued without a code and its tokens in one
// implicit transaction (a batch), applying iss.Delete too.
func (s *Store) CreateGrant(ctx context.Context, iss store.Issue) error {
	if iss.Grant.ID == "" {
		return errors.New("creating grant: the issue has no grant id")
	}
	b := &pgx.Batch{}
	queueIssue(b, iss)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return failed(err, "creating grant "+strconv.Quote(iss.Grant.ID))
	}
	return nil
}
