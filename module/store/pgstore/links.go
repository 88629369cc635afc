package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// selectLinks reads links with their secrets, one row per secret (or one
// row for a link without secrets); a WHERE clause is appended.
const selectLinks = `SELECT l.id, l.name, l.client_id, l.redirect_uris, l.ceiling, l.require_pkce,
	l.public, l.service_user, l.registered, l.disabled, l.last_used_at, l.created_at, l.updated_at, l.created_by,
	l.oauth1, l.consumer_public_key, l.consumer_callback, l.two_legged, l.execute_as, l.impersonation,
	s.position, s.sealed, s.created_at, s.expires_at
FROM links l LEFT JOIN link_secrets s ON s.link_id = l.id `

// linksOrder orders the rows of selectLinks by link name and secret.
const linksOrder = ` ORDER BY l.name, l.id, s.position`

// CreateLink stores a new link and its secrets; store.ErrAlreadyExists
// when its id, name or client id is taken.
func (s *Store) CreateLink(ctx context.Context, l store.Link) error {
	if l.ID == "" {
		return errors.New("creating link: empty id")
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO links (id, name, client_id, redirect_uris, ceiling, require_pkce,
		public, service_user, registered, disabled, last_used_at, created_at, updated_at, created_by,
		oauth1, consumer_public_key, consumer_callback, two_legged, execute_as, impersonation)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`, linkArgs(l)...)
	queueSecrets(b, l.ID, l.Secrets)
	// A batch runs in one implicit transaction: all of it or nothing.
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return failed(err, "creating link "+strconv.Quote(l.ID))
	}
	return nil
}

// GetLink returns the link with the given id.
func (s *Store) GetLink(ctx context.Context, id string) (store.Link, error) {
	l, err := getLink(ctx, s.pool, "WHERE l.id = $1", id)
	if err != nil {
		return store.Link{}, failed(err, "getting link "+strconv.Quote(id))
	}
	return l, nil
}

// GetLinkByClientID returns the link with the given OAuth client id.
func (s *Store) GetLinkByClientID(ctx context.Context, clientID string) (store.Link, error) {
	l, err := getLink(ctx, s.pool, "WHERE l.client_id = $1", clientID)
	if err != nil {
		return store.Link{}, failed(err, "getting link by client id "+strconv.Quote(clientID))
	}
	return l, nil
}

// ListLinks returns all links ordered by name (byte-wise), then id.
func (s *Store) ListLinks(ctx context.Context) ([]store.Link, error) {
	rows, err := s.pool.Query(ctx, selectLinks+linksOrder)
	if err != nil {
		return nil, failed(err, "listing links")
	}
	links, err := collectLinks(rows)
	if err != nil {
		return nil, failed(err, "listing links")
	}
	return links, nil
}

// UpdateLink runs fn on the stored link and saves the result in one
// transaction that holds the link's row lock, so concurrent updates run
// one after the other; nothing is written when fn fails, and fn's error is
// returned unchanged. Renaming to a taken name or client id gives
// store.ErrAlreadyExists; changing the id is an error.
func (s *Store) UpdateLink(ctx context.Context, id string, fn func(*store.Link) error) (store.Link, error) {
	var updated store.Link
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var found bool
		if err := tx.QueryRow(ctx, "SELECT true FROM links WHERE id = $1 FOR UPDATE", id).Scan(&found); err != nil {
			return err
		}
		// Read after taking the lock, so that the secrets are those the
		// last update committed.
		l, err := getLink(ctx, tx, "WHERE l.id = $1", id)
		if err != nil {
			return err
		}
		if err := fn(&l); err != nil {
			return updaterError{err}
		}
		if l.ID != id {
			return fmt.Errorf("the id cannot change (to %q)", l.ID)
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE links SET name = $2, client_id = $3, redirect_uris = $4, ceiling = $5, require_pkce = $6,
			public = $7, service_user = $8, registered = $9, disabled = $10, last_used_at = $11,
			created_at = $12, updated_at = $13, created_by = $14, oauth1 = $15, consumer_public_key = $16,
			consumer_callback = $17, two_legged = $18, execute_as = $19, impersonation = $20 WHERE id = $1`, linkArgs(l)...)
		b.Queue("DELETE FROM link_secrets WHERE link_id = $1", id)
		queueSecrets(b, id, l.Secrets)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		updated = l
		return nil
	})
	if err != nil {
		return store.Link{}, failed(err, "updating link "+strconv.Quote(id))
	}
	return updated, nil
}

