package applinks

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/applinks/caddy-applinks/module/store"
)

// ErrNoOnlineBackup means the storage backend writes no backup of its own:
// its database's tools back it up (pg_dump for PostgreSQL).
var ErrNoOnlineBackup = errors.New("this storage has no online backup of its own")

// Backup writes a consistent backup of the whole store to w while the
// gateway keeps serving (Badger's backup stream); ErrNoOnlineBackup for a
// backend without one.
func (a *App) Backup(ctx context.Context, w io.Writer) error {
	st, err := a.open()
	if err != nil {
		return err
	}
	b, ok := st.(store.Backuper)
	if !ok {
		return fmt.Errorf("%w: back up %s with its database's tools (pg_dump for PostgreSQL)", ErrNoOnlineBackup, a.backend.Location())
	}
	return b.Backup(ctx, w)
}
