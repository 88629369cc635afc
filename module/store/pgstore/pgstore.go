// Package pgstore is the applinks storage backend for clusters: a PostgreSQL database that several gateways share.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
)

const (
	// maxAttempts bounds how often a transaction runs when PostgreSQL
	// reports a serialization failure or a deadlock.
	maxAttempts = 16

	// Pool settings used unless the DSN sets them (pool_max_conns,
	// pool_health_check_period, pool_max_conn_lifetime_jitter).
	minPoolConns       = 4
	poolConnsPerProc   = 4
	defaultHealthCheck = 30 * time.Second
	// defaultConnectTimeout bounds a connection attempt when the DSN has
	// no connect_timeout, so that an unreachable server gives a 503 soon
	// instead of requests hanging.
	defaultConnectTimeout = 5 * time.Second
	defaultLifetimeJitter = 5 * time.Minute

	// applicationName names the gateway's sessions in pg_stat_activity
	// unless the DSN sets application_name.
	applicationName = "caddy-applinks"
)

// SQLSTATE codes the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// Options tunes a Store. The zero value is ready to use.
type Options struct {
	// Now is the clock by which expiring records are judged: every read
	// leaves out a record whose expiry is not after Now(), and
	// GarbageCollect is given its own time. Each gateway of a cluster
	// judges by its own clock, never by the database server's. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives the store's warnings, such as a lost connection
	// of Listen; nil discards them.
	Logger *zap.Logger
}

// Store is a store.Store and store.Shared kept in a PostgreSQL database.
// Every read-modify-write is one transaction that locks the rows it reads
// (SELECT … FOR UPDATE) and is run again, calling the updater closure
// again, when PostgreSQL reports a serialization failure or a deadlock;
// it fails with store.ErrConflict after a bounded number of attempts.
// Errors returned by updater closures are returned unchanged; a unique
// violation is store.ErrAlreadyExists.
type Store struct {
	pool *pgxpool.Pool
	// listen configures the connections of Listen, which are not taken
	// from the pool.
	listen *pgx.ConnConfig
	now    func() time.Time
	logger *zap.Logger
}

// Open connects to the database that dsn names (a PostgreSQL URL or
// keyword/value string, with pgxpool's pool_* settings) and brings its
// schema up to date. Pool settings the DSN leaves out default to
// 4×GOMAXPROCS connections (at least 4), a health check every 30 s and
// connections replaced after an hour (spread over 5 minutes). Open fails
// when the database's schema is newer than this build knows.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := poolConfig(dsn)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres pool: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{
		pool:   pool,
		listen: cfg.ConnConfig.Copy(),
		now:    opts.Now,
		logger: opts.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	return s, nil
}

// Close closes every connection of the pool, waiting for those in use to
// be released.
func (s *Store) Close() {
	s.pool.Close()
}

// poolConfig parses dsn and sets the pool defaults the DSN leaves out.
func poolConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing postgres DSN: %w", err)
	}
	// pgxpool takes its settings out of the parsed runtime parameters and
	// sets its own defaults; a second parse tells which the DSN named.
	given, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing postgres DSN: %w", err)
	}
	named := func(key string) bool {
		_, ok := given.RuntimeParams[key]
		return ok
	}
	if !named("pool_max_conns") {
		cfg.MaxConns = int32(max(minPoolConns, poolConnsPerProc*runtime.GOMAXPROCS(0)))
	}
	if !named("pool_health_check_period") {
		cfg.HealthCheckPeriod = defaultHealthCheck
	}
	if !named("pool_max_conn_lifetime_jitter") {
		cfg.MaxConnLifetimeJitter = defaultLifetimeJitter
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if !named("application_name") {
		cfg.ConnConfig.RuntimeParams["application_name"] = applicationName
	}
	return cfg, nil
}

// updaterError carries an error of an updater closure out of a
// transaction. It does not unwrap, so that tx never mistakes it for a
// database error to retry on; failed returns the updater's error itself.
type updaterError struct{ err error }

func (e updaterError) Error() string { return e.err.Error() }

// errRetry makes tx run a transaction again: a row it found missing and
// meant to create was created meanwhile by a concurrent writer.
var errRetry = errors.New("row created by a concurrent writer")

