package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreatePending stores an outgoing authorization in progress until
// p.ExpiresAt (its entry's TTL is rounded up to the next second, but it is
// never returned once ExpiresAt has passed). Pending authorizations are
// keyed by random state hashes, so an existing hash is simply overwritten.
func (s *Store) CreatePending(ctx context.Context, p store.Pending) error {
	if len(p.StateHash) == 0 {
		return errors.New("creating pending authorization: empty state hash")
	}
	if err := checkConnIDs(p.LinkID, p.UserID); err != nil {
		return fmt.Errorf("creating pending authorization: %w", err)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, key(prefixPending, p.StateHash), newPendingRecord(p), p.ExpiresAt)
	})
	if err != nil {
		return fmt.Errorf("creating pending authorization: %w", err)
	}
	return nil
}

// TakePending returns and deletes the pending authorization with the given
// state hash in one transaction, so of concurrent takes exactly one gets
// it; store.ErrNotFound when it is missing, taken or past its ExpiresAt.
func (s *Store) TakePending(ctx context.Context, stateHash []byte) (store.Pending, error) {
	var p store.Pending
	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		k := key(prefixPending, stateHash)
		var r pendingRecord
		if err := getJSON(txn, k, &r); err != nil {
			return err
		}
		p = r.pending()
		if !p.ExpiresAt.After(now) {
			// Its TTL, rounded up to the second, has not run out yet.
			return store.ErrNotFound
		}
		return txn.Delete(k)
	})
	if err != nil {
		return store.Pending{}, fmt.Errorf("taking pending authorization: %w", err)
	}
	return p, nil
}

// PutConnection creates or replaces the connection of (c.LinkID, c.UserID)
// and its by-user index entry. Connections do not expire. The link id must
// not be empty; neither id may contain NUL.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	if err := checkConnIDs(c.LinkID, c.UserID); err != nil {
		return fmt.Errorf("putting connection: %w", err)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return putConn(txn, c)
	})
	if err != nil {
		return fmt.Errorf("putting connection of link %q for user %q: %w", c.LinkID, c.UserID, err)
	}
	return nil
}

// GetConnection returns the connection of a link for a user ("" for a
// shared connection).
func (s *Store) GetConnection(ctx context.Context, linkID, userID string) (store.Connection, error) {
	if err := checkConnIDs(linkID, userID); err != nil {
		return store.Connection{}, fmt.Errorf("getting connection: %w", err)
	}
	var c store.Connection
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		c, err = getConn(txn, linkID, userID)
		return err
	})
	if err != nil {
		return store.Connection{}, fmt.Errorf("getting connection of link %q for user %q: %w", linkID, userID, err)
	}
	return c, nil
}

// UpdateConnection runs fn on the stored connection and saves the result
// in one transaction; nothing is written when fn fails, and fn's error is
// returned unchanged. fn may run more than once: when a concurrent update
// commits first, fn runs again with what that update left. fn must not
// change the link or user id. store.ErrNotFound, without calling fn, when
// there is no such connection.
func (s *Store) UpdateConnection(ctx context.Context, linkID, userID string, fn func(*store.Connection) error) (store.Connection, error) {
	if err := checkConnIDs(linkID, userID); err != nil {
		return store.Connection{}, fmt.Errorf("updating connection: %w", err)
	}
	r, err := updateJSON(ctx, s, fmt.Sprintf("connection of link %q for user %q", linkID, userID), connKey(linkID, userID), nil,
		func(r *connRecord, _ bool) error {
			c := r.connection()
			if err := fn(&c); err != nil {
				return err
			}
			*r = newConnRecord(c)
			return nil
		},
		func(_ *badger.Txn, _ connRecord, r *connRecord) error {
			c := r.connection()
			if err := sameKey("link id", linkID, c.LinkID); err != nil {
				return err
			}
			return sameKey("user id", userID, c.UserID)
		})
	if err != nil {
		return store.Connection{}, err
	}
	return r.connection(), nil
}

