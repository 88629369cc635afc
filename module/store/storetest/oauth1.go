package storetest

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// errSpent is what the tests' redemption updaters return for a request
// token used before.
var errSpent = errors.New("request token already used")

// newRequestToken returns a request token of l with every field set but
// those of its authorization and use, expiring after ttl.
func newRequestToken(l store.Link, ttl time.Duration) store.RequestToken {
	n := now()
	return store.RequestToken{
		Hash:         newHash(),
		LinkID:       l.ID,
		ConsumerKey:  l.ClientID,
		Callback:     "https://" + l.Name + ".example/oauth/callback?x=1",
		SealedSecret: newHash(),
		CreatedAt:    n,
		ExpiresAt:    n.Add(ttl),
	}
}

// authorize marks t authorized by user, as the authorize page does.
func authorize(t *store.RequestToken, user string) {
	t.VerifierHash = newHash()
	t.UserID = user
	t.Scope = "WRITE"
	t.AuthTime = now().Add(-time.Minute)
}

// oauth1Issue returns what an access-token exchange of rt issues: a grant
// with one OAuth 1.0a access token carrying a sealed token secret.
func oauth1Issue(rt store.RequestToken, ttl time.Duration) store.Issue {
	n := now()
	g := store.Grant{
		ID: "grant-" + rand.Text(), LinkID: rt.LinkID, ClientID: rt.ConsumerKey, UserID: rt.UserID, Scope: rt.Scope,
		AuthTime: rt.AuthTime, Generation: 1, CreatedAt: n, UpdatedAt: n, ExpiresAt: n.Add(ttl),
	}
	return store.Issue{Grant: g, Tokens: []store.Token{{
		Hash: newHash(), Kind: store.OAuth1Token, GrantID: g.ID, Generation: 1, Scope: g.Scope,
		IssuedAt: n, ExpiresAt: g.ExpiresAt, SealedSecret: newHash(),
	}}}
}

// redeemOnce is the updater of an access-token exchange: a used token is
// errSpent; otherwise it is marked used with the grant it gives.
func redeemOnce(ttl time.Duration) func(*store.RequestToken) (store.Issue, error) {
	return func(rt *store.RequestToken) (store.Issue, error) {
		if !rt.UsedAt.IsZero() {
			return store.Issue{}, errSpent
		}
		iss := oauth1Issue(*rt, ttl)
		rt.UsedAt, rt.GrantID = now(), iss.Grant.ID
		return iss, nil
	}
}

// testRequestTokens: a request token is stored and read back as it was,
// authorized by an update that keeps its expiry, and a missing one is
// store.ErrNotFound for every method.
func testRequestTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("jira"))
	rt := newRequestToken(l, 10*time.Minute)
	must(t, "CreateRequestToken", s.CreateRequestToken(ctx, rt))
	got, err := s.GetRequestToken(ctx, rt.Hash)
	must(t, "GetRequestToken", err)
	checkEqual(t, "request token", got, rt)

	want := rt
	authorize(&want, "alice")
	updated, err := s.UpdateRequestToken(ctx, rt.Hash, func(x *store.RequestToken) error {
		checkEqual(t, "request token given to the updater", *x, rt)
		authorize(x, "alice")
		x.VerifierHash, x.AuthTime = want.VerifierHash, want.AuthTime
		x.ExpiresAt = x.ExpiresAt.Add(time.Hour) // ignored: the expiry stays
		return nil
	})
	must(t, "UpdateRequestToken", err)
	checkEqual(t, "updated request token", updated, want)
	got, err = s.GetRequestToken(ctx, rt.Hash)
	must(t, "GetRequestToken after the update", err)
	checkEqual(t, "request token after the update", got, want)

	_, err = s.UpdateRequestToken(ctx, rt.Hash, func(x *store.RequestToken) error {
		x.UserID = "mallory"
		return errBoom
	})
	wantErr(t, "UpdateRequestToken whose updater fails", err, errBoom)
	got, _ = s.GetRequestToken(ctx, rt.Hash)
	checkEqual(t, "request token after a failed update", got, want)

	missing := newHash()
	_, err = s.GetRequestToken(ctx, missing)
	wantErr(t, "GetRequestToken of a missing token", err, store.ErrNotFound)
	_, err = s.UpdateRequestToken(ctx, missing, func(*store.RequestToken) error {
		t.Error("UpdateRequestToken called fn for a missing token")
		return nil
	})
	wantErr(t, "UpdateRequestToken of a missing token", err, store.ErrNotFound)
	_, err = s.RedeemRequestToken(ctx, missing, func(*store.RequestToken) (store.Issue, error) {
		t.Error("RedeemRequestToken called fn for a missing token")
		return store.Issue{}, nil
	})
	wantErr(t, "RedeemRequestToken of a missing token", err, store.ErrNotFound)
}

