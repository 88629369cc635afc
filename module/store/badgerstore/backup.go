package badgerstore

import (
	"context"
	"fmt"
	"io"

	"github.com/applinks/caddy-applinks/module/store"
)

// restorePendingWrites bounds the writes Restore keeps in flight.
const restorePendingWrites = 256

// Backup writes Badger's backup stream of every live record to w: a
// consistent snapshot taken while the store stays in use.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.db.Backup(w, 0); err != nil {
		return fmt.Errorf("writing badger backup: %w", err)
	}
	return nil
}

// Restore loads a backup stream written by Backup into the store, which
// must hold no gateway yet.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	if err := store.CheckEmpty(ctx, s); err != nil {
		return err
	}
	if err := s.db.Load(r, restorePendingWrites); err != nil {
		return fmt.Errorf("loading badger backup: %w", err)
	}
	return nil
}

// Interface guards
var _ store.Backuper = (*Store)(nil)
