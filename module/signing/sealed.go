package signing

import (
	"context"
	"fmt"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// OpensStored reports whether seal opens every signing key in st: found
// is false when st holds none, opens is false when one does not open with
// seal, and err is set only when the store cannot be read. It writes
// nothing, so it tells whether seal is the key the store was sealed with
// before anything is changed.
func OpensStored(ctx context.Context, st store.KeyStore, seal *secret.Keys) (found, opens bool, err error) {
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		return false, false, fmt.Errorf("listing signing keys: %w", err)
	}
	k := &Keyring{seal: seal}
	for _, sk := range keys {
		if _, err := k.open(sk); err != nil {
			return true, false, nil
		}
	}
	return len(keys) > 0, true, nil
}
