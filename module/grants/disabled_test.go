package grants_test

import (
	"context"
	"errors"
	"testing"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestDisabledLinkVoidsLiveTokens: disabling a link refuses its tokens on
// their next validation, cached ones included, access and refresh alike;
// enabling it again gives them back as they were.
func TestDisabledLinkVoidsLiveTokens(t *testing.T) {
	f := newLinkFixture(t)
	ctx := context.Background()
	l, _, err := f.reg.Create(ctx, links.NewLink{Name: "app", RedirectURIs: []string{"https://x/cb"}, Ceiling: scope.Admin})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.issue(t, f.client(t, l.ID), scope.Write)
	if a, err := f.validator.Validate(ctx, tok.AccessToken); err != nil || a.Scope != scope.Write {
		t.Fatalf("Validate = %v, %v; want WRITE", a.Scope, err)
	} // cached from here on

	if _, err := f.reg.SetDisabled(ctx, l.ID, true, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.validator.Validate(ctx, tok.AccessToken); !errors.Is(err, grants.ErrInvalidToken) {
		t.Errorf("a cached token of a disabled link validates: %v", err)
	}
	if _, err := f.service.Validate(ctx, tok.RefreshToken, store.RefreshToken); !errors.Is(err, grants.ErrInvalidToken) {
		t.Errorf("a refresh token of a disabled link validates: %v", err)
	}

	if _, err := f.reg.SetDisabled(ctx, l.ID, false, "admin"); err != nil {
		t.Fatal(err)
	}
	if a, err := f.validator.Validate(ctx, tok.AccessToken); err != nil || a.Scope != scope.Write {
		t.Errorf("after enabling again Validate = %v, %v; want WRITE", a.Scope, err)
	}
	if _, err := f.service.Refresh(ctx, f.client(t, l.ID), tok.RefreshToken, "", ""); err != nil {
		t.Errorf("refresh after enabling again: %v", err)
	}
}
