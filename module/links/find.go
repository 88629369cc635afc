package links

import (
	"context"
	"errors"
	"fmt"

	"github.com/applinks/caddy-applinks/module/store"
)

// ErrAmbiguous means a reference is the id of one link and the name of
// another, so it names neither.
var ErrAmbiguous = errors.New("is the id of one link and the name of another; use the id")

// Find returns the link whose id or name is ref, for people who name a
// link either way. It never picks one of two links: when ref is one
// link's id and another's name, it returns ErrAmbiguous; store.ErrNotFound
// when no link has that id or name.
func (r *Registry) Find(ctx context.Context, ref string) (Link, error) {
	byID, err := r.Get(ctx, ref)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Link{}, fmt.Errorf("looking up link %q: %w", ref, err)
	}
	found := err == nil
	byName, named, err := r.byName(ctx, ref)
	if err != nil {
		return Link{}, err
	}
	switch {
	case found && named && byName.ID != byID.ID:
		return Link{}, fmt.Errorf("%q %w", ref, ErrAmbiguous)
	case found:
		return byID, nil
	case named:
		return byName, nil
	}
	return Link{}, fmt.Errorf("link %q: %w", ref, store.ErrNotFound)
}

// byName returns the link named name, declared or stored.
func (r *Registry) byName(ctx context.Context, name string) (Link, bool, error) {
	all, err := r.List(ctx)
	if err != nil {
		return Link{}, false, fmt.Errorf("listing links: %w", err)
	}
	for _, l := range all {
		if l.Name == name {
			return l, true, nil
		}
	}
	return Link{}, false, nil
}

// nameIsAnID reports whether name is the id of an existing link, which a
// new link must not take as its name.
func (r *Registry) nameIsAnID(ctx context.Context, name string) (bool, error) {
	_, err := r.Get(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("looking up link %q: %w", name, err)
}
