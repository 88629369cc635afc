package pgstore

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/internal/pgtest"
)

// TestMigrationsNumbered: the embedded migrations count up from 1.
func TestMigrationsNumbered(t *testing.T) {
	steps, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range steps {
		if m.version != i+1 || m.name == "" || m.sql == "" {
			t.Errorf("migration %d: version %d, name %q, %d bytes of SQL", i, m.version, m.name, len(m.sql))
		}
	}
}

// TestMigrateRace: gateways that start at once on a fresh database all
// open it, and each migration is applied once.
func TestMigrateRace(t *testing.T) {
	dsn := pgtest.DSN(t)
	const openers = 4
	var (
		wg   sync.WaitGroup
		errs = make([]error, openers)
	)
	start := make(chan struct{})
	for i := range openers {
		wg.Go(func() {
			<-start
			s, err := Open(context.Background(), dsn, Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	steps, _ := migrations()
	var rows, versions int
	query(t, dsn, "SELECT count(*), count(DISTINCT version) FROM schema_migrations", &rows, &versions)
	if rows != len(steps) || versions != len(steps) {
		t.Errorf("schema_migrations has %d rows of %d versions, want one row for each of %d", rows, versions, len(steps))
	}
	// Opening an up-to-date database changes nothing.
	open(t, dsn, Options{})
	query(t, dsn, "SELECT count(*) FROM schema_migrations", &rows)
	if rows != len(steps) {
		t.Errorf("schema_migrations has %d rows after another Open, want %d", rows, len(steps))
	}
}

// TestMigrateNewerSchema: a database that a newer build migrated is
// refused with a message that says so, and left as it is.
func TestMigrateNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	open(t, dsn, Options{}).Close()
	exec(t, dsn, "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')")
	s, err := Open(context.Background(), dsn, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	for _, want := range []string{"version 9999", "newer build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	var n int
	query(t, dsn, "SELECT count(*) FROM schema_migrations WHERE version = 9999", &n)
	if n != 1 {
		t.Error("the refused Open changed schema_migrations")
	}
}

// exec runs a statement on dsn.
func exec(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	conn := connect(t, dsn)
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// query scans the one row of a query on dsn into dest.
func query(t *testing.T, dsn, sql string, dest ...any) {
	t.Helper()
	conn := connect(t, dsn)
	if err := conn.QueryRow(context.Background(), sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// connect opens a connection to dsn, closed when the test ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
