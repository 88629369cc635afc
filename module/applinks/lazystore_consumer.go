package applinks

import (
	"context"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateConsumerIdentity opens the store if needed and calls its
// CreateConsumerIdentity.
func (ls *lazyStore) CreateConsumerIdentity(ctx context.Context, c store.ConsumerIdentity) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateConsumerIdentity(ctx, c)
}

// GetConsumerIdentity opens the store if needed and calls its
// GetConsumerIdentity.
func (ls *lazyStore) GetConsumerIdentity(ctx context.Context) (store.ConsumerIdentity, error) {
	st, err := ls.open()
	if err != nil {
		return store.ConsumerIdentity{}, err
	}
	return st.GetConsumerIdentity(ctx)
}

// UpdateConsumerIdentity opens the store if needed and calls its
// UpdateConsumerIdentity.
func (ls *lazyStore) UpdateConsumerIdentity(ctx context.Context, fn func(*store.ConsumerIdentity) error) (store.ConsumerIdentity, error) {
	st, err := ls.open()
	if err != nil {
		return store.ConsumerIdentity{}, err
	}
	return st.UpdateConsumerIdentity(ctx, fn)
}
