package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/applinks/caddy-applinks/module/store"
)

// backupCommand is `backup <file>`: it writes a consistent backup of the
// running gateway's store to a new file.
func backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup <file>",
		Short: "Writes a consistent backup of the running gateway's Badger store to a new file (mode 0600); PostgreSQL is backed up with pg_dump",
		Long: `
Writes a backup of every record of the running gateway's store to <file>,
taken at one moment while the gateway keeps serving (Badger's backup
stream). The file is new (an existing one is not replaced) and readable by
its owner only: it holds token hashes and sealed secrets, which the at-rest
key opens, so keep the key (secret_key or the <dir>.key file) apart from it.
Restore it with 'caddy applinks restore'. A PostgreSQL store has no backup
of its own: use pg_dump.`,
		Example: "  caddy applinks backup /var/backups/applinks-$(date +%F).backup",
		Args:    cobra.ExactArgs(1),
		RunE:    run(backup),
	}
}

func backup(_ *cobra.Command, cl *client, out output, args []string) error {
	file := args[0]
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("%s exists: choose a new file name", file)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("creating the backup file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a no-op once renamed
	n, trailer, err := cl.download("/applinks/backup", tmp)
	if err == nil && trailer.Get(BackupStatusTrailer) != "complete" {
		err = errors.New("the backup was cut short (the gateway's log says why); nothing was written")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), file); err != nil {
		return fmt.Errorf("saving the backup as %s: %w", file, err)
	}
	if out.json {
		return out.document(map[string]any{"file": file, "bytes": n})
	}
	return out.line("Backed up %d bytes to %s.", n, file)
}

// restoreCommand is `restore <file> --to '<storage>'`: it loads a backup
// into an empty store, offline.
func restoreCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore <file> --to '<storage>'",
		Short: "Loads a backup written by 'caddy applinks backup' into a new, empty store (run it with no gateway on that store)",
		Long: `
Loads a backup written by 'caddy applinks backup' into the storage --to
names, as in the Caddyfile's storage option (default: Badger in Caddy's data
directory). The store must hold no gateway yet. Start the gateway on it with
the at-rest key the backup was made under: the same secret_key, or the old
key file copied to <dir>.key.`,
		Example: "  caddy applinks restore /var/backups/applinks-2026-12-01.backup --to 'badger /var/lib/caddy/applinks'",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			to, _ := c.Flags().GetString("to")
			asJSON, _ := c.Flags().GetBool("json")
			return restore(c.Context(), output{w: c.OutOrStdout(), json: asJSON}, args[0], to)
		},
	}
	cmd.Flags().String("to", "badger", "The storage to load the backup into, as in the Caddyfile's storage option")
	return cmd
}

// restore loads the backup file into the storage spec names.
func restore(ctx context.Context, out output, file, spec string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("opening the backup: %w", err)
	}
	defer f.Close()
	cctx, err := offlineContext()
	if err != nil {
		return err
	}
	st, name, closeStore, err := openStorage(cctx, "--to", spec)
	if err != nil {
		return err
	}
	defer func() { _ = closeStore() }()
	b, ok := st.(store.Backuper)
	if !ok {
		return fmt.Errorf("%s has no backup of its own to restore: restore PostgreSQL with pg_restore", name)
	}
	if err := b.Restore(ctx, f); err != nil {
		return fmt.Errorf("restoring %s into %s: %w", file, name, err)
	}
	if err := closeStore(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if out.json {
		return out.document(map[string]any{"file": file, "store": name})
	}
	return out.line("Restored %s into %s.", file, name)
}
