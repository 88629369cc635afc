package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/module/store"
)

// migrateStoreCommand is `migrate-store`: it copies every record of one
// storage backend into another, offline (the gateway stopped), so that a
// gateway can move from Badger to PostgreSQL.
func migrateStoreCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate-store --from '<storage>' --to '<storage>'",
		Short: "Copies every link, grant, token, session, user and key from one storage backend into another (run it with the gateway stopped)",
		Long: `
Copies every record of one storage backend into another, as it is: ids,
token hashes, sealed secrets and times unchanged, so tokens issued before
keep working. Each storage is written as in the Caddyfile's storage option,
placeholders such as {env.APPLINKS_DSN} included. Run it while no gateway
uses either store (Badger allows one opener), into a store that holds no
gateway yet. The gateway on the new store must use the same at-rest key: the
same secret_key, or the old key file (Badger's <dir>.key) given as the new
storage's key_file.`,
		Example: `  caddy applinks migrate-store --from 'badger /var/lib/caddy/.local/share/caddy/applinks' --to 'postgres {env.APPLINKS_DSN}'
  caddy applinks migrate-store --to 'postgres postgres://applinks@db.internal/applinks' --json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			from, _ := c.Flags().GetString("from")
			to, _ := c.Flags().GetString("to")
			asJSON, _ := c.Flags().GetBool("json")
			return migrateStore(c.Context(), output{w: c.OutOrStdout(), json: asJSON}, from, to)
		},
	}
	cmd.Flags().String("from", "badger", "The storage to copy from, as in the Caddyfile's storage option")
	cmd.Flags().String("to", "", "The storage to copy into, as in the Caddyfile's storage option")
	return cmd
}

// migrateStore opens the two storages and copies from into to.
func migrateStore(ctx context.Context, out output, from, to string) error {
	if to == "" {
		return errors.New("--to is required: the storage to copy into, e.g. --to 'postgres {env.APPLINKS_DSN}'")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	cctx, err := offlineContext()
	if err != nil {
		return err
	}
	src, srcName, closeSrc, err := openStorage(cctx, "--from", from)
	if err != nil {
		return err
	}
	defer func() { _ = closeSrc() }()
	dst, dstName, closeDst, err := openStorage(cctx, "--to", to)
	if err != nil {
		return err
	}
	defer func() { _ = closeDst() }()
	counts, err := store.Copy(ctx, src, dst)
	if err != nil {
		return fmt.Errorf("copying from %s to %s: %w", srcName, dstName, err)
	}
	// Closed before the copy is reported: Badger writes out what it holds
	// in memory as it closes.
	if err := closeDst(); err != nil {
		return fmt.Errorf("closing %s: %w", dstName, err)
	}
	if out.json {
		return out.document(counts)
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	rows := make([][]string, 0, len(kinds))
	for _, k := range kinds {
		rows = append(rows, []string{k, strconv.Itoa(counts[k])})
	}
	if err := out.line("Copied %s to %s.", srcName, dstName); err != nil {
		return err
	}
	return out.table([]string{"RECORD", "COUNT"}, rows)
}

// offlineContext is the Caddy context of a command that opens storage
// modules itself, with no Caddy running: a configuration of its own gives
// them Caddy's default logger, to standard error, for warnings and errors
// only, so that the command prints its result, not the modules' chatter.
func offlineContext() (caddy.Context, error) {
	cctx, err := caddy.ProvisionContext(&caddy.Config{Logging: &caddy.Logging{Logs: map[string]*caddy.CustomLog{
		"default": {BaseLog: caddy.BaseLog{Level: "WARN"}},
	}}})
	if err != nil {
		return caddy.Context{}, fmt.Errorf("setting up logging: %w", err)
	}
	return cctx, nil
}

// openStorage loads, provisions and opens the storage module that spec
// names in Caddyfile syntax ("badger <dir>", "postgres <dsn>"). name is
// how messages name it; closeStore cleans the module up, closing the
// database, and may be called more than once.
func openStorage(ctx caddy.Context, flag, spec string) (st store.Store, name string, closeStore func() error, err error) {
	tokens, err := caddyfile.Tokenize([]byte(spec), flag)
	if err != nil || len(tokens) == 0 {
		return nil, "", nil, fmt.Errorf("%s %q: want a storage as in the Caddyfile, e.g. 'badger <dir>' or 'postgres <dsn>'", flag, spec)
	}
	d := caddyfile.NewDispenser(tokens)
	d.Next()
	id := "applinks.storage." + d.Val()
	if _, err := caddy.GetModule(id); err != nil {
		return nil, "", nil, fmt.Errorf("%s: unknown storage backend %q", flag, d.Val())
	}
	// UnmarshalModule takes the segment from the backend's name on.
	mod, err := caddyfile.UnmarshalModule(d, id)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", flag, err)
	}
	if p, ok := mod.(caddy.Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			return nil, "", nil, fmt.Errorf("%s: %w", flag, err)
		}
	}
	closeStore = func() error { return nil }
	if c, ok := mod.(caddy.CleanerUpper); ok {
		closeStore = c.Cleanup
	}
	backend, ok := mod.(store.Backend)
	if !ok {
		return nil, "", nil, fmt.Errorf("%s: module %s is not a storage backend", flag, id)
	}
	name = backend.Location()
	st, err = backend.OpenStore(ctx)
	if err != nil {
		_ = closeStore()
		return nil, "", nil, fmt.Errorf("%s: %w", flag, err)
	}
	return st, name, closeStore, nil
}
