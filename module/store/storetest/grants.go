package storetest

import (
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

func testRedeemCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	c := newCode(l, "alice", 10*time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, c))
	other := newCode(l, "bob", 10*time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, other))

	want := issueFor(c, longLived)
	got, err := s.RedeemCode(ctx, c.Hash, func(code store.Code) (store.Issue, error) {
		checkEqual(t, "code given to fn", code, c)
		return want, nil
	})
	must(t, "RedeemCode", err)
	checkEqual(t, "issue returned by RedeemCode", got, want)

	g, err := s.GetGrant(ctx, want.Grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant", g, want.Grant)
	for _, tok := range want.Tokens {
		checkLookup(t, s, tok, want.Grant)
	}
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), want.Grant)

	// The code is kept, marked with the grant's id.
	var seen store.Code
	_, err = s.RedeemCode(ctx, c.Hash, func(code store.Code) (store.Issue, error) {
		seen = code
		return store.Issue{}, errPeek
	})
	wantErr(t, "second RedeemCode", err, errPeek)
	redeemed := c
	redeemed.GrantID = want.Grant.ID
	checkEqual(t, "redeemed code", seen, redeemed)

	// The other code is untouched.
	_, err = s.RedeemCode(ctx, other.Hash, func(code store.Code) (store.Issue, error) {
		seen = code
		return store.Issue{}, errPeek
	})
	wantErr(t, "RedeemCode of the other code", err, errPeek)
	checkEqual(t, "other code", seen, other)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), want.Grant)
}

func testRedeemCodeNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	c := newCode(l, "alice", 10*time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, c))

	_, err := s.RedeemCode(ctx, newHash(), func(store.Code) (store.Issue, error) {
		t.Error("RedeemCode called fn for a missing code")
		return issueFor(c, longLived), nil
	})
	wantErr(t, "RedeemCode of a missing code", err, store.ErrNotFound)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}))
}

func testRedeemCodeFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	c := newCode(l, "alice", 10*time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, c))

	failed := issueFor(c, longLived)
	_, err := s.RedeemCode(ctx, c.Hash, func(store.Code) (store.Issue, error) {
		return failed, errBoom
	})
	wantErr(t, "RedeemCode with a failing fn", err, errBoom)

	_, err = s.GetGrant(ctx, failed.Grant.ID)
	wantErr(t, "GetGrant of the failed redemption", err, store.ErrNotFound)
	for _, tok := range failed.Tokens {
		checkTokenGone(t, s, "a token of the failed redemption", tok.Hash)
	}
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}))
	checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}))
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}))

	// The code can still be redeemed.
	want := issueFor(c, longLived)
	_, err = s.RedeemCode(ctx, c.Hash, func(code store.Code) (store.Issue, error) {
		checkEqual(t, "code after a failed redemption", code, c)
		return want, nil
	})
	must(t, "RedeemCode after a failed redemption", err)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), want.Grant)
}

func testRotateRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	first := grantFor(t, s, l, "alice", longLived)
	other := grantFor(t, s, l, "alice", longLived)
	access, refresh := first.Tokens[0], first.Tokens[1]

	var (
		want    store.Issue
		usedTok store.Token
	)
	got, err := s.RotateRefresh(ctx, refresh.Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		checkEqual(t, "grant given to fn", *g, first.Grant)
		checkEqual(t, "token given to fn", *tok, refresh)
		want = rotate(g, tok, longLived)
		usedTok = *tok
		return want, nil
	})
	must(t, "RotateRefresh", err)
	checkEqual(t, "issue returned by RotateRefresh", got, want)
	if want.Grant.Generation != first.Grant.Generation+1 {
		t.Fatalf("rotated grant has generation %d, want %d", want.Grant.Generation, first.Grant.Generation+1)
	}

	// The parent token is kept as fn left it, the access token issued with
	// it is deleted, and the new tokens belong to the advanced grant.
	checkLookup(t, s, usedTok, want.Grant)
	checkTokenGone(t, s, "the replaced access token", access.Hash)
	for _, tok := range want.Tokens {
		checkLookup(t, s, tok, want.Grant)
	}
	g, err := s.GetGrant(ctx, first.Grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "rotated grant", g, want.Grant)
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), want.Grant, other.Grant)
	checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), want.Grant, other.Grant)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), want.Grant, other.Grant)

	// The other family is untouched.
	for _, tok := range other.Tokens {
		checkLookup(t, s, tok, other.Grant)
	}

	// The new refresh token rotates in turn.
	second := want
	got, err = s.RotateRefresh(ctx, second.Tokens[1].Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		checkEqual(t, "grant given to fn", *g, second.Grant)
		checkEqual(t, "token given to fn", *tok, second.Tokens[1])
		want = rotate(g, tok, longLived)
		return want, nil
	})
	must(t, "second RotateRefresh", err)
	checkEqual(t, "issue returned by the second RotateRefresh", got, want)
	checkTokenGone(t, s, "the second replaced access token", second.Tokens[0].Hash)
	_, g, err = s.LookupToken(ctx, usedTok.Hash)
	must(t, "LookupToken of the first refresh token", err)
	if g.Generation != first.Grant.Generation+2 {
		t.Errorf("grant generation after two rotations: got %d, want %d", g.Generation, first.Grant.Generation+2)
	}
}

// testRotateRefreshRetry rotates a token and then runs RotateRefresh on the
// used token with an fn that issues nothing, as a retry within the grace
// does: the used token keeps its sealed child and the grant its
// generation, so the family stays one branch.
func testRotateRefreshRetry(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	first := grantFor(t, s, l, "alice", longLived)
	var (
		rotated store.Issue
		used    store.Token
	)
	_, err := s.RotateRefresh(ctx, first.Tokens[1].Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		rotated = rotate(g, tok, longLived)
		used = *tok
		return rotated, nil
	})
	must(t, "RotateRefresh", err)
	got, err := s.RotateRefresh(ctx, first.Tokens[1].Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		checkEqual(t, "used token given to fn", *tok, used)
		checkEqual(t, "grant given to fn", *g, rotated.Grant)
		return store.Issue{Grant: *g}, nil
	})
	must(t, "RotateRefresh of the used token", err)
	checkEqual(t, "grant of the retry", got.Grant, rotated.Grant)
	checkLookup(t, s, used, rotated.Grant)
	for _, tok := range rotated.Tokens {
		checkLookup(t, s, tok, rotated.Grant)
	}
	g, err := s.GetGrant(ctx, first.Grant.ID)
	must(t, "GetGrant", err)
	if g.Generation != rotated.Grant.Generation {
		t.Fatalf("a retry changed the generation from %d to %d", rotated.Grant.Generation, g.Generation)
	}
}

func testRotateRefreshFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	first := grantFor(t, s, l, "alice", longLived)

	var failed store.Issue
	_, err := s.RotateRefresh(ctx, first.Tokens[1].Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		failed = rotate(g, tok, longLived)
		return failed, errBoom
	})
	wantErr(t, "RotateRefresh with a failing fn", err, errBoom)

	for _, tok := range first.Tokens {
		checkLookup(t, s, tok, first.Grant)
	}
	for _, tok := range failed.Tokens {
		checkTokenGone(t, s, "a token of the failed rotation", tok.Hash)
	}
	g, err := s.GetGrant(ctx, first.Grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant after a failed rotation", g, first.Grant)
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), first.Grant)
}

func testRotateRefreshNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	first := grantFor(t, s, l, "alice", longLived)
	fn := func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		t.Error("RotateRefresh called fn")
		return rotate(g, tok, longLived), nil
	}

	_, err := s.RotateRefresh(ctx, newHash(), fn)
	wantErr(t, "RotateRefresh of a missing token", err, store.ErrNotFound)

	must(t, "DeleteGrant", s.DeleteGrant(ctx, first.Grant.ID))
	_, err = s.RotateRefresh(ctx, first.Tokens[1].Hash, fn)
	wantErr(t, "RotateRefresh of a deleted grant's token", err, store.ErrNotFound)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}))
}

func testLookupToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	iss := grantFor(t, s, l, "alice", longLived)

	checkTokenGone(t, s, "a missing token", newHash())
	_, err := s.GetGrant(ctx, "missing")
	wantErr(t, "GetGrant of a missing grant", err, store.ErrNotFound)
	for _, tok := range iss.Tokens {
		checkLookup(t, s, tok, iss.Grant)
	}

	must(t, "DeleteGrant", s.DeleteGrant(ctx, iss.Grant.ID))
	for _, tok := range iss.Tokens {
		checkTokenGone(t, s, "a deleted grant's "+string(tok.Kind)+" token", tok.Hash)
	}
}

func testListGrants(t *testing.T, s store.Store) {
	// Ids and user names that are prefixes of each other must not mix.
	a := newLink("alpha")
	a.ID = "link-1"
	a = createLink(t, s, a)
	b := createLink(t, s, newLink("bravo"))
	c := newLink("charlie")
	c.ID = "link-10"
	c = createLink(t, s, c)

	checkGrants(t, "all grants of an empty store", listGrants(t, s, store.GrantFilter{}))

	g1 := grantFor(t, s, a, "bob", longLived).Grant
	g2 := grantFor(t, s, b, "bob", longLived).Grant
	g3 := grantFor(t, s, a, "bobby", longLived).Grant
	g4 := grantFor(t, s, c, "alice", longLived).Grant

	for _, tc := range []struct {
		filter store.GrantFilter
		want   []store.Grant
	}{
		{store.GrantFilter{UserID: "bob"}, []store.Grant{g1, g2}},
		{store.GrantFilter{UserID: "bobby"}, []store.Grant{g3}},
		{store.GrantFilter{UserID: "alice"}, []store.Grant{g4}},
		{store.GrantFilter{UserID: "bo"}, nil},
		{store.GrantFilter{UserID: "carol"}, nil},
		{store.GrantFilter{LinkID: a.ID}, []store.Grant{g1, g3}},
		{store.GrantFilter{LinkID: b.ID}, []store.Grant{g2}},
		{store.GrantFilter{LinkID: c.ID}, []store.Grant{g4}},
		{store.GrantFilter{LinkID: "link-"}, nil},
		{store.GrantFilter{LinkID: "missing"}, nil},
		{store.GrantFilter{}, []store.Grant{g1, g2, g3, g4}},
	} {
		checkGrants(t, "ListGrants("+tc.filter.UserID+"/"+tc.filter.LinkID+")", listGrants(t, s, tc.filter), tc.want...)
	}
}

func testDeleteGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	gone := grantFor(t, s, l, "alice", longLived)
	kept := grantFor(t, s, l, "alice", longLived)

	must(t, "DeleteGrant", s.DeleteGrant(ctx, gone.Grant.ID))
	_, err := s.GetGrant(ctx, gone.Grant.ID)
	wantErr(t, "GetGrant of a deleted grant", err, store.ErrNotFound)
	for _, tok := range gone.Tokens {
		checkTokenGone(t, s, "a deleted grant's "+string(tok.Kind)+" token", tok.Hash)
	}
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), kept.Grant)
	checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), kept.Grant)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), kept.Grant)
	for _, tok := range kept.Tokens {
		checkLookup(t, s, tok, kept.Grant)
	}

	must(t, "DeleteGrant of a deleted grant", s.DeleteGrant(ctx, gone.Grant.ID))
	must(t, "DeleteGrant of a missing grant", s.DeleteGrant(ctx, "missing"))
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), kept.Grant)
}
