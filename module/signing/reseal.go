package signing

import (
	"context"
	"errors"
	"fmt"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// Reseal seals again with the current at-rest key the signing keys that
// a previous key sealed (see secret.Keys.WithPrevious): it counts each
// live key with tally.Found, then re-seals each through UpdateSigningKey,
// on the key as it is stored then, so that a rotation meanwhile (which
// retires it) is kept. The keys in use are not changed: their private
// parts are the same. It stops at the first error of the store or of
// tally.Resealed.
func (k *Keyring) Reseal(ctx context.Context, tally secret.Tally) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("listing signing keys: %w", err)
	}
	var work []string
	for _, sk := range keys {
		_, o := k.seal.Reseal(sk.Sealed, keyBinding(sk.ID))
		tally.Found(o)
		if o == secret.Resealed {
			work = append(work, sk.ID)
		}
	}
	for _, id := range work {
		_, err := k.store.UpdateSigningKey(ctx, id, func(cur *store.SigningKey) error {
			v, o := k.seal.Reseal(cur.Sealed, keyBinding(cur.ID))
			if o != secret.Resealed {
				return secret.ErrCurrent
			}
			cur.Sealed = v
			return nil
		})
		if err != nil && !errors.Is(err, secret.ErrCurrent) && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("re-sealing signing key %s: %w", id, err)
		}
		if err := tally.Resealed(1); err != nil {
			return err
		}
	}
	return nil
}
