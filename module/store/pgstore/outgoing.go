package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// Columns of pending, connections and outgoing_links, in the order of the
// dest and args functions below.
const (
	pendingColumns    = "state_hash, link_id, user_id, sealed_verifier, return_to, created_at, expires_at"
	connectionColumns = `link_id, user_id, sealed, expiry, status, last_error, failures, retry_at,
	generation, created_at, updated_at`
	outgoingLinkColumns = "name, provider, client_id, sealed_secret, scopes, mode, created_at, created_by, oauth1"
)

// CreatePending stores an outgoing authorization in progress until
// p.ExpiresAt; an existing one of the same state hash is replaced.
func (s *Store) CreatePending(ctx context.Context, p store.Pending) error {
	if len(p.StateHash) == 0 {
		return errors.New("creating pending authorization: empty state hash")
	}
	if p.LinkID == "" {
		return errors.New("creating pending authorization: empty link id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO pending (`+pendingColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (state_hash) DO UPDATE SET link_id = EXCLUDED.link_id, user_id = EXCLUDED.user_id,
			sealed_verifier = EXCLUDED.sealed_verifier, return_to = EXCLUDED.return_to,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
		p.StateHash, p.LinkID, p.UserID, p.SealedVerifier, p.ReturnTo, p.CreatedAt, p.ExpiresAt)
	if err != nil {
		return failed(err, "creating pending authorization")
	}
	return nil
}

// TakePending deletes and returns the live pending authorization with the
// given state hash in one statement, so of concurrent takes exactly one
// gets it; store.ErrNotFound when it is missing, taken or past its
// ExpiresAt.
func (s *Store) TakePending(ctx context.Context, stateHash []byte) (store.Pending, error) {
	var p store.Pending
	err := s.pool.QueryRow(ctx, `DELETE FROM pending WHERE state_hash = $1 AND expires_at > $2
		RETURNING `+pendingColumns, stateHash, s.now()).
		Scan(pendingDest(&p)...)
	if err != nil {
		return store.Pending{}, failed(err, "taking pending authorization")
	}
	return p, nil
}

// PutConnection creates or replaces the connection of (c.LinkID,
// c.UserID). Connections do not expire. The link id must not be empty.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	if c.LinkID == "" {
		return errors.New("putting connection: empty link id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO connections (`+connectionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (link_id, user_id) DO UPDATE SET sealed = EXCLUDED.sealed, expiry = EXCLUDED.expiry,
			status = EXCLUDED.status, last_error = EXCLUDED.last_error, failures = EXCLUDED.failures,
			retry_at = EXCLUDED.retry_at, generation = EXCLUDED.generation, created_at = EXCLUDED.created_at,
			updated_at = EXCLUDED.updated_at`, connectionArgs(c)...)
	if err != nil {
		return failed(err, connDoing("putting", c.LinkID, c.UserID))
	}
	return nil
}

// GetConnection returns the connection of a link for a user ("" for a
// shared connection).
func (s *Store) GetConnection(ctx context.Context, linkID, userID string) (store.Connection, error) {
	var c store.Connection
	err := s.pool.QueryRow(ctx, "SELECT "+connectionColumns+" FROM connections WHERE link_id = $1 AND user_id = $2",
		linkID, userID).Scan(connectionDest(&c)...)
	if err != nil {
		return store.Connection{}, failed(err, connDoing("getting", linkID, userID))
	}
	return c, nil
}

// UpdateConnection runs fn on the stored connection and saves the result
// in one transaction that holds the connection's row lock; nothing is
// written when fn fails, and fn's error is returned unchanged. fn must not
// change the link or user id. store.ErrNotFound, without calling fn, when
// there is no such connection.
func (s *Store) UpdateConnection(ctx context.Context, linkID, userID string, fn func(*store.Connection) error) (store.Connection, error) {
	var updated store.Connection
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var c store.Connection
		err := tx.QueryRow(ctx, "SELECT "+connectionColumns+" FROM connections WHERE link_id = $1 AND user_id = $2 FOR UPDATE",
			linkID, userID).Scan(connectionDest(&c)...)
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return updaterError{err}
		}
		if c.LinkID != linkID || c.UserID != userID {
			return fmt.Errorf("the link and user ids cannot change (to %q and %q)", c.LinkID, c.UserID)
		}
		_, err = tx.Exec(ctx, `UPDATE connections SET sealed = $3, expiry = $4, status = $5, last_error = $6,
			failures = $7, retry_at = $8, generation = $9, created_at = $10, updated_at = $11
			WHERE link_id = $1 AND user_id = $2`, connectionArgs(c)...)
		if err != nil {
			return err
		}
		updated = c
		return nil
	})
	if err != nil {
		return store.Connection{}, failed(err, connDoing("updating", linkID, userID))
	}
	return updated, nil
}

// ListConnections returns the connections of one link (filter.LinkID set),
// of one user (filter.UserID set), of one user for one link (both set), or
// all of them (both empty), ordered by link id and then user id. Each
// filter reads an index.
func (s *Store) ListConnections(ctx context.Context, filter store.ConnectionFilter) ([]store.Connection, error) {
	// One statement per filter, so that each has a plan with its index.
	var (
		where []string
		args  []any
	)
	if filter.LinkID != "" {
		args = append(args, filter.LinkID)
		where = append(where, "link_id = $"+strconv.Itoa(len(args)))
	}
	if filter.UserID != "" {
		args = append(args, filter.UserID)
		where = append(where, "user_id = $"+strconv.Itoa(len(args)))
	}
	sql := "SELECT " + connectionColumns + " FROM connections"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.pool.Query(ctx, sql+" ORDER BY link_id, user_id", args...)
	conns, err := collect(rows, err, connectionDest)
	if err != nil {
		return nil, failed(err, "listing connections")
	}
	return conns, nil
}

// DeleteConnection removes a connection; a missing one is not an error.
func (s *Store) DeleteConnection(ctx context.Context, linkID, userID string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM connections WHERE link_id = $1 AND user_id = $2", linkID, userID); err != nil {
		return failed(err, connDoing("deleting", linkID, userID))
	}
	return nil
}

// CreateOutgoingLink stores a runtime-created outgoing link;
// store.ErrAlreadyExists when its name is taken.
func (s *Store) CreateOutgoingLink(ctx context.Context, l store.OutgoingLink) error {
	if l.Name == "" {
		return errors.New("creating outgoing link: empty name")
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO outgoing_links ("+outgoingLinkColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		outgoingLinkArgs(l)...)
	if err != nil {
		return failed(err, "creating outgoing link "+strconv.Quote(l.Name))
	}
	return nil
}

// GetOutgoingLink returns the outgoing link with the given name.
func (s *Store) GetOutgoingLink(ctx context.Context, name string) (store.OutgoingLink, error) {
	var l store.OutgoingLink
	err := s.pool.QueryRow(ctx, "SELECT "+outgoingLinkColumns+" FROM outgoing_links WHERE name = $1", name).
		Scan(outgoingLinkDest(&l)...)
	if err != nil {
		return store.OutgoingLink{}, failed(err, "getting outgoing link "+strconv.Quote(name))
	}
	return l, nil
}

// ListOutgoingLinks returns the runtime outgoing links by name
// (byte-wise).
func (s *Store) ListOutgoingLinks(ctx context.Context) ([]store.OutgoingLink, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+outgoingLinkColumns+" FROM outgoing_links ORDER BY name")
	links, err := collect(rows, err, outgoingLinkDest)
	if err != nil {
		return nil, failed(err, "listing outgoing links")
	}
	return links, nil
}

// UpdateOutgoingLink runs fn on the stored outgoing link and saves the
// result in one transaction that holds the link's row lock; nothing is
// written when fn fails, and fn's error is returned unchanged. Changing
// the name is an error. store.ErrNotFound, without calling fn, when there
// is no such link.
func (s *Store) UpdateOutgoingLink(ctx context.Context, name string, fn func(*store.OutgoingLink) error) (store.OutgoingLink, error) {
	var updated store.OutgoingLink
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var l store.OutgoingLink
		err := tx.QueryRow(ctx, "SELECT "+outgoingLinkColumns+" FROM outgoing_links WHERE name = $1 FOR UPDATE", name).
			Scan(outgoingLinkDest(&l)...)
		if err != nil {
			return err
		}
		if err := fn(&l); err != nil {
			return updaterError{err}
		}
		if l.Name != name {
			return fmt.Errorf("the name cannot change (to %q)", l.Name)
		}
		_, err = tx.Exec(ctx, `UPDATE outgoing_links SET provider = $2, client_id = $3, sealed_secret = $4,
			scopes = $5, mode = $6, created_at = $7, created_by = $8, oauth1 = $9 WHERE name = $1`, outgoingLinkArgs(l)...)
		if err != nil {
			return err
		}
		updated = l
		return nil
	})
	if err != nil {
		return store.OutgoingLink{}, failed(err, "updating outgoing link "+strconv.Quote(name))
	}
	return updated, nil
}

// DeleteOutgoingLink removes an outgoing link and its connections in one
// statement. Connections name their link without a foreign key, since
// links declared in the configuration are not stored.
func (s *Store) DeleteOutgoingLink(ctx context.Context, name string) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH l AS (DELETE FROM outgoing_links WHERE name = $1 RETURNING name),
		c AS (DELETE FROM connections WHERE link_id IN (SELECT name FROM l))
		SELECT count(*) FROM l`, name).Scan(&n)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return failed(err, "deleting outgoing link "+strconv.Quote(name))
	}
	return nil
}

