// Package unavailable tells failures of a store that cannot be reached
// from other errors, and answers them as clients and people expect: 503
// Service Unavailable with Retry-After, so that they try again, instead of
// a 500.
package unavailable

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/store"
)

// RetryAfter is the Retry-After value, in seconds, of a 503 for a store
// that cannot be reached.
const RetryAfter = "5"

// Is reports whether err is (or wraps) store.ErrUnavailable.
func Is(err error) bool { return errors.Is(err, store.ErrUnavailable) }

// Error returns err for Caddy's error handling: with status 503 and a
// Retry-After header when the store cannot be reached, else with 500.
func Error(w http.ResponseWriter, err error) error {
	if Is(err) {
		w.Header().Set("Retry-After", RetryAfter)
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	return caddyhttp.Error(http.StatusInternalServerError, err)
}
