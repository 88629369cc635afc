// Package badgerstore is the default applinks storage backend, an embedded Badger database in a local directory.
package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
)

// Key layout. Every prefix ends in '/' and no prefix is a prefix of
// another, so prefix scans never mix record kinds:
//
//	l/<id>                  link (JSON)
//	lc/<client id>          link id, client-id uniqueness index
//	ln/<name>               link id, name uniqueness index
//	c/<hash>                authorization code (JSON), TTL ExpiresAt
//	g/<id>                  grant (JSON), TTL ExpiresAt
//	gu/<user>\x00<grant id> empty, grant-by-user index, TTL of the grant
//	gl/<link>\x00<grant id> empty, grant-by-link index, TTL of the grant
//	t/<hash>                token (JSON), TTL Token.Expiry()
//	s/<hash>                session (JSON), TTL ExpiresAt
//	u/<name>                user (JSON)
//	id/<user>               subject of a user (JSON)
//	k/<id>                  signing key (JSON), TTL ExpiresAt when set
//	kc/                     the at-rest key check (JSON), one record
//	op/<state hash>         pending outgoing authorization (JSON), TTL
//	                        ExpiresAt
//	o/<link>\x00<user>      outgoing connection (JSON); <user> is empty for
//	                        a shared connection
//	ou/<user>\x00<link>     empty, connection-by-user index
//	ol/<name>               outgoing link (runtime-created)
//	rq/<hash>               OAuth 1.0a request token (JSON), TTL ExpiresAt
//	nc/<hash>               OAuth 1.0a nonce (JSON), TTL ExpiresAt
//	oc/                     the OAuth 1.0a consumer identity (JSON), one
//	                        record
//
// Ids that are joined with \x00 may not contain NUL, so that one link's
// (or user's) entries are exactly those under <id>\x00. The records of
// pending authorizations and connections hold their link and user ids as
// bytes (base64), so that ids that are not UTF-8 round-trip exactly.
const (
	prefixLink       = "l/"
	prefixLinkClient = "lc/"
	prefixLinkName   = "ln/"
	prefixCode       = "c/"
	prefixGrant      = "g/"
	prefixGrantUser  = "gu/"
	prefixGrantLink  = "gl/"
	prefixToken      = "t/"
	prefixSession    = "s/"
	prefixUser       = "u/"
	prefixSubject    = "id/"
	prefixSigningKey = "k/"
	prefixKeyCheck   = "kc/"
	prefixPending    = "op/"
	prefixConn       = "o/"
	prefixConnUser   = "ou/"
	prefixOutLink    = "ol/"
	prefixReqToken   = "rq/"
	prefixNonce      = "nc/"
	prefixConsumer   = "oc/"
)

const (
	// maxAttempts bounds how often a read-modify-write is run when Badger
	// reports a conflict with a concurrent transaction.
	maxAttempts = 16
	// gcDiscardRatio is the share of stale data that makes a value-log file
	// worth rewriting.
	gcDiscardRatio = 0.5
)

// Options tunes a Store. The zero value is ready to use.
type Options struct {
	// SyncWrites makes every commit msync the memtable WAL and value log
	// before it returns, so that acknowledged writes survive a power loss
	// or kernel crash. Without it a commit returns once the write is in the
	// memory-mapped log files, that is in the OS page cache: it survives a
	// crash of the process, but the last writes may be lost if the machine
	// goes down before the kernel writes the pages back.
	SyncWrites bool
	// Logger receives Badger's warnings and errors (informational messages
	// are dropped); nil discards them.
	Logger *zap.Logger
	// Now is the clock by which reads judge expiry: a record whose expiry
	// is not after Now() is not returned, even while its TTL (rounded up
	// to the second, and run by the system clock) keeps it. Nil means
	// time.Now.
	Now func() time.Time
}

// Store is a store.Store kept in a Badger database. Every operation is one
// Badger transaction; read-modify-write operations are retried from the
// start (calling the updater closure again) when Badger detects a conflict
// with a concurrent transaction, and fail with store.ErrConflict after a
// bounded number of attempts. Expiring records and their index entries
// carry Badger TTLs rounded up to the next whole second, so a record may
// outlive its ExpiresAt by less than one second, but reads do not return
// it once its expiry has passed by the store's clock (Options.Now). Errors
// returned by updater closures are returned unchanged. Value-log space is
// reclaimed by GarbageCollect, which the caller runs periodically.
type Store struct {
	db  *badger.DB
	now func() time.Time

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating it if needed) the Badger database in dir. Badger
// allows one opener per directory: a second Open of the same directory,
// in this or another process, fails until the first is closed.
//
// The database is tuned for a small footprint: 8 MiB memtables (at most
// two immutable ones waiting for flush), a 16 MiB block cache, 64 MiB
// value-log files and two compactors. Values are smaller than Badger's
// value threshold, so they live in the LSM tree and the memtable WAL; the
// value log only holds oversized records.
func Open(dir string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	bopts := badger.DefaultOptions(dir).
		WithSyncWrites(opts.SyncWrites).
		WithLogger(badgerLogger{logger.Sugar()}).
		WithMetricsEnabled(false).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2)
	db, err := badger.Open(bopts)
	if err != nil {
		return nil, fmt.Errorf("opening badger database in %s: %w", dir, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

// Close closes the database. It is safe to call more than once; later
// calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("closing badger database: %w", err)
		}
	})
	return s.closeErr
}

