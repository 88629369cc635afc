// Package storepool lets configuration generations share one open store:
// Caddy provisions a new configuration before it cleans up the old one,
// and a store (Badger's locked directory, a PostgreSQL connection pool) is
// opened once and closed when no generation holds it any more.
package storepool

import (
	"sync"

	"github.com/caddyserver/caddy/v2"
)

// Ref is one storage module's reference to a store in a pool, under one
// key (a directory, a DSN). The zero value holds nothing.
type Ref struct {
	mu   sync.Mutex
	key  string
	held caddy.Destructor // set while the reference is held
}

// Open returns the value pooled under key, made with open unless another
// generation holds it already (loaded then tells so). Once held, it
// returns the same value, loaded false, without asking the pool again.
func (r *Ref) Open(pool *caddy.UsagePool, key string, open func() (caddy.Destructor, error)) (val caddy.Destructor, loaded bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held != nil {
		return r.held, false, nil
	}
	v, loaded, err := pool.LoadOrNew(key, open)
	if err != nil {
		return nil, false, err
	}
	r.key, r.held = key, v.(caddy.Destructor)
	return r.held, loaded, nil
}

// Release drops the reference, if held; the pool destructs the value (closes
// the store) once no reference is left, and deleted tells whether this was
// the last.
func (r *Ref) Release(pool *caddy.UsagePool) (deleted bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held == nil {
		return false, nil
	}
	r.held = nil
	return pool.Delete(r.key)
}
