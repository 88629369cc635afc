package outgoing

import (
	"context"
	"errors"

	"github.com/applinks/caddy-applinks/module/store"
)

// Statuses of a connection (Atlassian's names).
const (
	StatusValid         = "VALID"
	StatusRecoverable   = "RECOVERABLE"
	StatusUnrecoverable = "UNRECOVERABLE"
)

// Status returns the status of the link's connection for user: VALID,
// RECOVERABLE, UNRECOVERABLE, or "" when not connected.
func (s *Service) Status(ctx context.Context, l *Link, userID string) (string, error) {
	c, err := s.store.GetConnection(ctx, l.Name, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return c.Status, err
}

// StatusLabel is a connection status as pages show it to people: "" (no
// connection) is "Not connected", VALID "Connected", RECOVERABLE
// "Retrying" (refresh failed for a temporary reason) and UNRECOVERABLE
// "Must reconnect" (the provider refused the refresh token).
func StatusLabel(status string) string {
	switch status {
	case "":
		return "Not connected"
	case StatusValid:
		return "Connected"
	case StatusRecoverable:
		return "Retrying"
	case StatusUnrecoverable:
		return "Must reconnect"
	}
	return status
}
