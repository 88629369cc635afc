package applinks

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// limitsKey is the one key of limitsPool: the limits belong to the
// process, like the listeners, not to one config.
const limitsKey = "applinks.limits"

// limitsPool holds the process's limits across reloads. A reload
// provisions the new config before cleaning up the old, so the new app
// finds the counts of the old one: a reload gives no one a fresh budget of
// password guesses or client-secret tries.
var limitsPool = caddy.NewUsagePool()

// pooledLimits is a Limits held in limitsPool; it holds nothing to close.
type pooledLimits struct {
	Limits
}

// Destruct does nothing: limits are memory only.
func (pooledLimits) Destruct() error { return nil }

// acquireLimits returns the process's limits, made on first use, and
// counts one more user of them; Cleanup releases them.
func acquireLimits() (Limits, error) {
	v, _, err := limitsPool.LoadOrNew(limitsKey, func() (caddy.Destructor, error) {
		return pooledLimits{newLimits()}, nil
	})
	if err != nil {
		return Limits{}, fmt.Errorf("loading the rate limits: %w", err)
	}
	return v.(pooledLimits).Limits, nil
}

// Cleanup releases this config's hold on the process's limits.
func (a *App) Cleanup() error {
	if !a.holdsLimits {
		return nil
	}
	a.holdsLimits = false
	if _, err := limitsPool.Delete(limitsKey); err != nil {
		return fmt.Errorf("releasing the rate limits: %w", err)
	}
	return nil
}
