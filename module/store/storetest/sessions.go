package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// newSession returns a session of user that expires after ttl.
func newSession(user string, ttl time.Duration) store.Session {
	n := now()
	return store.Session{Hash: newHash(), UserID: user, CreatedAt: n, ExpiresAt: n.Add(ttl)}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSession(ctx, newHash())
	wantErr(t, "GetSession of a missing session", err, store.ErrNotFound)

	sess := newSession("alice", time.Hour)
	other := newSession("alice", time.Hour)
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	must(t, "CreateSession", s.CreateSession(ctx, other))
	for _, want := range []store.Session{sess, other} {
		got, err := s.GetSession(ctx, want.Hash)
		must(t, "GetSession", err)
		checkEqual(t, "session", got, want)
	}

	must(t, "DeleteSession", s.DeleteSession(ctx, sess.Hash))
	_, err = s.GetSession(ctx, sess.Hash)
	wantErr(t, "GetSession of a deleted session", err, store.ErrNotFound)
	got, err := s.GetSession(ctx, other.Hash)
	must(t, "GetSession of the other session", err)
	checkEqual(t, "other session", got, other)

	must(t, "DeleteSession of a deleted session", s.DeleteSession(ctx, sess.Hash))
	must(t, "DeleteSession of a missing session", s.DeleteSession(ctx, newHash()))
}

func testDeleteUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	n, err := s.DeleteUserSessions(ctx, "alice")
	must(t, "DeleteUserSessions of a user without sessions", err)
	if n != 0 {
		t.Fatalf("DeleteUserSessions of a user without sessions = %d, want 0", n)
	}
	alice := []store.Session{newSession("alice", time.Hour), newSession("alice", time.Hour), newSession("alice", time.Hour)}
	// Names that share a prefix with alice's, and the empty name, keep
	// their sessions.
	others := []store.Session{newSession("alicia", time.Hour), newSession("alice2", time.Hour), newSession("bob", time.Hour), newSession("", time.Hour)}
	for _, sess := range append(slices.Clone(alice), others...) {
		must(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	n, err = s.DeleteUserSessions(ctx, "alice")
	must(t, "DeleteUserSessions", err)
	if n != len(alice) {
		t.Fatalf("DeleteUserSessions = %d, want %d", n, len(alice))
	}
	for _, sess := range alice {
		_, err := s.GetSession(ctx, sess.Hash)
		wantErr(t, "GetSession of a session ended by DeleteUserSessions", err, store.ErrNotFound)
	}
	for _, want := range others {
		got, err := s.GetSession(ctx, want.Hash)
		must(t, "GetSession of another user's session", err)
		checkEqual(t, "other user's session", got, want)
	}
	n, err = s.DeleteUserSessions(ctx, "alice")
	must(t, "DeleteUserSessions again", err)
	if n != 0 {
		t.Fatalf("second DeleteUserSessions = %d, want 0", n)
	}
	// A session started afterwards lives.
	later := newSession("alice", time.Hour)
	must(t, "CreateSession after DeleteUserSessions", s.CreateSession(ctx, later))
	got, err := s.GetSession(ctx, later.Hash)
	must(t, "GetSession of a later session", err)
	checkEqual(t, "later session", got, later)
}
