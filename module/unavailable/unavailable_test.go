package unavailable_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/unavailable"
)

func TestError(t *testing.T) {
	for _, tc := range []struct {
		err        error
		status     int
		retryAfter string
	}{
		{fmt.Errorf("looking up token: %w", store.ErrUnavailable), http.StatusServiceUnavailable, unavailable.RetryAfter},
		{errors.New("decoding record: bad JSON"), http.StatusInternalServerError, ""},
	} {
		w := httptest.NewRecorder()
		err := unavailable.Error(w, tc.err)
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) || he.StatusCode != tc.status {
			t.Errorf("Error(%v) = %v; want status %d", tc.err, err, tc.status)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("Error(%v) lost the cause", tc.err)
		}
		if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("Error(%v): Retry-After %q, want %q", tc.err, got, tc.retryAfter)
		}
	}
}
