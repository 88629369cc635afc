package links

import (
	"context"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
)

// SetDisabled disables or enables again a runtime link, registered or
// not. A disabled link is refused at the authorization and token
// endpoints, and its live tokens are refused from their next request on
// (its Ceiling is scope.None); enabling it again gives them back, as they
// were never revoked.
func (r *Registry) SetDisabled(ctx context.Context, id string, disabled bool, by string) (Link, error) {
	if _, ok := r.byID[id]; ok {
		return Link{}, ErrReadOnly
	}
	now := r.now().UTC()
	changed := false
	l, err := r.store.UpdateLink(ctx, id, func(l *store.Link) error {
		if l.Disabled != disabled {
			l.Disabled, l.UpdatedAt, changed = disabled, now, true
		}
		return nil
	})
	if err != nil {
		return Link{}, err
	}
	if !changed {
		return runtimeLink(l), nil
	}
	r.changed()
	msg := "link enabled"
	if disabled {
		msg = "link disabled"
	}
	r.audit.Info(msg, zap.String("link", l.Name), zap.String("link_id", id), zap.Bool("registered", l.Registered), zap.String("by", by))
	return runtimeLink(l), nil
}
