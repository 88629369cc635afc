package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestAnswerEveryKindOfError: the token endpoint's answer writes OAuth
// errors as JSON, a conflict or a store that cannot be reached as
// temporarily_unavailable, and hands any other error to Caddy as a 500,
// once (an earlier version called itself for those, forever).
func TestAnswerEveryKindOfError(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct {
		err     error
		written int // status written by answer; 0: left to Caddy
		caddy   int // status of the error handed to Caddy
	}{
		{oautherror.New(oautherror.InvalidGrant, "no"), http.StatusBadRequest, 0},
		{fmt.Errorf("rotating: %w", store.ErrConflict), http.StatusServiceUnavailable, 0},
		{fmt.Errorf("looking up: %w", store.ErrUnavailable), http.StatusServiceUnavailable, 0},
		{errors.New("decoding a record: bad JSON"), 0, http.StatusInternalServerError},
	} {
		w := httptest.NewRecorder()
		err := s.answer(w, tc.err)
		if tc.written != 0 {
			if err != nil || w.Code != tc.written {
				t.Errorf("answer(%v) = %v, wrote %d; want %d written", tc.err, err, w.Code, tc.written)
			}
			continue
		}
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) || he.StatusCode != tc.caddy {
			t.Errorf("answer(%v) = %v; want a %d for Caddy", tc.err, err, tc.caddy)
		}
	}
}
