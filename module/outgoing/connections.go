package outgoing

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
)

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
