package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// RunCopyTests checks store.Copy from a store of newFrom into one of newTo
// (the same backend or two): every kind of record arrives as it was,
// hashes, sealed values and times unchanged; used refresh tokens keep
// what detects their replay; grants of links declared in the
// configuration (not stored) are copied, while the tokens of revoked
// grants and expired records are not; a target that is not empty is
// refused.
func RunCopyTests(t *testing.T, newFrom, newTo func(t *testing.T) store.Store) {
	t.Run("EveryRecord", func(t *testing.T) { testCopyEveryRecord(t, newFrom(t), newTo(t)) })
	t.Run("LiveRecordsOnly", func(t *testing.T) { testCopyLiveRecordsOnly(t, newFrom(t), newTo(t)) })
	t.Run("TargetNotEmpty", func(t *testing.T) {
		from, to := newFrom(t), newTo(t)
		createLink(t, from, newLink("alpha"))
		createLink(t, to, newLink("beta"))
		_, err := store.Copy(t.Context(), from, to)
		wantErr(t, "Copy into a store holding a link", err, store.ErrNotEmpty)
		if ls, _ := to.ListLinks(t.Context()); len(ls) != 1 {
			t.Errorf("the refused copy changed the target: %d links", len(ls))
		}
	})
}

func testCopyEveryRecord(t *testing.T, from, to store.Store) {
	ctx := t.Context()
	l := createLink(t, from, newLink("alpha"))
	ol := newOutgoingLink("google")
	must(t, "CreateOutgoingLink", from.CreateOutgoingLink(ctx, ol))
	u := newUser("alice")
	must(t, "PutUser", from.PutUser(ctx, u))
	sub := newSubject("alice")
	must(t, "PutSubject", from.PutSubject(ctx, sub))
	key := newSigningKey("key-1", now())
	must(t, "PutSigningKey", from.PutSigningKey(ctx, key))
	check := store.KeyCheck{Kind: store.KeyKindFile, MAC: newHash(), CreatedAt: now()}
	must(t, "CreateKeyCheck", from.CreateKeyCheck(ctx, check))
	jira := newOAuth1OutgoingLink("jira")
	must(t, "CreateOutgoingLink jira", from.CreateOutgoingLink(ctx, jira))
	consumer := newConsumerIdentity()
	must(t, "CreateConsumerIdentity", from.CreateConsumerIdentity(ctx, consumer))
	iss := grantFor(t, from, l, "alice", longLived)
	// Rotate once: the used refresh token (with its sealed child and
	// KeepUntil) must arrive too, so that a replay is still recognised.
	used := iss.Tokens[1]
	rotated, err := from.RotateRefresh(ctx, used.Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
		out := rotate(g, tok, longLived)
		used = *tok
		return out, nil
	})
	must(t, "RotateRefresh", err)
	pendingCode := newCode(l, "alice", 10*time.Minute)
	must(t, "CreateCode", from.CreateCode(ctx, pendingCode))
	sess := newSession("alice", time.Hour)
	must(t, "CreateSession", from.CreateSession(ctx, sess))
	p := newPending("google", "alice", time.Hour)
	must(t, "CreatePending", from.CreatePending(ctx, p))
	conn := putConnection(t, from, newConnection("google", "alice"))
	// An OAuth 1.0a access token (a grant of its own, with a sealed token
	// secret) goes through unchanged; its request token and nonces are
	// not copied.
	rt := newRequestToken(l, 10*time.Minute)
	authorize(&rt, "bob")
	must(t, "CreateRequestToken", from.CreateRequestToken(ctx, rt))
	oauth1, err := from.RedeemRequestToken(ctx, rt.Hash, redeemOnce(time.Hour))
	must(t, "RedeemRequestToken", err)
	must(t, "RememberNonce", from.RememberNonce(ctx, store.Nonce{Hash: newHash(), ExpiresAt: now().Add(time.Minute)}))

	counts, err := store.Copy(ctx, from, to)
	must(t, "Copy", err)
	for kind, want := range map[string]int{"link": 1, "outgoing link": 2, "user": 1, "subject": 1, "signing key": 1, "key check": 1, "consumer identity": 1, "grant": 2, "token": 4, "session": 1, "pending authorization": 1, "connection": 1} {
		if counts[kind] != want {
			t.Errorf("copied %d of kind %q, want %d (all: %v)", counts[kind], kind, want, counts)
		}
	}
	if counts["code"] < 1 {
		t.Errorf("copied no codes, want the pending one at least (all: %v)", counts)
	}

	got, err := to.GetLink(ctx, l.ID)
	must(t, "GetLink", err)
	checkEqual(t, "link", got, l)
	byClient, err := to.GetLinkByClientID(ctx, l.ClientID)
	must(t, "GetLinkByClientID", err)
	checkEqual(t, "link by client id", byClient, l)
	checkOutgoingLink(t, to, ol)
	checkOutgoingLink(t, to, jira)
	gotConsumer, err := to.GetConsumerIdentity(ctx)
	must(t, "GetConsumerIdentity", err)
	checkEqual(t, "consumer identity", gotConsumer, consumer)
	gotUser, err := to.GetUser(ctx, "alice")
	must(t, "GetUser", err)
	checkEqual(t, "user", gotUser, u)
	gotSub, err := to.GetSubject(ctx, "alice")
	must(t, "GetSubject", err)
	checkEqual(t, "subject", gotSub, sub)
	checkEqual(t, "signing keys", listSigningKeys(t, to), []store.SigningKey{key})
	gotCheck, err := to.GetKeyCheck(ctx)
	must(t, "GetKeyCheck", err)
	checkEqual(t, "key check", gotCheck, check)
	for _, tok := range rotated.Tokens {
		checkLookup(t, to, tok, rotated.Grant)
	}
	gotUsed, gotGrant, err := to.LookupToken(ctx, used.Hash)
	must(t, "LookupToken(used refresh token)", err)
	checkEqual(t, "used refresh token", gotUsed, used)
	checkEqual(t, "grant of the used token", gotGrant, rotated.Grant)
	checkGrants(t, "grants of alice", listGrants(t, to, store.GrantFilter{UserID: "alice"}), rotated.Grant)
	checkGrants(t, "grants of the link", listGrants(t, to, store.GrantFilter{LinkID: l.ID}), rotated.Grant, oauth1.Grant)
	checkLookup(t, to, oauth1.Tokens[0], oauth1.Grant)
	_, err = to.GetRequestToken(ctx, rt.Hash)
	wantErr(t, "GetRequestToken in the copy", err, store.ErrNotFound)
	gotSess, err := to.GetSession(ctx, sess.Hash)
	must(t, "GetSession", err)
	checkEqual(t, "session", gotSess, sess)
	gotPending, err := to.TakePending(ctx, p.StateHash)
	must(t, "TakePending", err)
	checkEqual(t, "pending authorization", gotPending, p)
	checkConnection(t, to, conn)
	checkConnections(t, "connections of alice", listConnections(t, to, store.ConnectionFilter{UserID: "alice"}), conn)
	_, err = to.RedeemCode(ctx, pendingCode.Hash, func(c store.Code) (store.Issue, error) {
		checkEqual(t, "code", c, pendingCode)
		return store.Issue{}, errors.New("looked only")
	})
	if err == nil || err.Error() != "looked only" {
		t.Errorf("RedeemCode of the copied code: %v", err)
	}
	// Deleting the link in the copy takes its grant and tokens, as the
	// indexes were copied too.
	must(t, "DeleteLink", to.DeleteLink(ctx, l.ID))
	checkTokenGone(t, to, "access token after DeleteLink", rotated.Tokens[0].Hash)
}