// testRedeemRequestToken: a redemption writes the token as the updater
// left it with the grant and its OAuth 1.0a token (sealed secret
// included), in the indexes of the user and the link; a second one sees
// it used; a failed one writes nothing; one that only marks the token
// used (a wrong verifier) issues nothing.
func testRedeemRequestToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("jira"))
	rt := newRequestToken(l, 10*time.Minute)
	authorize(&rt, "alice")
	must(t, "CreateRequestToken", s.CreateRequestToken(ctx, rt))

	_, err := s.RedeemRequestToken(ctx, rt.Hash, func(x *store.RequestToken) (store.Issue, error) {
		x.UsedAt = now()
		return oauth1Issue(*x, time.Hour), errBoom
	})
	wantErr(t, "RedeemRequestToken whose updater fails", err, errBoom)
	if got, _ := s.GetRequestToken(ctx, rt.Hash); !got.UsedAt.IsZero() {
		t.Error("a failed redemption marked the request token used")
	}
	if gs := listGrants(t, s, store.GrantFilter{}); len(gs) != 0 {
		t.Errorf("a failed redemption stored %d grants", len(gs))
	}

	iss, err := s.RedeemRequestToken(ctx, rt.Hash, redeemOnce(time.Hour))
	must(t, "RedeemRequestToken", err)
	checkLookup(t, s, iss.Tokens[0], iss.Grant)
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), iss.Grant)
	checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), iss.Grant)
	got, err := s.GetRequestToken(ctx, rt.Hash)
	must(t, "GetRequestToken of the redeemed token", err)
	if got.UsedAt.IsZero() || got.GrantID != iss.Grant.ID || !got.ExpiresAt.Equal(rt.ExpiresAt) {
		t.Errorf("redeemed request token: used %v, grant %q (want %q), expires %v (want %v)", got.UsedAt, got.GrantID, iss.Grant.ID, got.ExpiresAt, rt.ExpiresAt)
	}
	_, err = s.RedeemRequestToken(ctx, rt.Hash, redeemOnce(time.Hour))
	wantErr(t, "RedeemRequestToken a second time", err, errSpent)

	wrong := newRequestToken(l, 10*time.Minute)
	must(t, "CreateRequestToken", s.CreateRequestToken(ctx, wrong))
	none, err := s.RedeemRequestToken(ctx, wrong.Hash, func(x *store.RequestToken) (store.Issue, error) {
		x.UsedAt = now()
		return store.Issue{}, nil
	})
	must(t, "RedeemRequestToken that only marks the token used", err)
	if none.Grant.ID != "" {
		t.Errorf("a redemption that issued nothing returned grant %q", none.Grant.ID)
	}
	if got, _ := s.GetRequestToken(ctx, wrong.Hash); got.UsedAt.IsZero() {
		t.Error("the request token was not marked used")
	}
	checkGrants(t, "grants after a redemption that issued nothing", listGrants(t, s, store.GrantFilter{}), iss.Grant)
	must(t, "DeleteLink", s.DeleteLink(ctx, l.ID))
	checkTokenGone(t, s, "OAuth 1.0a token of a deleted link", iss.Tokens[0].Hash)
}

