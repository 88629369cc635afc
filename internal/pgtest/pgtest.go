// Package pgtest gives tests PostgreSQL databases: on a server it starts
// from the PostgreSQL binaries of the machine, or on the server that
// APPLINKS_TEST_POSTGRES names.
//
// A package whose tests use it stops the server it started when its test
// binary ends:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without PostgreSQL the tests that ask for a database are skipped, or
// fail when CI=true, so that a CI machine without it does not pass
// silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that holds the DSN of a server to use instead
// of starting one. Its role must be allowed to create databases.
const EnvDSN = "APPLINKS_TEST_POSTGRES"

// notFound is the message of a test skipped (or failed) for want of
// PostgreSQL.
const notFound = "PostgreSQL not found: install Debian's postgresql package, or set " + EnvDSN + " to a DSN"

// errNotFound means there are neither PostgreSQL binaries nor EnvDSN.
var errNotFound = errors.New(notFound)

// adminTimeout bounds the creation and removal of a database.
const adminTimeout = 30 * time.Second

// shared is the server of the test binary, started by the first test that
// asks for it and stopped by Main.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the tests of m, stops the server they started, if any, and
// exits with their result.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// DSN returns the DSN of a new, empty database on the shared server,
// dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}

// Shared returns the server of the test binary: the one EnvDSN names, or
// else one started on first use from the PostgreSQL binaries on PATH or
// in /usr/lib/postgresql/<version>/bin (the newest). Without either the
// test is skipped, or fails when CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			shared.srv = &Server{admin: dsn}
			return
		}
		shared.srv, shared.err = start()
	})
	if errors.Is(shared.err, errNotFound) {
		unavailable(t, notFound)
	}
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.srv
}

// NewServer starts a server for this test alone, stopped and removed when
// the test ends, for tests that stop and start it. It needs the
// PostgreSQL binaries, even when EnvDSN is set.
func NewServer(t testing.TB) *Server {
	t.Helper()
	srv, err := start()
	if errors.Is(err, errNotFound) {
		unavailable(t, "PostgreSQL binaries not found (this test starts and stops a server of its own): install Debian's postgresql package")
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.remove(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return srv
}

// unavailable skips the test, or fails it when CI=true.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// NewDatabase creates a new, empty database (from template0, UTF-8) with
// a random name and returns its DSN; the database is dropped, with
// whatever connections are left on it, when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := "applinks_test_" + strings.ToLower(rand.Text())
	if err := s.admin1(context.Background(), "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest: creating database: %v", err)
	}
	t.Cleanup(func() {
		if err := s.admin1(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(s.admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// admin1 runs one statement on the server's maintenance database.
func (s *Server) admin1(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn naming the database name instead of its own.
func withDatabase(dsn, name string) (string, error) {
	if !strings.Contains(dsn, "://") {
		// A keyword/value string: a later keyword wins.
		return dsn + " dbname=" + name, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// url's error would repeat the DSN, password and all.
		return "", fmt.Errorf("%s is not a valid URL", EnvDSN)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}