// testCopyLiveRecordsOnly copies a grant through a configured link, which
// is not stored, beside a revoked grant whose tokens a backend may still
// hold and records written already expired: only the live ones arrive.
func testCopyLiveRecordsOnly(t *testing.T, from, to store.Store) {
	ctx := t.Context()
	configured := newLink("app")
	configured.ID, configured.ClientID = "cfg-app", "app"
	live := grantFor(t, from, configured, "bob", longLived)
	revoked := grantFor(t, from, configured, "carol", longLived)
	must(t, "DeleteGrant", from.DeleteGrant(ctx, revoked.Grant.ID))
	must(t, "CreateSession(expired)", from.CreateSession(ctx, newSession("bob", -time.Minute)))
	must(t, "CreateCode(expired)", from.CreateCode(ctx, newCode(configured, "bob", -time.Minute)))
	must(t, "CreatePending(expired)", from.CreatePending(ctx, newPending("google", "bob", -time.Minute)))
	must(t, "PutSigningKey(expired)", from.PutSigningKey(ctx, store.SigningKey{
		ID: "key-old", Algorithm: "ES256", Sealed: newHash(), CreatedAt: now().Add(-time.Hour), ExpiresAt: now().Add(-time.Minute),
	}))

	counts, err := store.Copy(ctx, from, to)
	must(t, "Copy", err)
	for kind, want := range map[string]int{"grant": 1, "token": 2, "code": 2, "session": 0, "pending authorization": 0, "signing key": 0} {
		if counts[kind] != want {
			t.Errorf("copied %d of kind %q, want %d (all: %v)", counts[kind], kind, want, counts)
		}
	}
	for _, tok := range live.Tokens {
		checkLookup(t, to, tok, live.Grant)
	}
	checkGrants(t, "grants of the configured link", listGrants(t, to, store.GrantFilter{LinkID: configured.ID}), live.Grant)
	for _, tok := range revoked.Tokens {
		checkTokenGone(t, to, "a token of the revoked grant", tok.Hash)
	}
}
