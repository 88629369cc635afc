package grants_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// linkFixture is a token service and its validator over real Badger, with
// the real link registry bumping the epoch on every link change, as the
// app wires them.
type linkFixture struct {
	reg       *links.Registry
	service   *grants.Service
	validator *grants.Validator
}

func newLinkFixture(t *testing.T) *linkFixture {
	t.Helper()
	st := badgertest.Open(t)
	keys, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	epoch := new(grants.Epoch)
	reg, err := links.New(st, keys, nil, time.Now, zap.NewNop(), epoch.Bump)
	if err != nil {
		t.Fatal(err)
	}
	s := grants.New(st, everyone{}, reg, epoch, grants.Config{AccessTTL: time.Hour, RefreshTTL: 24 * time.Hour, CodeTTL: time.Minute, RefreshGrace: 10 * time.Second, ReplayMemory: time.Minute}, time.Now, zap.NewNop())
	return &linkFixture{reg: reg, service: s, validator: grants.NewValidator(s, epoch, grants.DefaultCacheEntries, time.Now)}
}

// client is the link as the token endpoint sees it now.
func (f *linkFixture) client(t *testing.T, id string) grants.Client {
	t.Helper()
	l, err := f.reg.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return grants.Client{LinkID: l.ID, ClientID: l.ClientID, Ceiling: l.Ceiling}
}

// issue runs a code exchange through the link for a user whose role is
// SYSTEM_ADMIN, asking for want.
func (f *linkFixture) issue(t *testing.T, c grants.Client, want scope.Scope) grants.Tokens {
	t.Helper()
	ctx := context.Background()
	code, err := f.service.IssueCode(ctx, grants.CodeRequest{Client: c, UserID: "u", RedirectURI: "https://x/cb", Scope: want})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.service.Exchange(ctx, c, code, "https://x/cb", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestLoweredCeilingBindsIssuedTokens: lowering a link's permission
// ceiling lowers what tokens already issued through it grant on their next
// validation, cached ones included; raising it again gives back no more
// than the token was issued with; deleting the link voids them.
func TestLoweredCeilingBindsIssuedTokens(t *testing.T) {
	f := newLinkFixture(t)
	ctx := context.Background()
	uris := []string{"https://x/cb"}
	l, _, err := f.reg.Create(ctx, links.NewLink{Name: "app", RedirectURIs: uris, Ceiling: scope.Admin})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.issue(t, f.client(t, l.ID), scope.Write)

	validate := func(want scope.Scope) {
		t.Helper()
		a, err := f.validator.Validate(ctx, tok.AccessToken)
		if err != nil || a.Scope != want {
			t.Fatalf("Validator.Validate = %v, %v; want %v", a.Scope, err, want)
		}
		a, err = f.service.Validate(ctx, tok.AccessToken, store.AccessToken)
		if err != nil || a.Scope != want {
			t.Fatalf("Service.Validate = %v, %v; want %v", a.Scope, err, want)
		}
	}
	validate(scope.Write) // cached from here on

	for _, step := range []struct {
		ceiling, want scope.Scope
	}{
		{scope.Read, scope.Read},
		{scope.SystemAdmin, scope.Write},
		{scope.Write, scope.Write},
		{scope.Read, scope.Read},
	} {
		if _, err := f.reg.Update(ctx, l.ID, links.Edit{RedirectURIs: uris, Ceiling: step.ceiling}, "admin"); err != nil {
			t.Fatal(err)
		}
		validate(step.want)
	}

	// A refresh through the lowered link issues no more than its ceiling.
	refreshed, err := f.service.Refresh(ctx, f.client(t, l.ID), tok.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.Scope != "READ" {
		t.Errorf("refresh through a READ link answered scope %q", refreshed.Scope)
	}
	tok = refreshed
	validate(scope.Read)

	if err := f.reg.Delete(ctx, l.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.validator.Validate(ctx, tok.AccessToken); !errors.Is(err, grants.ErrInvalidToken) {
		t.Fatalf("a token of a deleted link validates: %v", err)
	}
}

// TestRevokeUser: revoking a user's grants ends each of them, with its
// tokens at once, and leaves other users' grants.
func TestRevokeUser(t *testing.T) {
	f := newLinkFixture(t)
	ctx := context.Background()
	l, _, err := f.reg.Create(ctx, links.NewLink{Name: "app", RedirectURIs: []string{"https://x/cb"}, Ceiling: scope.Admin})
	if err != nil {
		t.Fatal(err)
	}
	c := f.client(t, l.ID)
	first, second := f.issue(t, c, scope.Read), f.issue(t, c, scope.Write)
	if _, err := f.validator.Validate(ctx, first.AccessToken); err != nil { // cached
		t.Fatal(err)
	}
	code, err := f.service.IssueCode(ctx, grants.CodeRequest{Client: c, UserID: "other", RedirectURI: "https://x/cb", Scope: scope.Read})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.service.Exchange(ctx, c, code, "https://x/cb", "", ""); err != nil {
		t.Fatal(err)
	}

	n, err := f.service.RevokeUser(ctx, "u", "admin")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser = %d, %v; want 2", n, err)
	}
	for _, tok := range []grants.Tokens{first, second} {
		if _, err := f.validator.Validate(ctx, tok.AccessToken); !errors.Is(err, grants.ErrInvalidToken) {
			t.Errorf("a token of a revoked grant validates: %v", err)
		}
	}
	if gs, err := f.service.List(ctx, store.GrantFilter{UserID: "u"}); err != nil || len(gs) != 0 {
		t.Errorf("grants of u after RevokeUser: %v %v", gs, err)
	}
	gs, err := f.service.List(ctx, store.GrantFilter{})
	if err != nil || len(gs) != 1 || gs[0].UserID != "other" {
		t.Fatalf("grants after RevokeUser: %v %v, want other's only", gs, err)
	}
	if g, err := f.service.Get(ctx, gs[0].ID); err != nil || g.ID != gs[0].ID {
		t.Errorf("Get of other's grant: %v %v", g, err)
	}
	if _, err := f.service.RevokeUser(ctx, "", "admin"); err == nil {
		t.Error("RevokeUser of the empty name revoked every grant")
	}
}
