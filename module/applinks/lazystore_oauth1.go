package applinks

import (
	"context"

	"github.com/applinks/caddy-applinks/module/store"
)

// CreateRequestToken opens the store if needed and calls its CreateRequestToken.
func (ls *lazyStore) CreateRequestToken(ctx context.Context, t store.RequestToken) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.CreateRequestToken(ctx, t)
}

// GetRequestToken opens the store if needed and calls its GetRequestToken.
func (ls *lazyStore) GetRequestToken(ctx context.Context, hash []byte) (store.RequestToken, error) {
	st, err := ls.open()
	if err != nil {
		return store.RequestToken{}, err
	}
	return st.GetRequestToken(ctx, hash)
}

// UpdateRequestToken opens the store if needed and calls its UpdateRequestToken.
func (ls *lazyStore) UpdateRequestToken(ctx context.Context, hash []byte, fn func(*store.RequestToken) error) (store.RequestToken, error) {
	st, err := ls.open()
	if err != nil {
		return store.RequestToken{}, err
	}
	return st.UpdateRequestToken(ctx, hash, fn)
}

// RedeemRequestToken opens the store if needed and calls its RedeemRequestToken.
func (ls *lazyStore) RedeemRequestToken(ctx context.Context, hash []byte, fn func(*store.RequestToken) (store.Issue, error)) (store.Issue, error) {
	st, err := ls.open()
	if err != nil {
		return store.Issue{}, err
	}
	return st.RedeemRequestToken(ctx, hash, fn)
}

// RememberNonce opens the store if needed and calls its RememberNonce.
func (ls *lazyStore) RememberNonce(ctx context.Context, n store.Nonce) error {
	st, err := ls.open()
	if err != nil {
		return err
	}
	return st.RememberNonce(ctx, n)
}
