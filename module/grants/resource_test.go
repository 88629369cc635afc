package grants_test

import (
	"context"
	"errors"
	"testing"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

const (
	mcpResource   = "https://app.example/mcp"
	otherResource = "https://app.example/other"
)

// exchangeFor issues a code asked for codeResource and redeems it asking
// for tokenResource.
func (f *refreshFixture) exchangeFor(t *testing.T, codeResource, tokenResource string) (grants.Tokens, error) {
	t.Helper()
	ctx := context.Background()
	code, err := f.service.IssueCode(ctx, grants.CodeRequest{Client: f.client, UserID: "u", RedirectURI: "https://x/cb", Scope: scope.Write, Resource: codeResource})
	if err != nil {
		t.Fatal(err)
	}
	return f.service.Exchange(ctx, f.client, code, "https://x/cb", "", tokenResource)
}

func (f *refreshFixture) audience(t *testing.T, access string) string {
	t.Helper()
	a, err := f.service.Validate(context.Background(), access, store.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return a.Resource
}

func isInvalidTarget(err error) bool {
	var oe *oautherror.Error
	return errors.As(err, &oe) && oe.Code == oautherror.InvalidTarget
}

// TestResourceOfCodeBindsTheTokens: the resource of the authorization
// request becomes the audience of the tokens, and the token request may
// repeat it or leave it out but not name another (RFC 8707 §2.2).
func TestResourceOfCodeBindsTheTokens(t *testing.T) {
	f := newRefreshFixture(t)
	for _, tc := range []struct{ code, token, want string }{
		{mcpResource, "", mcpResource},
		{mcpResource, mcpResource, mcpResource},
		{"", mcpResource, mcpResource},
		{"", "", ""},
	} {
		tok, err := f.exchangeFor(t, tc.code, tc.token)
		if err != nil {
			t.Fatalf("code %q, token %q: %v", tc.code, tc.token, err)
		}
		if got := f.audience(t, tok.AccessToken); got != tc.want || tok.Resource != tc.want {
			t.Errorf("code %q, token %q: audience %q (response %q), want %q", tc.code, tc.token, got, tok.Resource, tc.want)
		}
	}
	if _, err := f.exchangeFor(t, mcpResource, otherResource); !isInvalidTarget(err) {
		t.Fatalf("a code for one resource redeemed for another: %v, want invalid_target", err)
	}
}

// TestRefreshNarrowsButNeverChangesTheResource: a refresh of a grant bound
// to one resource cannot move its tokens to another; a grant bound to none
// can be narrowed to one, and stays so.
func TestRefreshNarrowsButNeverChangesTheResource(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	bound, err := f.exchangeFor(t, mcpResource, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.service.Refresh(ctx, f.client, bound.RefreshToken, "", otherResource); !isInvalidTarget(err) {
		t.Fatalf("refresh to another resource: %v, want invalid_target", err)
	}
	next, err := f.service.Refresh(ctx, f.client, bound.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.audience(t, next.AccessToken); got != mcpResource {
		t.Fatalf("refreshed audience %q, want %q", got, mcpResource)
	}

	open, err := f.exchangeFor(t, "", "")
	if err != nil {
		t.Fatal(err)
	}
	narrowed, err := f.service.Refresh(ctx, f.client, open.RefreshToken, "", mcpResource)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.audience(t, narrowed.AccessToken); got != mcpResource {
		t.Fatalf("narrowed audience %q, want %q", got, mcpResource)
	}
	again, err := f.service.Refresh(ctx, f.client, narrowed.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.audience(t, again.AccessToken); got != mcpResource {
		t.Fatalf("after narrowing, a refresh without resource gave audience %q, want %q", got, mcpResource)
	}
}
