package storetest

import (
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// gcRecords are records of every expiring kind, some expiring at one
// time and the others living on, for the tests of GarbageCollect.
type gcRecords struct {
	exp time.Time

	code    store.Code
	grant   store.Issue // expires with its tokens
	access  store.Token // expires, of a live grant
	session store.Session
	key     store.SigningKey
	pending store.Pending
	reqTok  store.RequestToken
	nonce   store.Nonce

	liveCode    store.Code
	liveGrant   store.Issue
	liveSession store.Session
	liveKey     store.SigningKey
	livePending store.Pending
	liveReqTok  store.RequestToken
	liveNonce   store.Nonce
}

// writeGCRecords stores one record of each kind that expires after ttl
// (a negative ttl writes them expired) and one of each that lives for an
// hour or more.
func writeGCRecords(t *testing.T, s store.Store, ttl time.Duration) gcRecords {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	n := now()
	r := gcRecords{exp: n.Add(ttl)}

	r.code = newCode(l, "alice", ttl)
	must(t, "CreateCode", s.CreateCode(ctx, r.code))
	r.liveCode = newCode(l, "alice", time.Hour)
	must(t, "CreateCode", s.CreateCode(ctx, r.liveCode))

	r.grant = issueFor(newCode(l, "alice", time.Hour), lifetimes{grant: ttl, access: time.Hour, refresh: time.Hour})
	r.liveGrant = issueFor(newCode(l, "bob", time.Hour), longLived)
	r.access = r.liveGrant.Tokens[0]
	r.access.Hash = newHash()
	r.access.ExpiresAt = r.exp
	r.liveGrant.Tokens = append(r.liveGrant.Tokens, r.access)
	for _, iss := range []store.Issue{r.grant, r.liveGrant} {
		c := newCode(l, iss.Grant.UserID, time.Hour)
		must(t, "CreateCode", s.CreateCode(ctx, c))
		_, err := s.RedeemCode(ctx, c.Hash, func(store.Code) (store.Issue, error) { return iss, nil })
		must(t, "RedeemCode", err)
	}

	r.session = newSession("alice", ttl)
	r.liveSession = newSession("alice", time.Hour)
	r.key = newSigningKey("expiring", n)
	r.key.RetiredAt = n.Add(-time.Hour)
	r.key.ExpiresAt = r.exp
	r.liveKey = newSigningKey("live", n.Add(-time.Minute))
	r.pending = newPending(l.ID, "alice", ttl)
	r.livePending = newPending(l.ID, "bob", time.Hour)
	for _, sess := range []store.Session{r.session, r.liveSession} {
		must(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	for _, k := range []store.SigningKey{r.key, r.liveKey} {
		must(t, "PutSigningKey", s.PutSigningKey(ctx, k))
	}
	for _, p := range []store.Pending{r.pending, r.livePending} {
		must(t, "CreatePending", s.CreatePending(ctx, p))
	}
	r.reqTok = newRequestToken(l, ttl)
	r.liveReqTok = newRequestToken(l, time.Hour)
	for _, rt := range []store.RequestToken{r.reqTok, r.liveReqTok} {
		must(t, "CreateRequestToken", s.CreateRequestToken(ctx, rt))
	}
	r.nonce = store.Nonce{Hash: newHash(), ExpiresAt: r.exp}
	r.liveNonce = store.Nonce{Hash: newHash(), ExpiresAt: n.Add(time.Hour)}
	for _, x := range []store.Nonce{r.nonce, r.liveNonce} {
		must(t, "RememberNonce", s.RememberNonce(ctx, x))
	}
	return r
}

// collect runs GarbageCollect at now; it must succeed and report no
// negative count.
func collect(t *testing.T, s store.Store, now time.Time) int {
	t.Helper()
	n, err := s.GarbageCollect(t.Context(), now)
	must(t, "GarbageCollect", err)
	if n < 0 {
		t.Errorf("GarbageCollect deleted %d records", n)
	}
	return n
}

// checkExpiredGone checks that none of the expired records is returned.
func (r gcRecords) checkExpiredGone(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := s.RedeemCode(ctx, r.code.Hash, func(store.Code) (store.Issue, error) {
		t.Error("RedeemCode called fn for an expired code")
		return store.Issue{}, errPeek
	})
	wantErr(t, "RedeemCode of an expired code", err, store.ErrNotFound)
	_, err = s.GetGrant(ctx, r.grant.Grant.ID)
	wantErr(t, "GetGrant of an expired grant", err, store.ErrNotFound)
	for _, tok := range r.grant.Tokens {
		checkTokenGone(t, s, "a token of an expired grant", tok.Hash)
	}
	checkTokenGone(t, s, "an expired token", r.access.Hash)
	_, err = s.GetSession(ctx, r.session.Hash)
	wantErr(t, "GetSession of an expired session", err, store.ErrNotFound)
	_, err = s.TakePending(ctx, r.pending.StateHash)
	wantErr(t, "TakePending of an expired pending authorization", err, store.ErrNotFound)
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), r.liveGrant.Grant)
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}))
	checkEqual(t, "ListSigningKeys", listSigningKeys(t, s), []store.SigningKey{r.liveKey})
	_, err = s.GetRequestToken(ctx, r.reqTok.Hash)
	wantErr(t, "GetRequestToken of an expired request token", err, store.ErrNotFound)
}

