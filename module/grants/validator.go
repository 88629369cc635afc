package grants

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Epoch counts revocations: grants revoked, links changed or deleted,
// users demoted or disabled. A cached validation made in an older epoch is
// made again, so every revocation is felt on the next request.
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
	cache   *cache
	now     func() time.Time
}

type cached struct {
	access Access
	epoch  uint64
}

// NewValidator returns a validator over the service holding at most
// entries results. It registers with the service to drop access tokens
// replaced by a refresh.
func NewValidator(s *Service, epoch *Epoch, entries int, now func() time.Time) *Validator {
	v := &Validator{service: s, epoch: epoch, cache: newCache(entries), now: now}
	s.superseded = func(hash []byte) { v.cache.forget([32]byte(hash)) }
	return v
}

// Validate returns what the access token grants now. A token with a bad
// checksum or prefix is refused without a store or cache lookup.
func (v *Validator) Validate(ctx context.Context, tok string) (Access, error) {
	a, err := v.validate(ctx, tok)
	v.service.observe.Validated(err == nil, err)
	return a, err
}

func (v *Validator) validate(ctx context.Context, tok string) (Access, error) {
	if !token.Valid(tok, token.Access) {
		return Access{}, ErrInvalidToken
	}
	key := token.Sum(tok)
	epoch := v.epoch.Current()
	now := v.now()
	if c, ok := v.cache.get(key, now); ok && c.epoch == epoch {
		return c.access, nil
	}
	seen := v.cache.forgets(key)
	a, err := v.service.Validate(ctx, tok, store.AccessToken)
	if errors.Is(err, ErrInvalidToken) {
		// Remember nothing: the token may be revoked, or never existed.
		return Access{}, err
	}
	if err != nil {
		return Access{}, err
	}
	v.cache.put(key, &cached{access: a, epoch: epoch}, seen, now)
	return a, nil
}

// Cached returns the number of cached validations.
func (v *Validator) Cached() int { return v.cache.len() }