// testNonces: a nonce is refused while it lives (store.ErrAlreadyExists)
// and another hash is not; one written already expired does not block
// its hash.
func testNonces(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := store.Nonce{Hash: newHash(), ExpiresAt: now().Add(10 * time.Minute)}
	must(t, "RememberNonce", s.RememberNonce(ctx, n))
	wantErr(t, "RememberNonce of a live nonce", s.RememberNonce(ctx, n), store.ErrAlreadyExists)
	must(t, "RememberNonce of another nonce", s.RememberNonce(ctx, store.Nonce{Hash: newHash(), ExpiresAt: n.ExpiresAt}))
	old := store.Nonce{Hash: newHash(), ExpiresAt: now().Add(-time.Minute)}
	must(t, "RememberNonce of an expired nonce", s.RememberNonce(ctx, old))
	old.ExpiresAt = now().Add(time.Minute)
	must(t, "RememberNonce of the hash of an expired nonce", s.RememberNonce(ctx, old))
	wantErr(t, "RememberNonce once it lives again", s.RememberNonce(ctx, old), store.ErrAlreadyExists)
}

// expiryOAuth1: request tokens and nonces are gone after they expire (a
// nonce's hash may be remembered again), live ones stay.
func expiryOAuth1(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	ctx := t.Context()
	l := createLink(t, s, newLink("jira"))
	rt := newRequestToken(l, shortTTL)
	long := newRequestToken(l, time.Hour)
	for _, x := range []store.RequestToken{rt, long} {
		must(t, "CreateRequestToken", s.CreateRequestToken(ctx, x))
	}
	n := store.Nonce{Hash: newHash(), ExpiresAt: now().Add(shortTTL)}
	must(t, "RememberNonce", s.RememberNonce(ctx, n))
	return rt.ExpiresAt, func(t *testing.T) {
		ctx := t.Context()
		_, err := s.GetRequestToken(ctx, rt.Hash)
		wantErr(t, "GetRequestToken after expiry", err, store.ErrNotFound)
		_, err = s.RedeemRequestToken(ctx, rt.Hash, redeemOnce(time.Hour))
		wantErr(t, "RedeemRequestToken after expiry", err, store.ErrNotFound)
		got, err := s.GetRequestToken(ctx, long.Hash)
		must(t, "GetRequestToken of a live token", err)
		checkEqual(t, "live request token", got, long)
		n.ExpiresAt = now().Add(time.Minute)
		must(t, "RememberNonce of an expired nonce's hash", s.RememberNonce(ctx, n))
	}
}

// testConcurrentRedeemRequestToken exchanges one request token from many
// goroutines: exactly one exchange may issue a grant.
func testConcurrentRedeemRequestToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("jira"))
	rt := newRequestToken(l, 10*time.Minute)
	authorize(&rt, "alice")
	must(t, "CreateRequestToken", s.CreateRequestToken(ctx, rt))
	issues := make([]store.Issue, contenders)
	errs := make([]error, contenders)
	race(contenders, func(i int) {
		issues[i], errs[i] = s.RedeemRequestToken(ctx, rt.Hash, func(x *store.RequestToken) (store.Issue, error) {
			iss, err := redeemOnce(time.Hour)(x)
			time.Sleep(time.Millisecond) // widen the race, as sealing a secret would
			return iss, err
		})
	})
	w := checkOneWinner(t, "concurrent RedeemRequestToken", errs, errSpent)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), issues[w].Grant)
	got, err := s.GetRequestToken(ctx, rt.Hash)
	must(t, "GetRequestToken after the race", err)
	if got.GrantID != issues[w].Grant.ID {
		t.Errorf("request token marked with grant %q, want the winner's %q", got.GrantID, issues[w].Grant.ID)
	}
}

// testConcurrentRememberNonce remembers one nonce from many goroutines,
// as a replayed request sent many times at once: exactly one may succeed.
func testConcurrentRememberNonce(t *testing.T, s store.Store) {
	n := store.Nonce{Hash: newHash(), ExpiresAt: now().Add(10 * time.Minute)}
	errs := make([]error, contenders)
	race(contenders, func(i int) {
		errs[i] = s.RememberNonce(t.Context(), n)
	})
	checkOneWinner(t, "concurrent RememberNonce", errs, store.ErrAlreadyExists)
}
