package store

import "context"

// Topics of announcements between gateways that share a store.
const (
	// TopicRevoked: access was revoked (a grant, a link edited or
	// deleted, a user demoted, disabled or deleted, a replay detected);
	// cached validations must be dropped.
	TopicRevoked = "revoked"
	// TopicSigningKeys: the signing keys changed; reload them.
	TopicSigningKeys = "signing_keys"
	// TopicOutgoingLinks: a runtime outgoing link changed; forget cached
	// copies.
	TopicOutgoingLinks = "outgoing_links"
)

// Shared is implemented by backends that several gateways use at once
// (PostgreSQL). The app uses it to keep each process's caches right
// across the cluster and to do cluster-wide work on one node at a time.
// A backend that only one process can open (Badger) does not implement
// it.
type Shared interface {
	// Announce tells every gateway sharing the store, this one included,
	// that something of topic changed.
	Announce(ctx context.Context, topic string) error
	// Listen delivers announcements until ctx ends: heard is called with
	// the topic of each (from any gateway, this one included). connected
	// is called with false when the connection carrying them is lost,
	// since announcements may be missed from then on, and with true once
	// it is back; Listen reconnects by itself. It returns when ctx ends.
	Listen(ctx context.Context, heard func(topic string), connected func(bool))
	// Exclusively runs fn while this gateway holds the cluster-wide lock
	// named name, first waiting (until ctx ends) for another gateway to
	// release it. The lock is released when fn returns or the holder's
	// connection is lost.
	Exclusively(ctx context.Context, name string, fn func(ctx context.Context) error) error
}