// retry runs once, and again when it fails with a serialization failure,
// a deadlock or errRetry, up to maxAttempts times.
func (s *Store) retry(ctx context.Context, once func() error) error {
	for attempt := 1; ; attempt++ {
		err := once()
		if !retryable(err) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("%w: gave up after %d attempts: %w", store.ErrConflict, attempt, err)
		}
		// Jittered, growing pause so that contenders spread out.
		pause := time.NewTimer(rand.N(time.Duration(attempt) * time.Millisecond))
		select {
		case <-ctx.Done():
			pause.Stop()
			return ctx.Err()
		case <-pause.C:
		}
	}
}

// tx runs fn in a read-committed transaction and commits it, running it
// again as retry does.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.retry(ctx, func() error { return s.txOnce(ctx, fn) })
}

// txOnce runs fn in a transaction, committing when fn succeeds and rolling
// back otherwise.
func (s *Store) txOnce(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// A failed rollback closes the connection, which ends the
		// transaction on the server too.
		_ = tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

// update runs a read-modify-write transaction in two round trips, for the
// token endpoint's hot paths: one batch opens the transaction and runs the
// locking read that read queues (its callbacks keep what they read), and
// once write has queued the writes on another batch, that batch runs them
// and commits. It is run again as retry does.
func (s *Store) update(ctx context.Context, read func(b *pgx.Batch), write func(b *pgx.Batch) error) error {
	return s.retry(ctx, func() error { return s.updateOnce(ctx, read, write) })
}

// updateOnce runs update's transaction once, rolling it back on failure.
func (s *Store) updateOnce(ctx context.Context, read func(b *pgx.Batch), write func(b *pgx.Batch) error) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer func() {
		// A statement that failed in a batch leaves the transaction open
		// and aborted (the server skips the rest of the batch, COMMIT
		// included). A connection that cannot roll back is closed; the
		// pool would not take it back within a transaction anyway.
		if err != nil {
			if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
				_ = conn.Conn().Close(ctx)
			}
		}
	}()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	read(b)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	w := &pgx.Batch{}
	if err := write(w); err != nil {
		return err
	}
	w.Queue("COMMIT")
	return conn.SendBatch(ctx, w).Close()
}

// retryable reports whether a transaction that failed with err may
// succeed when run again.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected)
}

// failed turns the error of an operation into what the store returns: an
// updater's error unchanged, store.ErrNotFound for a missing row,
// store.ErrAlreadyExists for a unique violation, each prefixed with what
// was being done.
func failed(err error, doing string) error {
	var u updaterError
	if errors.As(err, &u) {
		return u.err
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = store.ErrNotFound
	case errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation:
		err = fmt.Errorf("%w (%s)", store.ErrAlreadyExists, pgErr.ConstraintName)
	case unreachable(err):
		err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// unreachable reports whether err means that the server could not be
// reached or that the connection to it was lost: it is down, restarting,
// refusing connections or on the other side of a broken network.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 is "connection exception"; 57P01–57P03 are the
		// server's shutdown and start-up refusals.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// nullTime is a timestamptz column in which NULL stands for the zero
// time: an expiry that is not set, a token not yet used. Pass nullTime(t)
// as a query argument and (*nullTime)(&t) as a scan target.
type nullTime time.Time

// TimestamptzValue encodes the zero time as NULL.
func (t nullTime) TimestamptzValue() (pgtype.Timestamptz, error) {
	tt := time.Time(t)
	return pgtype.Timestamptz{Time: tt, Valid: !tt.IsZero()}, nil
}

// ScanTimestamptz decodes NULL as the zero time.
func (t *nullTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*t = nullTime{}
		return nil
	}
	*t = nullTime(v.Time)
	return nil
}

// collect reads every row of a query, run with err as its error, into a
// T through the scan targets dest returns.
func collect[T any](rows pgx.Rows, err error, dest func(*T) []any) ([]T, error) {
	out := []T{}
	err = each(rows, err, dest, func(v T) error {
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each calls fn with every row of a query, run with err as its error,
// read into a T through the scan targets dest returns, one row at a
// time; an error from fn stops it and is returned.
func each[T any](rows pgx.Rows, err error, dest func(*T) []any, fn func(T) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := rows.Scan(dest(&v)...); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Interface guards
var (
	_ store.Store               = (*Store)(nil)
	_ store.Shared              = (*Store)(nil)
	_ pgtype.TimestamptzValuer  = nullTime{}
	_ pgtype.TimestamptzScanner = (*nullTime)(nil)
	_ error                     = updaterError{}
)
