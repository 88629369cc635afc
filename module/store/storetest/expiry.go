package storetest

import (
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

const (
	// shortTTL is the lifetime of the records the expiry tests wait for.
	shortTTL = 1500 * time.Millisecond
	// granularity is how long a backend may keep a record past its expiry.
	granularity = time.Second
)

// expiryTest writes records that expire soon, checks them and returns
// when the last of them expires and the checks to run once it has.
type expiryTest struct {
	name string
	run  func(t *testing.T, s store.Store) (time.Time, func(t *testing.T))
}

// runExpiryTests runs the expiry tests, each on a fresh store, with a
// single wait: subtests Before/<name> write and check the records,
// subtests After/<name> check them after they expired.
func runExpiryTests(t *testing.T, newStore func(t *testing.T) store.Store, tests []expiryTest) {
	var (
		latest time.Time
		afters = make([]func(*testing.T), len(tests))
	)
	t.Run("Before", func(bt *testing.T) {
		for i, test := range tests {
			s := newStore(t) // open until the After checks are done
			bt.Run(test.name, func(t *testing.T) {
				exp, after := test.run(t, s)
				if exp.After(latest) {
					latest = exp
				}
				afters[i] = after
			})
		}
	})
	time.Sleep(time.Until(latest.Add(granularity + 100*time.Millisecond)))
	t.Run("After", func(t *testing.T) {
		for i, test := range tests {
			if afters[i] != nil {
				t.Run(test.name, afters[i])
			}
		}
	})
}

// testWrittenExpired checks that records written with an expiry in the
// past are not returned, and that KeepUntil keeps a token.
func testWrittenExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	past := now().Add(-time.Minute)

	c := newCode(l, "alice", -time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, c))
	_, err := s.RedeemCode(ctx, c.Hash, func(store.Code) (store.Issue, error) {
		t.Error("RedeemCode called fn for an expired code")
		return issueFor(c, longLived), nil
	})
	wantErr(t, "RedeemCode of an expired code", err, store.ErrNotFound)

	sess := newSession("alice", -time.Minute)
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	_, err = s.GetSession(ctx, sess.Hash)
	wantErr(t, "GetSession of an expired session", err, store.ErrNotFound)

	// An expired token is gone unless KeepUntil keeps it.
	live := newCode(l, "alice", 10*time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, live))
	iss := issueFor(live, longLived)
	iss.Tokens[0].ExpiresAt = past
	iss.Tokens[1].ExpiresAt = past
	iss.Tokens[1].KeepUntil = now().Add(time.Hour)
	_, err = s.RedeemCode(ctx, live.Hash, func(store.Code) (store.Issue, error) { return iss, nil })
	must(t, "RedeemCode", err)
	checkTokenGone(t, s, "an expired token", iss.Tokens[0].Hash)
	checkLookup(t, s, iss.Tokens[1], iss.Grant)

	// An expired grant is gone, and so are its tokens and index entries.
	live = newCode(l, "alice", 10*time.Minute)
	must(t, "CreateCode", s.CreateCode(ctx, live))
	expired := issueFor(live, longLived)
	expired.Grant.ExpiresAt = past
	_, err = s.RedeemCode(ctx, live.Hash, func(store.Code) (store.Issue, error) { return expired, nil })
	must(t, "RedeemCode", err)
	_, err = s.GetGrant(ctx, expired.Grant.ID)
	wantErr(t, "GetGrant of an expired grant", err, store.ErrNotFound)
	for _, tok := range expired.Tokens {
		checkTokenGone(t, s, "a token of an expired grant", tok.Hash)
	}
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), iss.Grant)
	checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), iss.Grant)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), iss.Grant)

	// An expired signing key is not listed, and replacing a live key with
	// an expired version removes it.
	old := newSigningKey("expired", now().Add(-time.Hour))
	old.RetiredAt = past.Add(-time.Minute)
	old.ExpiresAt = past
	must(t, "PutSigningKey", s.PutSigningKey(ctx, old))
	liveKey := newSigningKey("live", now())
	must(t, "PutSigningKey", s.PutSigningKey(ctx, liveKey))
	replaced := newSigningKey("replaced", now().Add(-time.Minute))
	must(t, "PutSigningKey", s.PutSigningKey(ctx, replaced))
	checkEqual(t, "ListSigningKeys", listSigningKeys(t, s), []store.SigningKey{liveKey, replaced})
	replaced.RetiredAt = past.Add(-time.Minute)
	replaced.ExpiresAt = past
	must(t, "PutSigningKey replacing with an expired key", s.PutSigningKey(ctx, replaced))
	checkEqual(t, "ListSigningKeys", listSigningKeys(t, s), []store.SigningKey{liveKey})

	// A pending authorization written expired is not returned, also when
	// it expired a moment ago (within the second a TTL rounds up to).
	for _, ttl := range []time.Duration{-time.Minute, -time.Millisecond} {
		p := newPending(l.ID, "alice", ttl)
		must(t, "CreatePending", s.CreatePending(ctx, p))
		_, err = s.TakePending(ctx, p.StateHash)
		wantErr(t, "TakePending of an expired pending authorization", err, store.ErrNotFound)
	}
}