// checkLive checks that the live records are all returned. It takes the
// live pending authorization, so it is the last check of a test.
func (r gcRecords) checkLive(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := s.RedeemCode(ctx, r.liveCode.Hash, func(store.Code) (store.Issue, error) {
		return store.Issue{}, errPeek
	})
	wantErr(t, "RedeemCode of a live code", err, errPeek)
	for _, tok := range r.liveGrant.Tokens[:2] {
		checkLookup(t, s, tok, r.liveGrant.Grant)
	}
	got, err := s.GetSession(ctx, r.liveSession.Hash)
	must(t, "GetSession of a live session", err)
	checkEqual(t, "live session", got, r.liveSession)
	rt, err := s.GetRequestToken(ctx, r.liveReqTok.Hash)
	must(t, "GetRequestToken of a live request token", err)
	checkEqual(t, "live request token", rt, r.liveReqTok)
	wantErr(t, "RememberNonce of a live nonce", s.RememberNonce(ctx, r.liveNonce), store.ErrAlreadyExists)
	p, err := s.TakePending(ctx, r.livePending.StateHash)
	must(t, "TakePending of a live pending authorization", err)
	checkEqual(t, "live pending authorization", p, r.livePending)
}

// testGarbageCollectWrittenExpired: GarbageCollect succeeds on records
// written expired, which stay unreturned, and keeps the live ones.
func testGarbageCollectWrittenExpired(t *testing.T, s store.Store) {
	r := writeGCRecords(t, s, -time.Minute)
	collect(t, s, time.Now())
	r.checkExpiredGone(t, s)
	r.checkLive(t, s)
}

// testGarbageCollectEmpty: GarbageCollect of an empty store deletes
// nothing.
func testGarbageCollectEmpty(t *testing.T, s store.Store) {
	if n := collect(t, s, time.Now()); n != 0 {
		t.Errorf("GarbageCollect of an empty store deleted %d records", n)
	}
}

// expiryGarbageCollect: GarbageCollect before the records expire deletes
// none of them; after, it succeeds, the expired records are not returned
// and the live ones are.
func expiryGarbageCollect(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	r := writeGCRecords(t, s, shortTTL)
	if n := collect(t, s, time.Now()); n != 0 {
		t.Errorf("GarbageCollect before anything expired deleted %d records", n)
	}
	for _, tok := range r.liveGrant.Tokens {
		checkLookup(t, s, tok, r.liveGrant.Grant)
	}
	for _, tok := range r.grant.Tokens {
		checkLookup(t, s, tok, r.grant.Grant)
	}
	checkEqual(t, "ListSigningKeys", listSigningKeys(t, s), []store.SigningKey{r.key, r.liveKey})

	return r.exp, func(t *testing.T) {
		collect(t, s, time.Now())
		r.checkExpiredGone(t, s)
		r.checkLive(t, s)
	}
}