// ListConnections returns the connections of one link (filter.LinkID set),
// of one user (filter.UserID set), of one user for one link (both set), or
// all of them (both empty), ordered by link id and then user id. Listing a
// link's connections is a prefix scan; listing a user's reads an index.
func (s *Store) ListConnections(ctx context.Context, filter store.ConnectionFilter) ([]store.Connection, error) {
	if strings.ContainsRune(filter.LinkID, 0) || strings.ContainsRune(filter.UserID, 0) {
		return nil, errors.New("listing connections: an id contains NUL")
	}
	conns := []store.Connection{}
	var records []connRecord
	next := func() any {
		records = append(records, connRecord{})
		return &records[len(records)-1]
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		switch {
		case filter.LinkID != "" && filter.UserID != "":
			c, err := getConn(txn, filter.LinkID, filter.UserID)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			conns = append(conns, c)
			return nil
		case filter.LinkID != "":
			return scanJSON(txn, string(skey(prefixConn, filter.LinkID, "\x00")), next)
		case filter.UserID != "":
			links, _ := scanIndex(txn, skey(prefixConnUser, filter.UserID, "\x00"), 0)
			for _, link := range links {
				c, err := getConn(txn, link, filter.UserID)
				if errors.Is(err, store.ErrNotFound) {
					// An index entry without its connection.
					continue
				}
				if err != nil {
					return err
				}
				conns = append(conns, c)
			}
			return nil
		default:
			return scanJSON(txn, prefixConn, next)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing connections: %w", err)
	}
	for _, r := range records {
		conns = append(conns, r.connection())
	}
	return conns, nil
}

// DeleteConnection removes a connection and its index entry; a missing
// one is not an error.
func (s *Store) DeleteConnection(ctx context.Context, linkID, userID string) error {
	if err := checkConnIDs(linkID, userID); err != nil {
		return fmt.Errorf("deleting connection: %w", err)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return deletePresent(txn, connKey(linkID, userID), connUserKey(linkID, userID))
	})
	if err != nil {
		return fmt.Errorf("deleting connection of link %q for user %q: %w", linkID, userID, err)
	}
	return nil
}

// checkConnIDs checks the ids of a connection: the link id must be set and
// neither may contain NUL, the separator of the keys they are part of.
func checkConnIDs(linkID, userID string) error {
	if linkID == "" {
		return errors.New("empty link id")
	}
	if strings.ContainsRune(linkID, 0) {
		return fmt.Errorf("link id %q contains NUL", linkID)
	}
	if strings.ContainsRune(userID, 0) {
		return fmt.Errorf("user id %q contains NUL", userID)
	}
	return nil
}

// connKey is the key of the connection of a link for a user.
func connKey(linkID, userID string) []byte {
	return skey(prefixConn, linkID, "\x00", userID)
}

// connUserKey is the by-user index key of the connection of a link for a
// user.
func connUserKey(linkID, userID string) []byte {
	return skey(prefixConnUser, userID, "\x00", linkID)
}

// getConn reads the connection of a link for a user.
func getConn(txn *badger.Txn, linkID, userID string) (store.Connection, error) {
	var r connRecord
	if err := getJSON(txn, connKey(linkID, userID), &r); err != nil {
		return store.Connection{}, err
	}
	return r.connection(), nil
}

// putConn stores c and its index entry.
func putConn(txn *badger.Txn, c store.Connection) error {
	if err := setJSON(txn, connKey(c.LinkID, c.UserID), newConnRecord(c), time.Time{}); err != nil {
		return err
	}
	return set(txn, connUserKey(c.LinkID, c.UserID), []byte{}, 0)
}

// The stored records hold the link and user ids as bytes (base64 in JSON)
// rather than as JSON strings, which would replace invalid UTF-8, so that
// ids made of any bytes but NUL round-trip exactly. Their fields shadow
// the record's own fields of the same JSON name.

// pendingRecord is the stored form of a store.Pending.
type pendingRecord struct {
	store.Pending
	LinkID []byte `json:"link_id"`
	UserID []byte `json:"user_id,omitempty"`
}

// newPendingRecord returns the stored form of p.
func newPendingRecord(p store.Pending) pendingRecord {
	return pendingRecord{Pending: p, LinkID: []byte(p.LinkID), UserID: []byte(p.UserID)}
}

