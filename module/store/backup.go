package store

import (
	"context"
	"io"
)

// Backuper is implemented by backends that write a consistent backup of
// themselves while in use, in their own format (Badger's backup stream),
// and load one into a new store. A backend without it is backed up with
// its database's own tools (PostgreSQL: pg_dump).
type Backuper interface {
	// Backup writes every record to w, as of one moment.
	Backup(ctx context.Context, w io.Writer) error
	// Restore loads a backup written by Backup into the store, which must
	// be empty (ErrNotEmpty otherwise).
	Restore(ctx context.Context, r io.Reader) error
}