func expiryCode(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	c := newCode(l, "alice", shortTTL)
	must(t, "CreateCode", s.CreateCode(ctx, c))
	redeemed := newCode(l, "bob", shortTTL)
	must(t, "CreateCode", s.CreateCode(ctx, redeemed))
	iss, err := s.RedeemCode(ctx, redeemed.Hash, func(store.Code) (store.Issue, error) {
		return issueFor(redeemed, longLived), nil
	})
	must(t, "RedeemCode", err)

	for _, code := range []store.Code{c, redeemed} {
		_, err := s.RedeemCode(ctx, code.Hash, func(store.Code) (store.Issue, error) {
			return store.Issue{}, errPeek
		})
		wantErr(t, "RedeemCode before expiry", err, errPeek)
	}

	return redeemed.ExpiresAt, func(t *testing.T) {
		ctx := t.Context()
		for _, code := range []store.Code{c, redeemed} {
			_, err := s.RedeemCode(ctx, code.Hash, func(store.Code) (store.Issue, error) {
				t.Error("RedeemCode called fn for an expired code")
				return store.Issue{}, errPeek
			})
			wantErr(t, "RedeemCode after expiry", err, store.ErrNotFound)
		}
		// The grant outlives its code.
		g, err := s.GetGrant(ctx, iss.Grant.ID)
		must(t, "GetGrant", err)
		checkEqual(t, "grant", g, iss.Grant)
	}
}

func expiryToken(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	c := newCode(l, "alice", time.Hour)
	must(t, "CreateCode", s.CreateCode(ctx, c))
	iss := issueFor(c, lifetimes{grant: time.Hour, access: shortTTL, refresh: time.Hour})
	kept := iss.Tokens[0]
	kept.Hash = newHash()
	kept.KeepUntil = kept.ExpiresAt.Add(time.Hour)
	iss.Tokens = append(iss.Tokens, kept)
	_, err := s.RedeemCode(ctx, c.Hash, func(store.Code) (store.Issue, error) { return iss, nil })
	must(t, "RedeemCode", err)
	for _, tok := range iss.Tokens {
		checkLookup(t, s, tok, iss.Grant)
	}

	return iss.Tokens[0].ExpiresAt, func(t *testing.T) {
		checkTokenGone(t, s, "an expired access token", iss.Tokens[0].Hash)
		checkLookup(t, s, iss.Tokens[1], iss.Grant)
		// Expired but kept until KeepUntil.
		checkLookup(t, s, kept, iss.Grant)
	}
}

func expiryGrant(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	l := createLink(t, s, newLink("alpha"))
	iss := grantFor(t, s, l, "alice", lifetimes{grant: shortTTL, access: time.Hour, refresh: time.Hour})
	other := grantFor(t, s, l, "alice", longLived)
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), iss.Grant, other.Grant)
	checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), iss.Grant, other.Grant)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), iss.Grant, other.Grant)

	return iss.Grant.ExpiresAt, func(t *testing.T) {
		ctx := t.Context()
		_, err := s.GetGrant(ctx, iss.Grant.ID)
		wantErr(t, "GetGrant of an expired grant", err, store.ErrNotFound)
		for _, tok := range iss.Tokens {
			checkTokenGone(t, s, "a token of an expired grant", tok.Hash)
		}
		_, err = s.RotateRefresh(ctx, iss.Tokens[1].Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
			t.Error("RotateRefresh called fn for an expired grant")
			return rotate(g, tok, longLived), nil
		})
		wantErr(t, "RotateRefresh of an expired grant's token", err, store.ErrNotFound)
		checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), other.Grant)
		checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), other.Grant)
		checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), other.Grant)
	}
}

// expiryGrantExtended checks that a rotation that moves the grant's
// expiry keeps the grant (and its index entries) alive past the old one.
func expiryGrantExtended(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	iss := grantFor(t, s, l, "alice", lifetimes{grant: shortTTL, access: time.Hour, refresh: time.Hour})
	want, err := s.RotateRefresh(ctx, iss.Tokens[1].Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		return rotate(g, tok, longLived), nil
	})
	must(t, "RotateRefresh", err)

	return iss.Grant.ExpiresAt, func(t *testing.T) {
		ctx := t.Context()
		g, err := s.GetGrant(ctx, iss.Grant.ID)
		must(t, "GetGrant of the extended grant", err)
		checkEqual(t, "extended grant", g, want.Grant)
		for _, tok := range want.Tokens {
			checkLookup(t, s, tok, want.Grant)
		}
		checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), want.Grant)
		checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), want.Grant)
		checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), want.Grant)
	}
}

func expirySession(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	ctx := t.Context()
	sess := newSession("alice", shortTTL)
	long := newSession("alice", time.Hour)
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	must(t, "CreateSession", s.CreateSession(ctx, long))
	got, err := s.GetSession(ctx, sess.Hash)
	must(t, "GetSession before expiry", err)
	checkEqual(t, "session", got, sess)

	return sess.ExpiresAt, func(t *testing.T) {
		ctx := t.Context()
		_, err = s.GetSession(ctx, sess.Hash)
		wantErr(t, "GetSession after expiry", err, store.ErrNotFound)
		got, err = s.GetSession(ctx, long.Hash)
		must(t, "GetSession of a live session", err)
		checkEqual(t, "live session", got, long)
	}
}
