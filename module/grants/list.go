package grants

import (
	"context"

	"github.com/applinks/caddy-applinks/module/store"
)

// List returns the live grants of one user (filter.UserID set), of one
// link (filter.LinkID set), of one user through one link (both set), or
// all of them (both empty), in no defined order.
func (s *Service) List(ctx context.Context, filter store.GrantFilter) ([]store.Grant, error) {
	return s.store.ListGrants(ctx, filter)
}

// Get returns the grant with the given id; store.ErrNotFound when there
// is none (or it expired).
func (s *Service) Get(ctx context.Context, id string) (store.Grant, error) {
	return s.store.GetGrant(ctx, id)
}