// connDoing says what is done to the connection of a link for a user,
// for an error message.
func connDoing(doing, linkID, userID string) string {
	return fmt.Sprintf("%s connection of link %q for user %q", doing, linkID, userID)
}

// pendingDest returns the scan targets of pendingColumns.
func pendingDest(p *store.Pending) []any {
	return []any{&p.StateHash, &p.LinkID, &p.UserID, &p.SealedVerifier, &p.ReturnTo, &p.CreatedAt, &p.ExpiresAt}
}

// connectionDest returns the scan targets of connectionColumns.
func connectionDest(c *store.Connection) []any {
	return []any{&c.LinkID, &c.UserID, &c.Sealed, (*nullTime)(&c.Expiry), &c.Status, &c.LastError, &c.Failures,
		(*nullTime)(&c.RetryAt), &c.Generation, &c.CreatedAt, &c.UpdatedAt}
}

// connectionArgs returns the values of connectionColumns.
func connectionArgs(c store.Connection) []any {
	return []any{c.LinkID, c.UserID, c.Sealed, nullTime(c.Expiry), c.Status, c.LastError, c.Failures,
		nullTime(c.RetryAt), c.Generation, c.CreatedAt, c.UpdatedAt}
}

// outgoingLinkDest returns the scan targets of outgoingLinkColumns; the
// provider's JSON is read as the bytes stored, an OAuth 1.0a link's
// settings decoded (nil when NULL).
func outgoingLinkDest(l *store.OutgoingLink) []any {
	return []any{&l.Name, (*[]byte)(&l.Provider), &l.ClientID, &l.SealedSecret, &l.Scopes, &l.Mode, &l.CreatedAt, &l.CreatedBy, &l.OAuth1}
}

// outgoingLinkArgs returns the values of outgoingLinkColumns.
func outgoingLinkArgs(l store.OutgoingLink) []any {
	return []any{l.Name, l.Provider, l.ClientID, l.SealedSecret, l.Scopes, l.Mode, l.CreatedAt, l.CreatedBy, l.OAuth1}
}
