package pgstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles holds the schema migrations, migrations/NNNN_name.sql,
// applied in the order of their numbers. They only go forward: a released
// migration is never edited; a change of schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one step of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationLock is the advisory lock key under which migrations run, so
// that of gateways starting at once one migrates and the others wait and
// find the schema up to date.
var migrationLock = lockKey("schema migrations")

// migrations returns the embedded migrations in order. Their numbers
// start at 1 and have no gaps.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("migration file %s is not named NNNN_name.sql", f)
		}
		sql, err := fs.ReadFile(migrationFiles, f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: name, sql: string(sql)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %d (%s) follows %d: versions must count up from 1", m.version, m.name, i)
		}
	}
	return out, nil
}

// migrate brings the database's schema up to the newest embedded
// migration in one transaction that holds the migration lock. It refuses
// a database whose schema is newer than this build knows.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	steps, err := migrations()
	if err != nil {
		return fmt.Errorf("loading schema migrations: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if known := len(steps); current > known {
			return fmt.Errorf("the database schema is at version %d, but this build of caddy-applinks knows versions up to %d: run a newer build (migrations only go forward)", current, known)
		}
		for _, m := range steps[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("applying migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("recording migration %d (%s): %w", m.version, m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrating the postgres schema: %w", err)
	}
	return nil
}

// lockKey is the advisory lock key of name: its FNV-1a hash, in a
// namespace of the gateway's own.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("caddy-applinks\x00" + name))
	return int64(h.Sum64())
}
