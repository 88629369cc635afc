package links

import (
	"context"
	"errors"
	"fmt"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// Reseal seals again with the current at-rest key the client secrets of
// runtime and registered links that a previous key sealed (see
// secret.Keys.WithPrevious). It counts every stored secret with
// tally.Found, then re-seals each link holding such a secret through
// UpdateLink, on the link as it is stored then: a secret rotated or a link
// edited meanwhile is kept, never overwritten with what was read before.
// Secrets of links declared in the configuration are sealed in memory
// only. It stops at the first error of the store or of tally.Resealed.
func (r *Registry) Reseal(ctx context.Context, tally secret.Tally) error {
	stored, err := r.store.ListLinks(ctx)
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	type todo struct {
		id       string
		previous int
	}
	var work []todo
	for _, l := range stored {
		n := 0
		for _, s := range l.Secrets {
			_, o := r.keys.Reseal(s.Sealed, []byte(l.ID))
			tally.Found(o)
			if o == secret.Resealed {
				n++
			}
		}
		if n > 0 {
			work = append(work, todo{l.ID, n})
		}
	}
	for _, w := range work {
		_, err := r.store.UpdateLink(ctx, w.id, func(l *store.Link) error {
			changed := false
			for i := range l.Secrets {
				var o secret.Outcome
				l.Secrets[i].Sealed, o = r.keys.Reseal(l.Secrets[i].Sealed, []byte(l.ID))
				changed = changed || o == secret.Resealed
			}
			if !changed {
				return secret.ErrCurrent
			}
			return nil
		})
		if err != nil && !errors.Is(err, secret.ErrCurrent) && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("re-sealing the secrets of link %s: %w", w.id, err)
		}
		if err := tally.Resealed(w.previous); err != nil {
			return err
		}
	}
	return nil
}
