package pgstore

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestClockAndGarbageCollect: reads judge expiry by the store's clock,
// not the database's, and GarbageCollect deletes what expired before the
// time it is given, counting every record.
func TestClockAndGarbageCollect(t *testing.T) {
	dsn := pgtest.DSN(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := open(t, dsn, Options{})
	later := open(t, dsn, Options{Now: func() time.Time { return now.Add(2 * time.Hour) }})
	ctx := t.Context()
	hour := now.Add(time.Hour)

	code := store.Code{Hash: hash(), LinkID: "link-1", ClientID: "c", UserID: "alice", CreatedAt: now, ExpiresAt: hour}
	must(t, s.CreateCode(ctx, code))
	// A grant that expires in an hour with two tokens, and one that never
	// expires with a token that expires in an hour and one kept for a day.
	expiring := store.Grant{ID: "g-expiring", LinkID: "link-1", UserID: "alice", Generation: 1, CreatedAt: now, UpdatedAt: now, ExpiresAt: hour}
	forever := store.Grant{ID: "g-forever", LinkID: "link-1", UserID: "alice", Generation: 1, CreatedAt: now, UpdatedAt: now}
	tok := func(g store.Grant, keep time.Time) store.Token {
		return store.Token{Hash: hash(), Kind: store.AccessToken, GrantID: g.ID, IssuedAt: now, ExpiresAt: hour, KeepUntil: keep}
	}
	kept := tok(forever, now.Add(24*time.Hour))
	for _, iss := range []store.Issue{
		{Grant: expiring, Tokens: []store.Token{tok(expiring, time.Time{}), tok(expiring, time.Time{})}},
		{Grant: forever, Tokens: []store.Token{tok(forever, time.Time{}), kept}},
	} {
		c := store.Code{Hash: hash(), LinkID: "link-1", CreatedAt: now, ExpiresAt: hour}
		must(t, s.CreateCode(ctx, c))
		_, err := s.RedeemCode(ctx, c.Hash, func(store.Code) (store.Issue, error) { return iss, nil })
		must(t, err)
	}
	sess := store.Session{Hash: hash(), UserID: "alice", CreatedAt: now, ExpiresAt: hour}
	must(t, s.CreateSession(ctx, sess))
	p := store.Pending{StateHash: hash(), LinkID: "out", CreatedAt: now, ExpiresAt: hour}
	must(t, s.CreatePending(ctx, p))
	must(t, s.PutSigningKey(ctx, store.SigningKey{ID: "old", CreatedAt: now, ExpiresAt: hour}))
	must(t, s.PutSigningKey(ctx, store.SigningKey{ID: "kept", CreatedAt: now}))
	rt := store.RequestToken{Hash: hash(), LinkID: "link-1", ConsumerKey: "jira", Callback: "oob", CreatedAt: now, ExpiresAt: hour}
	must(t, s.CreateRequestToken(ctx, rt))
	must(t, s.RememberNonce(ctx, store.Nonce{Hash: hash(), ExpiresAt: hour}))

	// The store whose clock is two hours ahead finds them expired.
	if _, err := later.GetSession(ctx, sess.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession two hours later: got %v, want ErrNotFound", err)
	}
	if _, err := later.GetGrant(ctx, expiring.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetGrant two hours later: got %v, want ErrNotFound", err)
	}
	if _, _, err := later.LookupToken(ctx, kept.Hash); err != nil {
		t.Errorf("LookupToken of a kept token two hours later: %v", err)
	}
	if _, err := s.GetSession(ctx, sess.Hash); err != nil {
		t.Errorf("GetSession now: %v", err)
	}

	n, err := s.GarbageCollect(ctx, now)
	must(t, err)
	if n != 0 {
		t.Errorf("GarbageCollect before anything expired deleted %d records", n)
	}
	n, err = s.GarbageCollect(ctx, now.Add(2*time.Hour))
	must(t, err)
	// 3 codes, 3 tokens (two of the expiring grant, one of the other),
	// the expiring grant, the session, the pending authorization, the
	// old signing key, the request token and the nonce.
	if want := 3 + 3 + 1 + 1 + 1 + 1 + 1 + 1; n != want {
		t.Errorf("GarbageCollect deleted %d records, want %d", n, want)
	}
	if _, _, err := s.LookupToken(ctx, kept.Hash); err != nil {
		t.Errorf("LookupToken of the kept token after GC: %v", err)
	}
	if _, err := s.GetGrant(ctx, forever.ID); err != nil {
		t.Errorf("GetGrant of a grant without expiry after GC: %v", err)
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 1 || keys[0].ID != "kept" {
		t.Errorf("signing keys after GC: %+v, want only kept", keys)
	}
	var rows int
	query(t, dsn, "SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM grants) + (SELECT count(*) FROM tokens) + (SELECT count(*) FROM sessions) + (SELECT count(*) FROM pending)", &rows)
	if rows != 2 {
		t.Errorf("%d rows of codes, grants, tokens, sessions and pending left after GC, want 2 (a grant and its kept token)", rows)
	}
}

// hash returns a random 32-byte hash.
func hash() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// must fails the test when err is set.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNonceReplayedToAnotherGateway: gateways sharing the database share
// their nonces, so a signed request replayed to another gateway of the
// cluster within its timestamp window is refused there too, also when the
// two arrive at once.
func TestNonceReplayedToAnotherGateway(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn, Options{}), open(t, dsn, Options{})
	n := store.Nonce{Hash: hash(), ExpiresAt: time.Now().Add(5 * time.Minute)}
	must(t, a.RememberNonce(t.Context(), n))
	if err := b.RememberNonce(t.Context(), n); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("the nonce at the other gateway: %v, want ErrAlreadyExists", err)
	}
	for range 20 {
		n := store.Nonce{Hash: hash(), ExpiresAt: time.Now().Add(5 * time.Minute)}
		errs := make(chan error, 2)
		for _, s := range []*Store{a, b} {
			go func() { errs <- s.RememberNonce(t.Context(), n) }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, store.ErrAlreadyExists) || errors.Is(e2, store.ErrAlreadyExists)) {
			t.Fatalf("one nonce at two gateways at once: %v and %v, want one success and ErrAlreadyExists", e1, e2)
		}
	}
}
