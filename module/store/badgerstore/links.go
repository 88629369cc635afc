package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/module/store"
)

// maxGrantsPerTxn bounds how many grants DeleteLink removes in one
// transaction, keeping it well below Badger's transaction size limit.
const maxGrantsPerTxn = 1000

// CreateLink stores a new link; store.ErrAlreadyExists when its id, name or
// client id is taken.
func (s *Store) CreateLink(ctx context.Context, l store.Link) error {
	if l.ID == "" {
		return errors.New("creating link: empty id")
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		for _, k := range [][]byte{
			skey(prefixLink, l.ID),
			skey(prefixLinkName, l.Name),
			skey(prefixLinkClient, l.ClientID),
		} {
			taken, err := exists(txn, k)
			if err != nil {
				return err
			}
			if taken {
				return store.ErrAlreadyExists
			}
		}
		if err := setJSON(txn, skey(prefixLink, l.ID), l, time.Time{}); err != nil {
			return err
		}
		if err := set(txn, skey(prefixLinkName, l.Name), []byte(l.ID), 0); err != nil {
			return err
		}
		return set(txn, skey(prefixLinkClient, l.ClientID), []byte(l.ID), 0)
	})
	if err != nil {
		return fmt.Errorf("creating link %q: %w", l.ID, err)
	}
	return nil
}

// GetLink returns the link with the given id.
func (s *Store) GetLink(ctx context.Context, id string) (store.Link, error) {
	var l store.Link
	err := s.view(ctx, func(txn *badger.Txn) error {
		return getJSON(txn, skey(prefixLink, id), &l)
	})
	if err != nil {
		return store.Link{}, fmt.Errorf("getting link %q: %w", id, err)
	}
	return l, nil
}

// GetLinkByClientID returns the link with the given OAuth client id.
func (s *Store) GetLinkByClientID(ctx context.Context, clientID string) (store.Link, error) {
	var l store.Link
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(skey(prefixLinkClient, clientID))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		id, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return getJSON(txn, key(prefixLink, id), &l)
	})
	if err != nil {
		return store.Link{}, fmt.Errorf("getting link by client id %q: %w", clientID, err)
	}
	return l, nil
}

// ListLinks returns all links ordered by name.
func (s *Store) ListLinks(ctx context.Context) ([]store.Link, error) {
	links := []store.Link{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixLink, func() any {
			links = append(links, store.Link{})
			return &links[len(links)-1]
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	slices.SortFunc(links, func(a, b store.Link) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return links, nil
}

// UpdateLink runs fn on the stored link and saves the result atomically; an
// error from fn is returned unchanged and nothing is written. fn may run
// more than once. Renaming to a taken name or client id gives
// store.ErrAlreadyExists; changing the id is an error.
func (s *Store) UpdateLink(ctx context.Context, id string, fn func(*store.Link) error) (store.Link, error) {
	return updateJSON(ctx, s, fmt.Sprintf("link %q", id), skey(prefixLink, id), nil,
		func(l *store.Link, _ bool) error { return fn(l) },
		func(txn *badger.Txn, old store.Link, l *store.Link) error {
			if err := sameKey("id", id, l.ID); err != nil {
				return err
			}
			if err := moveIndex(txn, prefixLinkName, old.Name, l.Name, id); err != nil {
				return err
			}
			return moveIndex(txn, prefixLinkClient, old.ClientID, l.ClientID, id)
		})
}

// DeleteLink removes the link, its name and client id, and every grant
// issued through it (which revokes their tokens). A link with up to 1000
// grants is removed in one atomic step; more grants are removed in batches
// before the link itself, so an interrupted call leaves the link in place
// and can be repeated.
func (s *Store) DeleteLink(ctx context.Context, id string) error {
	for {
		done := false
		err := s.update(ctx, func(txn *badger.Txn) error {
			done = false
			var l store.Link
			if err := getJSON(txn, skey(prefixLink, id), &l); err != nil {
				return err
			}
			more, err := deleteLinkGrants(txn, id)
			if err != nil || more {
				return err
			}
			for _, k := range [][]byte{
				skey(prefixLink, id),
				skey(prefixLinkName, l.Name),
				skey(prefixLinkClient, l.ClientID),
			} {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			done = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("deleting link %q: %w", id, err)
		}
		if done {
			return nil
		}
	}
}

// moveIndex points the uniqueness index entry for newValue at id and
// removes the one for oldValue; store.ErrAlreadyExists when newValue
// belongs to another record.
func moveIndex(txn *badger.Txn, prefix, oldValue, newValue, id string) error {
	if oldValue == newValue {
		return nil
	}
	taken, err := exists(txn, skey(prefix, newValue))
	if err != nil {
		return err
	}
	if taken {
		return store.ErrAlreadyExists
	}
	if err := txn.Delete(skey(prefix, oldValue)); err != nil {
		return err
	}
	return set(txn, skey(prefix, newValue), []byte(id), 0)
}

// deleteLinkGrants deletes up to maxGrantsPerTxn grants of a link and
// reports whether more remain.
func deleteLinkGrants(txn *badger.Txn, linkID string) (more bool, err error) {
	ids, more := scanIndex(txn, skey(prefixGrantLink, linkID, "\x00"), maxGrantsPerTxn)
	for _, gid := range ids {
		if err := deleteGrant(txn, gid); err != nil {
			return false, err
		}
		// The index entry may outlive a grant that was not found.
		if err := txn.Delete(skey(prefixGrantLink, linkID, "\x00", gid)); err != nil {
			return false, err
		}
	}
	return more, nil
}

// scanJSON decodes every live record under prefix into the value next
// returns, in key order.
func scanJSON(txn *badger.Txn, prefix string, next func() any) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		err := item.Value(func(b []byte) error {
			return decode(item.Key(), b, next())
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// scanIndex returns the suffixes after prefix of up to limit live keys
// (all when limit is 0) and whether more remain.
func scanIndex(txn *badger.Txn, prefix []byte, limit int) (ids []string, more bool) {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if limit > 0 && len(ids) == limit {
			return ids, true
		}
		ids = append(ids, string(it.Item().Key()[len(prefix):]))
	}
	return ids, false
}