// DeleteLink removes the link, its secrets and every grant issued through
// it, whose tokens go with them, in one statement, run again when it
// deadlocks with a rotation (see DeleteGrant).
func (s *Store) DeleteLink(ctx context.Context, id string) error {
	var n int
	err := s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `WITH l AS (DELETE FROM links WHERE id = $1 RETURNING id),
			g AS (DELETE FROM grants WHERE link_id IN (SELECT id FROM l))
			SELECT count(*) FROM l`, id).Scan(&n)
	})
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return failed(err, "deleting link "+strconv.Quote(id))
	}
	return nil
}

// linkArgs returns the values of a link's columns in the order of the
// INSERT and UPDATE statements, id first.
func linkArgs(l store.Link) []any {
	var c store.OAuth1Consumer
	if l.OAuth1 != nil {
		c = *l.OAuth1
	}
	return []any{l.ID, l.Name, l.ClientID, l.RedirectURIs, l.Ceiling, l.RequirePKCE,
		l.Public, l.ServiceUser, l.Registered, l.Disabled, nullTime(l.LastUsedAt), l.CreatedAt, l.UpdatedAt, l.CreatedBy,
		l.OAuth1 != nil, c.PublicKey, c.Callback, c.TwoLegged, c.ExecuteAs, c.Impersonation}
}

// queueSecrets queues the inserts of a link's secrets, numbered in order.
func queueSecrets(b *pgx.Batch, linkID string, secrets []store.Secret) {
	for i, sec := range secrets {
		b.Queue("INSERT INTO link_secrets (link_id, position, sealed, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
			linkID, i, sec.Sealed, sec.CreatedAt, nullTime(sec.ExpiresAt))
	}
}

// querier runs queries: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// getLink returns the one link that where selects; pgx.ErrNoRows when
// there is none.
func getLink(ctx context.Context, q querier, where string, args ...any) (store.Link, error) {
	rows, err := q.Query(ctx, selectLinks+where+linksOrder, args...)
	if err != nil {
		return store.Link{}, err
	}
	links, err := collectLinks(rows)
	if err != nil {
		return store.Link{}, err
	}
	if len(links) == 0 {
		return store.Link{}, pgx.ErrNoRows
	}
	return links[0], nil
}

// collectLinks gathers the rows of selectLinks, ordered by link, into
// links.
func collectLinks(rows pgx.Rows) ([]store.Link, error) {
	links := []store.Link{}
	err := eachLink(rows, func(l store.Link) error {
		links = append(links, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return links, nil
}

// eachLink calls fn with each link of the rows of selectLinks, ordered by
// link, once its last secret is read; an error from fn stops it and is
// returned.
func eachLink(rows pgx.Rows, fn func(store.Link) error) error {
	defer rows.Close()
	var (
		cur     store.Link
		started bool
	)
	for rows.Next() {
		var (
			l        store.Link
			pos      *int32
			sec      store.Secret
			isOAuth1 bool
			c        store.OAuth1Consumer
		)
		err := rows.Scan(&l.ID, &l.Name, &l.ClientID, &l.RedirectURIs, &l.Ceiling, &l.RequirePKCE,
			&l.Public, &l.ServiceUser, &l.Registered, &l.Disabled, (*nullTime)(&l.LastUsedAt), &l.CreatedAt, &l.UpdatedAt, &l.CreatedBy,
			&isOAuth1, &c.PublicKey, &c.Callback, &c.TwoLegged, &c.ExecuteAs, &c.Impersonation,
			&pos, &sec.Sealed, (*nullTime)(&sec.CreatedAt), (*nullTime)(&sec.ExpiresAt))
		if err != nil {
			return err
		}
		if isOAuth1 {
			l.OAuth1 = &c
		}
		if !started || cur.ID != l.ID {
			if started {
				if err := fn(cur); err != nil {
					return err
				}
			}
			cur, started = l, true
		}
		if pos != nil {
			cur.Secrets = append(cur.Secrets, sec)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if started {
		return fn(cur)
	}
	return nil
}
