package badgerstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// TestReadsFollowTheClock: once the store's clock passes a record's
// expiry, reads do not return it, though its TTL (run by the system
// clock) keeps it for another hour.
func TestReadsFollowTheClock(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Millisecond)
	var offset atomic.Int64
	s, err := Open(t.TempDir(), Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	exp := start.Add(time.Hour)
	forever := start.Add(24 * time.Hour)

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	code := store.Code{Hash: []byte("code"), LinkID: "link-1", UserID: "alice", CreatedAt: start, ExpiresAt: exp}
	must("CreateCode", s.CreateCode(ctx, code))
	// A grant that outlives the clock's jump, with an access token that
	// does not, and one that expires with its tokens.
	long := store.Grant{ID: "long", LinkID: "link-1", UserID: "alice", ExpiresAt: forever}
	short := store.Grant{ID: "short", LinkID: "link-1", UserID: "bob", ExpiresAt: exp}
	access := store.Token{Hash: []byte("access"), Kind: store.AccessToken, GrantID: long.ID, ExpiresAt: exp}
	refresh := store.Token{Hash: []byte("refresh"), Kind: store.RefreshToken, GrantID: short.ID, ExpiresAt: forever}
	kept := store.Token{Hash: []byte("kept"), Kind: store.AccessToken, GrantID: long.ID, ExpiresAt: exp, KeepUntil: forever}
	for _, iss := range []store.Issue{
		{Grant: long, Tokens: []store.Token{access, kept}},
		{Grant: short, Tokens: []store.Token{refresh}},
	} {
		c := store.Code{Hash: []byte("code-" + iss.Grant.ID), ExpiresAt: forever}
		must("CreateCode", s.CreateCode(ctx, c))
		_, err := s.RedeemCode(ctx, c.Hash, func(store.Code) (store.Issue, error) { return iss, nil })
		must("RedeemCode", err)
	}
	sess := store.Session{Hash: []byte("session"), UserID: "alice", ExpiresAt: exp}
	must("CreateSession", s.CreateSession(ctx, sess))
	must("CreateSession", s.CreateSession(ctx, store.Session{Hash: []byte("session-2"), UserID: "alice", ExpiresAt: forever}))
	must("PutSigningKey", s.PutSigningKey(ctx, store.SigningKey{ID: "retired", ExpiresAt: exp}))
	must("PutSigningKey", s.PutSigningKey(ctx, store.SigningKey{ID: "current"}))
	pending := store.Pending{StateHash: []byte("state"), LinkID: "link-1", ExpiresAt: exp}
	must("CreatePending", s.CreatePending(ctx, pending))

	offset.Store(int64(time.Until(exp) + time.Second))

	gone := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after its expiry by the store's clock: got error %v, want %v", what, err, store.ErrNotFound)
		}
	}
	_, err = s.RedeemCode(ctx, code.Hash, func(store.Code) (store.Issue, error) {
		t.Error("RedeemCode called fn for an expired code")
		return store.Issue{}, errors.New("expired")
	})
	gone("RedeemCode", err)
	_, _, err = s.LookupToken(ctx, access.Hash)
	gone("LookupToken of an access token", err)
	_, _, err = s.LookupToken(ctx, refresh.Hash)
	gone("LookupToken of a token of an expired grant", err)
	_, err = s.RotateRefresh(ctx, refresh.Hash, func(*store.Grant, *store.Token) (store.Issue, error) {
		t.Error("RotateRefresh called fn for a token of an expired grant")
		return store.Issue{}, errors.New("expired")
	})
	gone("RotateRefresh", err)
	_, err = s.GetGrant(ctx, short.ID)
	gone("GetGrant", err)
	_, err = s.GetSession(ctx, sess.Hash)
	gone("GetSession", err)
	_, err = s.TakePending(ctx, pending.StateHash)
	gone("TakePending", err)

	if _, _, err := s.LookupToken(ctx, kept.Hash); err != nil {
		t.Errorf("LookupToken of a token kept until later: %v", err)
	}
	if _, err := s.GetGrant(ctx, long.ID); err != nil {
		t.Errorf("GetGrant of a live grant: %v", err)
	}
	for _, f := range []store.GrantFilter{{}, {UserID: "bob"}, {LinkID: "link-1"}, {UserID: "bob", LinkID: "link-1"}} {
		gs, err := s.ListGrants(ctx, f)
		must("ListGrants", err)
		for _, g := range gs {
			if g.ID == short.ID {
				t.Errorf("ListGrants(%+v) returned the expired grant", f)
			}
		}
	}
	keys, err := s.ListSigningKeys(ctx)
	must("ListSigningKeys", err)
	if len(keys) != 1 || keys[0].ID != "current" {
		t.Errorf("ListSigningKeys: got %v, want only the current key", keys)
	}
	n, err := s.DeleteUserSessions(ctx, "alice")
	must("DeleteUserSessions", err)
	if n != 1 {
		t.Errorf("DeleteUserSessions counted %d sessions, want the 1 live one", n)
	}
}
