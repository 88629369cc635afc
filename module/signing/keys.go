package signing

import (
	"context"
	"fmt"
	"time"
)

// Statuses of a signing key in KeyInfo.
const (
	// StatusActive: the key signs new tokens.
	StatusActive = "active"
	// StatusRetiring: the key no longer signs and stays published until
	// the tokens it signed have expired.
	StatusRetiring = "retiring"
	// StatusInactive: the key is of another algorithm than the one
	// configured; it is published but signs nothing.
	StatusInactive = "inactive"
)

// KeyInfo describes a signing key for administrators: never its private
// material.
type KeyInfo struct {
	// ID is the key id (JWS kid).
	ID        string    `json:"kid"`
	Algorithm string    `json:"alg"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// ExpiresAt is when a retiring key stops being published.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Keys returns the live keys, newest first, with the one that signs
// marked active.
func (k *Keyring) Keys(ctx context.Context) ([]KeyInfo, error) {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	k.mu.RLock()
	active := k.activeID
	k.mu.RUnlock()
	out := make([]KeyInfo, len(keys))
	for i, sk := range keys {
		status := StatusInactive
		switch {
		case sk.ID == active:
			status = StatusActive
		case !sk.RetiredAt.IsZero():
			status = StatusRetiring
		}
		out[i] = KeyInfo{ID: sk.ID, Algorithm: sk.Algorithm, Status: status, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt, ExpiresAt: sk.ExpiresAt}
	}
	return out, nil
}
