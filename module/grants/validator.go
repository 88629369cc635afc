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
// made again, so every revocation is felt on the next request. When
// several gateways share a store, each revocation is also announced to the
// others, which count it with Heard.
type Epoch struct {
	n        atomic.Uint64
	announce atomic.Pointer[func()]
}

// Bump records a revocation made by this process and announces it.
func (e *Epoch) Bump() {
	e.n.Add(1)
	if f := e.announce.Load(); f != nil {
		(*f)()
	}
}

// Heard records a revocation announced by another process (or one that
// may have been missed), without announcing it again.
func (e *Epoch) Heard() { e.n.Add(1) }

// AnnounceWith makes Bump call f after counting, to tell the other
// gateways sharing the store.
func (e *Epoch) AnnounceWith(f func()) { e.announce.Store(&f) }

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
	// deafSince is when this process stopped hearing the other gateways'
	// revocations (UnixNano; 0 while it hears them, or alone).
	deafSince atomic.Int64
	// maxStale is how long after that a cached validation is still
	// honoured.
	maxStale atomic.Int64
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
	a, err := v.validate(ctx, tok, token.Access, store.AccessToken)
	v.service.observe.Validated(err == nil, err)
	return a, err
}

// ValidateOAuth1 is Validate for an OAuth 1.0a access token: the same
// checks, cache and revocation epoch. The signature of the request it
// came with is the caller's to verify.
func (v *Validator) ValidateOAuth1(ctx context.Context, tok string) (Access, error) {
	a, err := v.validate(ctx, tok, token.OAuth1Access, store.OAuth1Token)
	v.service.observe.Validated(err == nil, err)
	return a, err
}

func (v *Validator) validate(ctx context.Context, tok, prefix string, kind store.TokenKind) (Access, error) {
	if !token.Valid(tok, prefix) {
		return Access{}, ErrInvalidToken
	}
	key := token.Sum(tok)
	epoch := v.epoch.Current()
	now := v.now()
	if c, ok := v.cache.get(key, now); ok && c.epoch == epoch && v.trusted(now) {
		return c.access, nil
	}
	seen := v.cache.forgets(key)
	a, err := v.service.Validate(ctx, tok, kind)
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

// Deaf tells the validator whether it can hear the revocations of the
// other gateways sharing the store. While deaf, a cached validation is
// honoured only until MaxStale has passed since it became deaf (by
// default not at all), so every token is checked against the store.
func (v *Validator) Deaf(deaf bool) {
	if !deaf {
		v.deafSince.Store(0)
		return
	}
	v.deafSince.CompareAndSwap(0, v.now().UnixNano())
}

// SetMaxStale sets how long a cached validation is honoured after the
// validator became deaf. Default 0.
func (v *Validator) SetMaxStale(d time.Duration) { v.maxStale.Store(int64(d)) }

// trusted reports whether cached validations may be used at now.
func (v *Validator) trusted(now time.Time) bool {
	since := v.deafSince.Load()
	return since == 0 || now.UnixNano()-since < v.maxStale.Load()
}

// Cached returns the number of cached validations.
func (v *Validator) Cached() int { return v.cache.len() }
