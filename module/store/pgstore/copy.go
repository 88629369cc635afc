package pgstore

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// exportStep is one query of Export: it reads the live records of one
// kind, and read turns its rows into records.
type exportStep struct {
	kind string
	sql  string
	args []any
	read func(rows pgx.Rows, emit func(store.Record) error) error
}

// exportSteps returns the queries of Export, in the order store.Copier
// documents, each leaving out what has expired at now. Links are ordered
// (their secrets come one row each); the other kinds are read in the
// order the server finds them, without a sort.
func exportSteps(now time.Time) []exportStep {
	return []exportStep{
		{"links", selectLinks + linksOrder, nil, func(rows pgx.Rows, emit func(store.Record) error) error {
			return eachLink(rows, func(l store.Link) error { return emit(store.Record{Link: &l}) })
		}},
		{"outgoing links", "SELECT " + outgoingLinkColumns + " FROM outgoing_links ORDER BY name", nil,
			records(outgoingLinkDest, func(l *store.OutgoingLink) store.Record { return store.Record{OutgoingLink: l} })},
		{"users", "SELECT " + userColumns + " FROM users ORDER BY name", nil,
			records(userDest, func(u *store.User) store.Record { return store.Record{User: u} })},
		{"subjects", "SELECT " + subjectColumns + " FROM subjects ORDER BY user_id", nil,
			records(subjectDest, func(s *store.Subject) store.Record { return store.Record{Subject: s} })},
		{"signing keys", "SELECT " + signingKeyColumns + " FROM signing_keys WHERE " + liveSigningKey("$1") + " ORDER BY id", []any{now},
			records(signingKeyDest, func(k *store.SigningKey) store.Record { return store.Record{SigningKey: k} })},
		{"key check", "SELECT " + keyCheckColumns + " FROM key_check", nil,
			records(keyCheckDest, func(c *store.KeyCheck) store.Record { return store.Record{KeyCheck: c} })},
		{"consumer identity", "SELECT " + consumerColumns + " FROM consumer_identity", nil,
			records(consumerDest, func(c *store.ConsumerIdentity) store.Record { return store.Record{ConsumerIdentity: c} })},
		{"grants", "SELECT " + grantColumns + " FROM grants g WHERE " + liveGrant("$1"), []any{now},
			records(grantDest, func(g *store.Grant) store.Record { return store.Record{Grant: g} })},
		// A token counts only while its grant lives, as in LookupToken.
		{"tokens", "SELECT " + tokenColumns + " FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.expiry > $1 AND " + liveGrant("$1"), []any{now},
			records(tokenDest, func(t *store.Token) store.Record { return store.Record{Token: t} })},
		{"codes", "SELECT " + codeColumns + " FROM codes WHERE expires_at > $1", []any{now},
			records(codeDest, func(c *store.Code) store.Record { return store.Record{Code: c} })},
		{"sessions", "SELECT " + sessionColumns + " FROM sessions WHERE expires_at > $1", []any{now},
			records(sessionDest, func(s *store.Session) store.Record { return store.Record{Session: s} })},
		{"pending authorizations", "SELECT " + pendingColumns + " FROM pending WHERE expires_at > $1", []any{now},
			records(pendingDest, func(p *store.Pending) store.Record { return store.Record{Pending: p} })},
		{"connections", "SELECT " + connectionColumns + " FROM connections", nil,
			records(connectionDest, func(c *store.Connection) store.Record { return store.Record{Connection: c} })},
	}
}

// records returns the read of an exportStep whose rows are one T each,
// scanned through dest and made a record by wrap.
func records[T any](dest func(*T) []any, wrap func(*T) store.Record) func(pgx.Rows, func(store.Record) error) error {
	return func(rows pgx.Rows, emit func(store.Record) error) error {
		return each(rows, nil, dest, func(v T) error { return emit(wrap(&v)) })
	}
}

// Export calls fn with every live record, judged by the store's clock
// when it starts, in the order store.Copier documents. It reads in one
// read-only REPEATABLE READ transaction, a consistent snapshot however
// long fn takes, one row at a time. Tokens are given only while their
// grant lives. An error from fn stops it and is returned unchanged.
func (s *Store) Export(ctx context.Context, fn func(store.Record) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return failed(err, "starting the export")
	}
	// Nothing was written: rolling back ends the snapshot. A failed
	// rollback closes the connection, which ends it on the server too.
	defer func() { _ = tx.Rollback(ctx) }()
	emit := func(r store.Record) error {
		if err := fn(r); err != nil {
			return updaterError{err}
		}
		return nil
	}
	for _, step := range exportSteps(s.now()) {
		rows, err := tx.Query(ctx, step.sql, step.args...)
		if err == nil {
			err = step.read(rows, emit)
		}
		if err != nil {
			return failed(err, "exporting "+step.kind)
		}
	}
	return nil
}

// ImportGrant writes a grant as it is. Grants may name links that are
// not stored: those declared in the configuration.
func (s *Store) ImportGrant(ctx context.Context, g store.Grant) error {
	if _, err := s.pool.Exec(ctx, upsertGrant, grantArgs(g)...); err != nil {
		return failed(err, "importing grant "+strconv.Quote(g.ID))
	}
	return nil
}

// ImportToken writes a token as it is; its grant must be imported first.
func (s *Store) ImportToken(ctx context.Context, t store.Token) error {
	if _, err := s.pool.Exec(ctx, upsertToken, tokenArgs(t)...); err != nil {
		return failed(err, "importing token of grant "+strconv.Quote(t.GrantID))
	}
	return nil
}

// Interface guards
var _ store.Copier = (*Store)(nil)
