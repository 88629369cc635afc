package outgoing

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
)

// Connections returns the connections of one link (filter.LinkID set), of
// one user (filter.UserID set), of one user for one link (both set), or
// all of them (both empty), in no defined order. Their provider tokens
// stay sealed.
func (s *Service) Connections(ctx context.Context, filter store.ConnectionFilter) ([]store.Connection, error) {
	return s.store.ListConnections(ctx, filter)
}

// Disconnect deletes the connection of link name for userID ("" for a
// shared link's) and returns what it deleted; the user connects again
// through /applinks/connect/<name>. store.ErrNotFound when there is no
// such connection.
func (s *Service) Disconnect(ctx context.Context, name, userID, by string) (store.Connection, error) {
	c, err := s.store.GetConnection(ctx, name, userID)
	if err != nil {
		return store.Connection{}, fmt.Errorf("reading the connection of %q for %q: %w", name, userID, err)
	}
	if err := s.store.DeleteConnection(ctx, name, userID); err != nil {
		return store.Connection{}, fmt.Errorf("deleting the connection of %q for %q: %w", name, userID, err)
	}
	s.audit.Info("outgoing link disconnected", zap.String("link", name), zap.String("user", userID), zap.String("by", by))
	return c, nil
}

// DisconnectUser deletes every connection of a user, as when the user is
// deleted, and returns how many there were.
func (s *Service) DisconnectUser(ctx context.Context, userID, by string) (int, error) {
	if userID == "" {
		return 0, errors.New("disconnecting a user: empty user id")
	}
	conns, err := s.store.ListConnections(ctx, store.ConnectionFilter{UserID: userID})
	if err != nil {
		return 0, fmt.Errorf("listing the connections of %q: %w", userID, err)
	}
	for _, c := range conns {
		if err := s.store.DeleteConnection(ctx, c.LinkID, userID); err != nil {
			return 0, fmt.Errorf("deleting the connection of %q for %q: %w", c.LinkID, userID, err)
		}
	}
	if len(conns) > 0 {
		s.audit.Info("outgoing links disconnected", zap.String("user", userID), zap.Int("connections", len(conns)), zap.String("by", by))
	}
	return len(conns), nil
}
