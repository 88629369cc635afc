package badgerstore

import (
	"context"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// TestDeletingWhatDoesNotExistWritesNothing: a client naming records that
// do not exist, as a forged session cookie at sign-out does, cannot make
// the store commit a write (a tombstone) for each request.
func TestDeletingWhatDoesNotExistWritesNothing(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	if err := s.CreateSession(ctx, store.Session{Hash: []byte("present"), UserID: "alice", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	deletes := map[string]func() error{
		"session":     func() error { return s.DeleteSession(ctx, []byte("forged")) },
		"user":        func() error { return s.DeleteUser(ctx, "nobody") },
		"subject":     func() error { return s.DeleteSubject(ctx, "nobody") },
		"signing key": func() error { return s.DeleteSigningKey(ctx, "nokey") },
		"connection":  func() error { return s.DeleteConnection(ctx, "nolink", "nobody") },
	}
	for name, del := range deletes {
		before := s.db.MaxVersion()
		for range 10 {
			if err := del(); err != nil {
				t.Fatalf("deleting a missing %s: %v", name, err)
			}
		}
		if after := s.db.MaxVersion(); after != before {
			t.Errorf("deleting a missing %s 10 times committed %d writes", name, after-before)
		}
	}
	// A present record is still deleted.
	if err := s.DeleteSession(ctx, []byte("present")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, []byte("present")); err == nil {
		t.Error("the present session survived its delete")
	}
}