// update runs fn in a read-write transaction and commits it, starting over
// when the commit conflicts with a concurrent transaction.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("%w: gave up after %d attempts", store.ErrConflict, attempt)
		}
		// Jittered, growing pause so that contenders spread out.
		time.Sleep(rand.N(time.Duration(attempt) * 50 * time.Microsecond))
	}
}

// updateJSON is the read-modify-write of the store's Update methods, for
// a record that does not expire: in one transaction (retried on conflicts,
// see update) it reads the record at k, calls fn with it and writes back
// what fn left. When nothing is stored at k, fn gets missing() and exists
// false, or without missing the update fails with store.ErrNotFound and fn
// is not called. An error from fn aborts the update and is returned
// unchanged. after, when set, runs between fn and the write, in the same
// transaction, with the record as it was read (or missing()) and as fn
// left it: it checks what fn did and writes what goes with the record,
// such as index entries. Its errors and the store's are returned as
// "updating <what>: <cause>".
func updateJSON[T any](ctx context.Context, s *Store, what string, k []byte, missing func() T, fn func(v *T, exists bool) error, after func(txn *badger.Txn, old T, v *T) error) (T, error) {
	var (
		updated T
		fnErr   error
	)
	err := s.update(ctx, func(txn *badger.Txn) error {
		fnErr = nil
		var v T
		err := getJSON(txn, k, &v)
		exists := err == nil
		switch {
		case errors.Is(err, store.ErrNotFound) && missing != nil:
			v = missing()
		case err != nil:
			return err
		}
		old := v
		if err := fn(&v, exists); err != nil {
			fnErr = err
			return err
		}
		if after != nil {
			if err := after(txn, old, &v); err != nil {
				return err
			}
		}
		if err := setJSON(txn, k, v, time.Time{}); err != nil {
			return err
		}
		updated = v
		return nil
	})
	var zero T
	if fnErr != nil {
		return zero, fnErr
	}
	if err != nil {
		return zero, fmt.Errorf("updating %s: %w", what, err)
	}
	return updated, nil
}

// sameKey refuses an updater that changed the field (named for people)
// that a record is stored under: from want to got.
func sameKey(field, want, got string) error {
	if got != want {
		return fmt.Errorf("the %s cannot change (to %q)", field, got)
	}
	return nil
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// key joins a prefix and key parts into a Badger key.
func key(prefix string, parts ...[]byte) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// skey is key for string parts.
func skey(prefix string, parts ...string) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// expiresAt converts a record's expiry into a Badger expiry in Unix
// seconds, rounded up so that a record never disappears early. Zero means
// no expiry; a time before 1970 gives an already-expired entry.
func expiresAt(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	if sec < 1 {
		sec = 1
	}
	return uint64(sec)
}

// expired reports whether a record with expiry exp (zero: never) is past
// it at now.
func expired(exp, now time.Time) bool {
	return !exp.IsZero() && !exp.After(now)
}

// getJSON reads the record at k into v; store.ErrNotFound when absent or
// expired.
func getJSON(txn *badger.Txn, k []byte, v any) error {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error {
		return decode(item.Key(), b, v)
	})
}

// decode unmarshals the JSON value b stored at k into v.
func decode(k, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %q: %w", k, err)
	}
	return nil
}

// exists reports whether a live entry is stored at k.
func exists(txn *badger.Txn, k []byte) (bool, error) {
	_, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// setJSON stores v at k until exp (forever when exp is zero).
func setJSON(txn *badger.Txn, k []byte, v any, exp time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %q: %w", k, err)
	}
	return set(txn, k, b, expiresAt(exp))
}

// set stores value at k with a Badger expiry (0 for none).
func set(txn *badger.Txn, k, value []byte, exp uint64) error {
	e := badger.NewEntry(k, value)
	e.ExpiresAt = exp
	return txn.SetEntry(e)
}

// badgerLogger routes Badger's warnings and errors to zap and drops its
// informational and debug messages.
type badgerLogger struct {
	l *zap.SugaredLogger
}

// Errorf logs an error.
func (b badgerLogger) Errorf(format string, args ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// Warningf logs a warning.
func (b badgerLogger) Warningf(format string, args ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// Infof drops an informational message.
func (badgerLogger) Infof(string, ...any) {}

// Debugf drops a debug message.
func (badgerLogger) Debugf(string, ...any) {}

// GarbageCollect reclaims value-log space. Badger drops expired records
// by their TTLs during compaction, so it deletes nothing itself and
// reports 0.
func (s *Store) GarbageCollect(ctx context.Context, _ time.Time) (int, error) {
	for ctx.Err() == nil {
		err := s.db.RunValueLogGC(gcDiscardRatio)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("running badger value-log GC: %w", err)
		}
	}
	return 0, ctx.Err()
}
