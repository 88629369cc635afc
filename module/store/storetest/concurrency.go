package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// contenders is how many goroutines race in the concurrency tests.
const contenders = 100

// race runs fn(i) for i in [0, n) in n goroutines released at once.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// checkOneWinner checks that exactly one of errs is nil and that the
// others are lost or conflicts, and returns the winner's index.
func checkOneWinner(t *testing.T, what string, errs []error, lost error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("%s: calls %d and %d both succeeded", what, winner, i)
			}
			winner = i
		case errors.Is(err, lost), errors.Is(err, store.ErrConflict):
		default:
			t.Errorf("%s: call %d: unexpected error %v", what, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no call succeeded", what)
	}
	return winner
}

// testConcurrentRotateRefresh rotates one refresh token from many
// goroutines: exactly one rotation may be written.
func testConcurrentRotateRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	first := grantFor(t, s, l, "alice", longLived)
	refresh := first.Tokens[1]

	var (
		mu     sync.Mutex
		issued [][]byte // hashes of every token any fn call issued
		issues = make([]store.Issue, contenders)
		errs   = make([]error, contenders)
	)
	race(contenders, func(i int) {
		issues[i], errs[i] = s.RotateRefresh(ctx, refresh.Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
			if !tok.UsedAt.IsZero() {
				return store.Issue{}, errUsed
			}
			iss := rotate(g, tok, longLived)
			time.Sleep(time.Millisecond) // widen the race, as signing a token would
			mu.Lock()
			for _, tk := range iss.Tokens {
				issued = append(issued, tk.Hash)
			}
			mu.Unlock()
			return iss, nil
		})
	})
	w := checkOneWinner(t, "concurrent RotateRefresh", errs, errUsed)
	want := issues[w]

	g, err := s.GetGrant(ctx, first.Grant.ID)
	must(t, "GetGrant", err)
	if g.Generation != first.Grant.Generation+1 {
		t.Errorf("grant generation after concurrent rotations: got %d, want %d", g.Generation, first.Grant.Generation+1)
	}
	checkEqual(t, "grant after concurrent rotations", g, want.Grant)
	tok, _, err := s.LookupToken(ctx, refresh.Hash)
	must(t, "LookupToken of the rotated token", err)
	if tok.UsedAt.IsZero() {
		t.Error("rotated refresh token is not marked used")
	}
	checkTokenGone(t, s, "the replaced access token", first.Tokens[0].Hash)
	for _, tok := range want.Tokens {
		checkLookup(t, s, tok, want.Grant)
	}
	// Only the winner's tokens were written.
	found := 0
	for _, h := range issued {
		if _, _, err := s.LookupToken(ctx, h); err == nil {
			found++
		}
	}
	if found != len(want.Tokens) {
		t.Errorf("%d of the %d tokens issued by the updaters were stored, want %d", found, len(issued), len(want.Tokens))
	}
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), want.Grant)
}

// testConcurrentRedeemCode redeems one code from many goroutines: exactly
// one grant may be created.
func testConcurrentRedeemCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	c := newCode(l, "alice", 10*time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, c))

	var (
		mu     sync.Mutex
		issued [][]byte
		issues = make([]store.Issue, contenders)
		errs   = make([]error, contenders)
	)
	race(contenders, func(i int) {
		issues[i], errs[i] = s.RedeemCode(ctx, c.Hash, func(code store.Code) (store.Issue, error) {
			if code.GrantID != "" {
				return store.Issue{}, errRedeemed
			}
			iss := issueFor(code, longLived)
			time.Sleep(time.Millisecond) // widen the race, as signing a token would
			mu.Lock()
			for _, tk := range iss.Tokens {
				issued = append(issued, tk.Hash)
			}
			mu.Unlock()
			return iss, nil
		})
	})
	w := checkOneWinner(t, "concurrent RedeemCode", errs, errRedeemed)
	want := issues[w]

	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), want.Grant)
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), want.Grant)
	var seen store.Code
	_, err := s.RedeemCode(ctx, c.Hash, func(code store.Code) (store.Issue, error) {
		seen = code
		return store.Issue{}, errPeek
	})
	wantErr(t, "RedeemCode after the race", err, errPeek)
	if seen.GrantID != want.Grant.ID {
		t.Errorf("code marked with grant %q, want the winner's %q", seen.GrantID, want.Grant.ID)
	}
	found := 0
	for _, h := range issued {
		if _, _, err := s.LookupToken(ctx, h); err == nil {
			found++
		}
	}
	if found != len(want.Tokens) {
		t.Errorf("%d of the %d tokens issued by the updaters were stored, want %d", found, len(issued), len(want.Tokens))
	}
}

// testConcurrentUpdateLink appends to a link from many goroutines, each
// retrying on store.ErrConflict: no update may be lost.
func testConcurrentUpdateLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))

	errs := make([]error, contenders)
	race(contenders, func(i int) {
		uri := fmt.Sprintf("https://alpha.example/callback/%d", i)
		for range 10 * contenders {
			_, errs[i] = s.UpdateLink(ctx, l.ID, func(x *store.Link) error {
				x.RedirectURIs = append(x.RedirectURIs, uri)
				return nil
			})
			if !errors.Is(errs[i], store.ErrConflict) {
				return
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateLink %d: %v", i, err)
		}
	}

	got, err := s.GetLink(ctx, l.ID)
	must(t, "GetLink", err)
	if want := len(l.RedirectURIs) + contenders; len(got.RedirectURIs) != want {
		t.Errorf("link has %d redirect URIs after %d concurrent appends, want %d", len(got.RedirectURIs), contenders, want)
	}
	for i := range contenders {
		uri := fmt.Sprintf("https://alpha.example/callback/%d", i)
		if n := countOf(got.RedirectURIs, uri); n != 1 {
			t.Errorf("redirect URI %s stored %d times, want once", uri, n)
		}
	}
	if !slices.Equal(got.RedirectURIs[:len(l.RedirectURIs)], l.RedirectURIs) {
		t.Errorf("original redirect URIs changed: %v", got.RedirectURIs[:len(l.RedirectURIs)])
	}
}

// testConcurrentCreateLink creates links with one name from many
// goroutines: exactly one may be created.
func testConcurrentCreateLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	links := make([]store.Link, contenders)
	errs := make([]error, contenders)
	for i := range links {
		links[i] = newLink("alpha")
	}
	race(contenders, func(i int) {
		errs[i] = s.CreateLink(ctx, links[i])
	})
	w := checkOneWinner(t, "concurrent CreateLink", errs, store.ErrAlreadyExists)

	got, err := s.ListLinks(ctx)
	must(t, "ListLinks", err)
	checkEqual(t, "ListLinks", got, []store.Link{links[w]})
	for i, l := range links {
		if i == w {
			continue
		}
		if _, err := s.GetLinkByClientID(ctx, l.ClientID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetLinkByClientID of a losing link: got error %v, want %v", err, store.ErrNotFound)
		}
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
