package grants

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Epoch counts revocations: grants revoked, links deleted, users demoted
// or disabled. A cached validation made in an older epoch is made again,
// so every revocation is felt on the next request.
type Epoch struct{ n atomic.Uint64 }

// Bump records a revocation.
func (e *Epoch) Bump() { e.n.Add(1) }

// Current returns the number of revocations so far.
func (e *Epoch) Current() uint64 { return e.n.Load() }

// DefaultCacheEntries bounds the validation cache.
const DefaultCacheEntries = 100_000

// Validator validates access tokens for the guard, caching results by token
// hash (never by token) with bounded memory.
type Validator struct {
	service *Service
	epoch   *Epoch
	cache   *ristretto.Cache[string, *cached]
	now     func() time.Time

	// mu orders caching a validation against forgetting a token, so that a
	// validation racing with a refresh cannot cache the replaced token.
	mu        sync.Mutex
	forgotten map[string]time.Time
}

// forgetWindow is how long a replaced token is remembered as such: longer
// than any validation stays in flight.
const forgetWindow = 10 * time.Second

type cached struct {
	access Access
	epoch  uint64
}

// NewValidator returns a validator over the service holding at most
// entries results; Close releases it.
func NewValidator(s *Service, epoch *Epoch, entries int64, now func() time.Time) (*Validator, error) {
	c, err := ristretto.NewCache(&ristretto.Config[string, *cached]{
		NumCounters: entries * 10,
		MaxCost:     entries,
		BufferItems: 64,
	})
	if err != nil {
		return nil, fmt.Errorf("making validation cache: %w", err)
	}
	v := &Validator{service: s, epoch: epoch, cache: c, now: now, forgotten: map[string]time.Time{}}
	s.superseded = v.forget
	return v, nil
}

// Validate returns what the access token grants now. A token with a bad
// checksum or prefix is refused without a store or cache lookup.
func (v *Validator) Validate(ctx context.Context, tok string) (Access, error) {
	if !token.Valid(tok, token.Access) {
		return Access{}, ErrInvalidToken
	}
	key := string(token.Hash(tok))
	epoch := v.epoch.Current()
	if c, ok := v.cache.Get(key); ok && c.epoch == epoch {
		if !v.now().Before(c.access.ExpiresAt) {
			return Access{}, ErrInvalidToken
		}
		return c.access, nil
	}
	a, err := v.service.Validate(ctx, tok, store.AccessToken)
	if errors.Is(err, ErrInvalidToken) {
		// Remember nothing: the token may be revoked, or never existed.
		return Access{}, err
	}
	if err != nil {
		return Access{}, err
	}
	if ttl := a.ExpiresAt.Sub(v.now()); ttl > 0 {
		v.mu.Lock()
		if _, gone := v.forgotten[key]; !gone {
			v.cache.SetWithTTL(key, &cached{access: a, epoch: epoch}, 1, ttl)
		}
		v.mu.Unlock()
	}
	return a, nil
}

// forget drops a token replaced by a refresh from the cache.
func (v *Validator) forget(hash []byte) {
	key := string(hash)
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.cache.Del(key)
	v.forgotten[key] = now
	if len(v.forgotten) > 1024 {
		for k, at := range v.forgotten {
			if now.Sub(at) > forgetWindow {
				delete(v.forgotten, k)
			}
		}
	}
}

// Close releases the cache.
func (v *Validator) Close() { v.cache.Close() }
