package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestDatabases: each database is new and empty, and apart from the
// others.
func TestDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.DSN(t), pgtest.DSN(t)
	if a == b {
		t.Fatalf("two databases with one DSN %s", a)
	}
	ca := connect(t, a)
	if _, err := ca.Exec(ctx, "CREATE TABLE marker (x int)"); err != nil {
		t.Fatal(err)
	}
	cb := connect(t, b)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table of one database is in the other")
	}
	var fsync string
	if err := cb.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" {
		t.Errorf("fsync is %s, want on", fsync)
	}
}

// TestStopStart: a server of a test's own stops, refusing connections,
// and starts again on the same data and port.
func TestStopStart(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.NewServer(t)
	dsn := srv.NewDatabase(t)
	c := connect(t, dsn)
	if _, err := c.Exec(ctx, "CREATE TABLE kept (x int)"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped server")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c = connect(t, dsn)
	if _, err := c.Exec(ctx, "INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatalf("the table did not survive the restart: %v", err)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
