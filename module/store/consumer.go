package store

import (
	"context"
	"time"
)

// ConsumerIdentityStore keeps the gateway's identity as an OAuth 1.0a
// consumer of other products: one per gateway (or cluster), as an
// Atlassian product has one for all its outgoing links.
type ConsumerIdentityStore interface {
	// CreateConsumerIdentity stores the identity unless one is stored
	// already (ErrAlreadyExists), which is never replaced: of gateways
	// creating it at once, the first one's is kept.
	CreateConsumerIdentity(ctx context.Context, c ConsumerIdentity) error
	// GetConsumerIdentity returns the identity; ErrNotFound when none is
	// stored.
	GetConsumerIdentity(ctx context.Context) (ConsumerIdentity, error)
	// UpdateConsumerIdentity runs fn on the stored identity and saves the
	// result atomically (the at-rest key's rotation re-seals it); an error
	// from fn aborts without a write. ErrNotFound when none is stored. fn
	// must not change the key; if it does, nothing is written and an error
	// is returned.
	UpdateConsumerIdentity(ctx context.Context, fn func(*ConsumerIdentity) error) (ConsumerIdentity, error)
}

// ConsumerIdentity is the gateway's OAuth 1.0a consumer key and RSA key
// pair, whose public half the administrators of other products enter as
// the gateway's incoming authentication.
type ConsumerIdentity struct {
	// Key is the consumer key, e.g. applinks:<random>.
	Key string `json:"key"`
	// Sealed is the PKCS #8 RSA private key, sealed.
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
}
