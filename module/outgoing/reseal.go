package outgoing

import (
	"context"
	"errors"
	"fmt"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// ResealLinks seals again with the current at-rest key the client
// secrets of runtime outgoing links that a previous key sealed (see
// secret.Keys.WithPrevious): it counts each with tally.Found, then
// re-seals each through UpdateOutgoingLink, on the link as it is stored
// then, so that a secret replaced meanwhile is kept. Links declared in
// the configuration are not stored. It stops at the first error of the
// store or of tally.Resealed.
func (s *Service) ResealLinks(ctx context.Context, tally secret.Tally) error {
	stored, err := s.store.ListOutgoingLinks(ctx)
	if err != nil {
		return fmt.Errorf("listing outgoing links: %w", err)
	}
	var work []string
	for _, ol := range stored {
		if ol.SealedSecret == nil {
			continue
		}
		_, o := s.keys.Reseal(ol.SealedSecret, secretBinding(ol.Name))
		tally.Found(o)
		if o == secret.Resealed {
			work = append(work, ol.Name)
		}
	}
	for _, name := range work {
		_, err := s.store.UpdateOutgoingLink(ctx, name, func(l *store.OutgoingLink) error {
			return s.reseal(&l.SealedSecret, secretBinding(l.Name))
		})
		if err != nil && !errors.Is(err, secret.ErrCurrent) && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("re-sealing the secret of outgoing link %q: %w", name, err)
		}
		if err := tally.Resealed(1); err != nil {
			return err
		}
	}
	return nil
}

// ResealConnections seals again with the current at-rest key the
// provider tokens that a previous key sealed: it counts each connection
// with tally.Found, then re-seals each through UpdateConnection, on the
// connection as it is stored then, so that a token refreshed meanwhile
// is kept and never replaced by the one read before; its generation,
// status and times stay as they are. It stops at the first error of the
// store or of tally.Resealed.
func (s *Service) ResealConnections(ctx context.Context, tally secret.Tally) error {
	conns, err := s.store.ListConnections(ctx, store.ConnectionFilter{})
	if err != nil {
		return fmt.Errorf("listing outgoing connections: %w", err)
	}
	var work []store.Connection
	for _, c := range conns {
		_, o := s.keys.Reseal(c.Sealed, connectionBinding(c.LinkID, c.UserID))
		tally.Found(o)
		if o == secret.Resealed {
			work = append(work, c)
		}
	}
	for _, c := range work {
		_, err := s.store.UpdateConnection(ctx, c.LinkID, c.UserID, func(cur *store.Connection) error {
			return s.reseal(&cur.Sealed, connectionBinding(cur.LinkID, cur.UserID))
		})
		if err != nil && !errors.Is(err, secret.ErrCurrent) && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("re-sealing the provider token of outgoing link %q for %q: %w", c.LinkID, c.UserID, err)
		}
		if err := tally.Resealed(1); err != nil {
			return err
		}
	}
	return nil
}

// ResealConsumer seals again with the current at-rest key the private
// key of the gateway's OAuth 1.0a consumer identity when a previous key
// sealed it, through UpdateConsumerIdentity. A gateway without one has
// nothing to count.
func (s *Service) ResealConsumer(ctx context.Context, tally secret.Tally) error {
	ci, err := s.store.GetConsumerIdentity(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the OAuth 1.0a consumer identity: %w", err)
	}
	_, o := s.keys.Reseal(ci.Sealed, consumerBinding(ci.Key))
	tally.Found(o)
	if o != secret.Resealed {
		return nil
	}
	_, err = s.store.UpdateConsumerIdentity(ctx, func(cur *store.ConsumerIdentity) error {
		return s.reseal(&cur.Sealed, consumerBinding(cur.Key))
	})
	if errors.Is(err, secret.ErrCurrent) {
		return nil // re-sealed meanwhile by another pass
	}
	if err != nil {
		return fmt.Errorf("re-sealing the OAuth 1.0a consumer's private key: %w", err)
	}
	return tally.Resealed(1)
}

// reseal re-seals *sealed with the current key in an updater, or returns
// secret.ErrCurrent when there is nothing to do, so that nothing is written.
func (s *Service) reseal(sealed *[]byte, additional []byte) error {
	if *sealed == nil {
		return secret.ErrCurrent
	}
	v, o := s.keys.Reseal(*sealed, additional)
	if o != secret.Resealed {
		return secret.ErrCurrent
	}
	*sealed = v
	return nil
}
