package grants_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

const testGrace = 10 * time.Second

// clock is a settable time source shared by the service under test.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// refreshFixture is a token service over real Badger with a clock the test
// moves.
type refreshFixture struct {
	store   store.Store
	service *grants.Service
	clock   *clock
	client  grants.Client
}

func newRefreshFixture(t *testing.T) *refreshFixture {
	t.Helper()
	st := badgertest.Open(t)
	c := new(clock)
	c.ns.Store(time.Now().UnixNano())
	cfg := grants.Config{AccessTTL: time.Hour, RefreshTTL: 24 * time.Hour, CodeTTL: time.Minute, RefreshGrace: testGrace, ReplayMemory: time.Hour}
	return &refreshFixture{
		store:   st,
		service: grants.New(st, everyone{}, everyone{}, new(grants.Epoch), cfg, c.now, zap.NewNop()),
		clock:   c,
		client:  grants.Client{LinkID: "link", ClientID: "client", Ceiling: scope.Admin},
	}
}

// issue runs a code exchange and returns the first pair of a new family.
func (f *refreshFixture) issue(t *testing.T) grants.Tokens {
	t.Helper()
	ctx := context.Background()
	code, err := f.service.IssueCode(ctx, grants.CodeRequest{Client: f.client, UserID: "u", RedirectURI: "https://x/cb", Scope: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.service.Exchange(ctx, f.client, code, "https://x/cb", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// live returns those of the given refresh tokens that are still usable.
func (f *refreshFixture) live(t *testing.T, refreshTokens map[string]bool) []string {
	t.Helper()
	var out []string
	for rt := range refreshTokens {
		_, err := f.service.Validate(context.Background(), rt, store.RefreshToken)
		switch {
		case err == nil:
			out = append(out, rt)
		case !errors.Is(err, grants.ErrInvalidToken):
			t.Fatal(err)
		}
	}
	return out
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var oe *oautherror.Error
	if !errors.As(err, &oe) || oe.Code != oautherror.InvalidGrant {
		t.Fatalf("%s: %v, want invalid_grant", what, err)
	}
}

// TestRefreshRetryWithinGraceDoesNotForkFamily: a client (or a thief)
// presenting one used refresh token again and again within the grace
// cannot grow the family into several live refresh tokens; every retry
// gets the same pair, and after the grace one refresh token is live.
func TestRefreshRetryWithinGraceDoesNotForkFamily(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	first := f.issue(t)
	issued := map[string]bool{first.RefreshToken: true}

	pair, err := f.service.Refresh(ctx, f.client, first.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	issued[pair.RefreshToken] = true
	for i := range 5 {
		f.clock.advance(time.Second)
		again, err := f.service.Refresh(ctx, f.client, first.RefreshToken, "", "")
		if err != nil {
			t.Fatalf("retry %d within the grace: %v", i, err)
		}
		issued[again.RefreshToken] = true
		if again.RefreshToken != pair.RefreshToken || again.AccessToken != pair.AccessToken {
			t.Fatalf("retry %d within the grace issued a new pair: the family forked", i)
		}
		if want := int64(time.Hour/time.Second) - int64(i+1); again.ExpiresIn != want {
			t.Errorf("retry %d: expires_in = %d, want %d (what is left of the same access token)", i, again.ExpiresIn, want)
		}
		if _, err := f.service.Validate(ctx, again.AccessToken, store.AccessToken); err != nil {
			t.Fatalf("the access token of a retry does not work: %v", err)
		}
	}
	if live := f.live(t, issued); len(live) != 1 || live[0] != pair.RefreshToken {
		t.Fatalf("%d live refresh tokens within the grace, want only the newest", len(live))
	}

	f.clock.advance(testGrace)
	if live := f.live(t, issued); len(live) != 1 || live[0] != pair.RefreshToken {
		t.Fatalf("%d live refresh tokens after the grace, want 1", len(live))
	}
	// The child rotates normally.
	next, err := f.service.Refresh(ctx, f.client, pair.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("refreshing the child: %v", err)
	}
	issued[next.RefreshToken] = true
	if live := f.live(t, issued); len(live) != 1 || live[0] != next.RefreshToken {
		t.Fatalf("%d live refresh tokens after rotating the child, want 1", len(live))
	}
}

// TestConcurrentRefreshRetriesShareOnePair: many parallel refreshes with
// one refresh token (tabs, proxies, a retrying client) all succeed, yet
// they mint one pair between them, so after the grace the family has
// exactly one live refresh token.
func TestConcurrentRefreshRetriesShareOnePair(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	first := f.issue(t)
	const n = 20
	results := make([]grants.Tokens, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = f.service.Refresh(ctx, f.client, first.RefreshToken, "", "") })
	}
	wg.Wait()
	issued := map[string]bool{first.RefreshToken: true}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("refresh %d within the grace: %v", i, errs[i])
		}
		issued[results[i].RefreshToken] = true
		if results[i].RefreshToken != results[0].RefreshToken || results[i].AccessToken != results[0].AccessToken {
			t.Fatal("concurrent refreshes within the grace issued different pairs: the family forked")
		}
	}
	if _, err := f.service.Validate(ctx, results[0].AccessToken, store.AccessToken); err != nil {
		t.Fatalf("the shared access token does not work: %v", err)
	}
	f.clock.advance(testGrace + time.Second)
	if live := f.live(t, issued); len(live) != 1 {
		t.Fatalf("%d live refresh tokens after the grace, want 1", len(live))
	}
	g, err := f.store.GetGrant(ctx, results[0].GrantID)
	if err != nil {
		t.Fatal(err)
	}
	if g.Generation != 2 {
		t.Fatalf("the family's generation is %d after one rotation retried %d times, want 2", g.Generation, n)
	}
}

// TestReplayOfUsedRefreshTokenAfterGraceRevokesFamily: a stolen refresh
// token presented after its grace does not get a branch of its own; it is
// invalid_grant and ends the family, the legitimate client's newest pair
// included.
func TestReplayOfUsedRefreshTokenAfterGraceRevokesFamily(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	first := f.issue(t)
	pair, err := f.service.Refresh(ctx, f.client, first.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.advance(testGrace + time.Second)
	_, err = f.service.Refresh(ctx, f.client, first.RefreshToken, "", "")
	wantInvalidGrant(t, "replay after the grace", err)
	if _, err := f.service.Validate(ctx, pair.AccessToken, store.AccessToken); !errors.Is(err, grants.ErrInvalidToken) {
		t.Fatalf("the family's access token survived the replay: %v", err)
	}
	_, err = f.service.Refresh(ctx, f.client, pair.RefreshToken, "", "")
	wantInvalidGrant(t, "the newest refresh token after the replay", err)
}

// TestRefreshRetryAfterFamilyMovedOnRevokesFamily: once the pair a refresh
// token gave has itself been refreshed, presenting the old token again,
// even within its grace, is no lost response but a replay: it gets no
// tokens and ends the family.
func TestRefreshRetryAfterFamilyMovedOnRevokesFamily(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	first := f.issue(t)
	pair, err := f.service.Refresh(ctx, f.client, first.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	next, err := f.service.Refresh(ctx, f.client, pair.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.advance(time.Second)
	_, err = f.service.Refresh(ctx, f.client, first.RefreshToken, "", "")
	wantInvalidGrant(t, "a grandparent presented within its grace", err)
	if _, err := f.service.Validate(ctx, next.RefreshToken, store.RefreshToken); !errors.Is(err, grants.ErrInvalidToken) {
		t.Fatalf("the family survived the replay of a grandparent: %v", err)
	}
}

// TestRefreshRetryOfAnotherClientIsRefused: another client holding a used
// refresh token cannot collect the pair kept for retries.
func TestRefreshRetryOfAnotherClientIsRefused(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	first := f.issue(t)
	if _, err := f.service.Refresh(ctx, f.client, first.RefreshToken, "", ""); err != nil {
		t.Fatal(err)
	}
	other := grants.Client{LinkID: "other", ClientID: "other", Ceiling: scope.Admin}
	out, err := f.service.Refresh(ctx, other, first.RefreshToken, "", "")
	wantInvalidGrant(t, "another client's retry", err)
	if out.AccessToken != "" || out.RefreshToken != "" {
		t.Fatal("another client got tokens")
	}
}