// pending returns the record as a store.Pending.
func (r pendingRecord) pending() store.Pending {
	p := r.Pending
	p.LinkID, p.UserID = string(r.LinkID), string(r.UserID)
	return p
}

// connRecord is the stored form of a store.Connection.
type connRecord struct {
	store.Connection
	LinkID []byte `json:"link_id"`
	UserID []byte `json:"user_id,omitempty"`
}

// newConnRecord returns the stored form of c.
func newConnRecord(c store.Connection) connRecord {
	return connRecord{Connection: c, LinkID: []byte(c.LinkID), UserID: []byte(c.UserID)}
}

// connection returns the record as a store.Connection.
func (r connRecord) connection() store.Connection {
	c := r.Connection
	c.LinkID, c.UserID = string(r.LinkID), string(r.UserID)
	return c
}

// CreateOutgoingLink stores a runtime-created outgoing link.
func (s *Store) CreateOutgoingLink(ctx context.Context, l store.OutgoingLink) error {
	if l.Name == "" || strings.ContainsRune(l.Name, 0) {
		return errors.New("creating outgoing link: the name is empty or has a NUL")
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		k := skey(prefixOutLink, l.Name)
		if ok, err := exists(txn, k); err != nil {
			return err
		} else if ok {
			return store.ErrAlreadyExists
		}
		return setJSON(txn, k, l, time.Time{})
	})
	if err != nil {
		return fmt.Errorf("creating outgoing link %q: %w", l.Name, err)
	}
	return nil
}

// GetOutgoingLink returns the outgoing link with the given name.
func (s *Store) GetOutgoingLink(ctx context.Context, name string) (store.OutgoingLink, error) {
	var l store.OutgoingLink
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getJSON(txn, skey(prefixOutLink, name), &l)
	})
	if err != nil {
		return store.OutgoingLink{}, fmt.Errorf("getting outgoing link %q: %w", name, err)
	}
	return l, nil
}

// ListOutgoingLinks returns the runtime outgoing links by name.
func (s *Store) ListOutgoingLinks(ctx context.Context) ([]store.OutgoingLink, error) {
	out := []store.OutgoingLink{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixOutLink, func() any {
			out = append(out, store.OutgoingLink{})
			return &out[len(out)-1]
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing outgoing links: %w", err)
	}
	return out, nil
}

// UpdateOutgoingLink runs fn on the stored outgoing link and saves the
// result in one transaction; nothing is written when fn fails, and fn's
// error is returned unchanged. fn may run more than once: when a
// concurrent update commits first, fn runs again with what that update
// left. Changing the name is an error. store.ErrNotFound, without calling
// fn, when there is no such link.
func (s *Store) UpdateOutgoingLink(ctx context.Context, name string, fn func(*store.OutgoingLink) error) (store.OutgoingLink, error) {
	return updateJSON(ctx, s, fmt.Sprintf("outgoing link %q", name), skey(prefixOutLink, name), nil,
		func(l *store.OutgoingLink, _ bool) error { return fn(l) },
		func(_ *badger.Txn, _ store.OutgoingLink, l *store.OutgoingLink) error {
			return sameKey("name", name, l.Name)
		})
}

// DeleteOutgoingLink removes an outgoing link and its connections.
func (s *Store) DeleteOutgoingLink(ctx context.Context, name string) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		k := skey(prefixOutLink, name)
		if ok, err := exists(txn, k); err != nil {
			return err
		} else if !ok {
			return store.ErrNotFound
		}
		var recs []connRecord
		err := scanJSON(txn, string(skey(prefixConn, name, "\x00")), func() any {
			recs = append(recs, connRecord{})
			return &recs[len(recs)-1]
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			c := r.connection()
			if err := txn.Delete(connKey(c.LinkID, c.UserID)); err != nil {
				return err
			}
			if err := txn.Delete(connUserKey(c.LinkID, c.UserID)); err != nil {
				return err
			}
		}
		return txn.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("deleting outgoing link %q: %w", name, err)
	}
	return nil
}
