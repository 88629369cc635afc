package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/storetest"
)

func newStore(t *testing.T) store.Store {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.RunTests(t, newStore)
}

func TestConcurrency(t *testing.T) {
	storetest.RunConcurrencyTests(t, newStore)
}

func TestCloseTwice(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GarbageCollect(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.GetUser(context.Background(), "alice"); !errors.Is(err, badger.ErrDBClosed) {
		t.Fatalf("GetUser after Close: got error %v, want %v", err, badger.ErrDBClosed)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(dir, Options{}); err == nil {
		s2.Close()
		t.Fatal("a second Open of an open directory succeeded")
	}
}

// TestDeleteLinkBatches deletes a link with more grants than fit in one
// transaction.
func TestDeleteLinkBatches(t *testing.T) {
	s := newStore(t).(*Store)
	ctx := context.Background()
	l := store.Link{ID: "link-1", Name: "alpha", ClientID: "client-1"}
	if err := s.CreateLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	const n = 2*maxGrantsPerTxn + 1
	exp := time.Now().Add(time.Hour)
	err := s.db.Update(func(txn *badger.Txn) error {
		for i := range n {
			g := store.Grant{ID: fmt.Sprintf("grant-%d", i), LinkID: l.ID, UserID: "alice", ExpiresAt: exp}
			if err := putGrant(txn, nil, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	other := store.Grant{ID: "other", LinkID: "link-2", UserID: "alice", ExpiresAt: exp}
	if err := s.db.Update(func(txn *badger.Txn) error { return putGrant(txn, nil, other) }); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteLink(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLink(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLink of the deleted link: %v", err)
	}
	grants, err := s.ListGrants(ctx, store.GrantFilter{LinkID: l.ID})
	if err != nil || len(grants) != 0 {
		t.Errorf("ListGrants of the deleted link: %d grants, %v", len(grants), err)
	}
	for _, f := range []store.GrantFilter{{UserID: "alice"}, {}} {
		grants, err := s.ListGrants(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(grants) != 1 || grants[0].ID != other.ID {
			t.Errorf("ListGrants(%+v) after DeleteLink: %d grants, want only %q", f, len(grants), other.ID)
		}
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, Options{SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{Name: "alice", Role: "admin"}
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatalf("GetUser after reopening: %v", err)
	}
	if got.Role != u.Role {
		t.Fatalf("GetUser after reopening: role %q, want %q", got.Role, u.Role)
	}
}

// TestPoolSharing checks that two config generations on one directory
// share one database, which is closed once both are cleaned up.
func TestPoolSharing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()

	provision := func(dir string) *Storage {
		t.Helper()
		s := &Storage{Dir: dir}
		if err := s.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	oldGen := provision(dir)
	newGen := provision(dir + string(filepath.Separator)) // same directory, spelled differently
	if oldGen.KeyFile() != dir+".key" || newGen.KeyFile() != dir+".key" {
		t.Fatalf("KeyFile: got %q and %q, want %q", oldGen.KeyFile(), newGen.KeyFile(), dir+".key")
	}

	st1, err := oldGen.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := newGen.OpenStore(ctx)
	if err != nil {
		t.Fatalf("OpenStore of the second generation: %v", err)
	}
	if st1 != st2 {
		t.Fatal("the two generations got different stores")
	}
	if again, err := newGen.OpenStore(ctx); err != nil || again != st2 {
		t.Fatalf("second OpenStore of one module: %v, %v", again, err)
	}
	if n, ok := pool.References(oldGen.dir); !ok || n != 2 {
		t.Fatalf("pool references: got %d, %v; want 2", n, ok)
	}

	// The old generation is cleaned up after the new one is provisioned;
	// the new one keeps working.
	if err := st1.PutUser(ctx, store.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := oldGen.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.GetUser(ctx, "alice"); err != nil {
		t.Fatalf("GetUser after the old generation's Cleanup: %v", err)
	}

	// Once the last user is cleaned up, the database is closed and can be
	// opened again.
	if err := newGen.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := pool.References(newGen.dir); ok {
		t.Fatal("database still in the pool after both Cleanups")
	}
	if err := newGen.Cleanup(); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopening after both Cleanups: %v", err)
	}
	defer s.Close()
	if _, err := s.GetUser(ctx, "alice"); err != nil {
		t.Fatalf("GetUser after reopening: %v", err)
	}
}

func TestProvisionDefaults(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	s := new(Storage)
	if err := s.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(caddy.AppDataDir(), "applinks")
	if s.Dir != want {
		t.Errorf("default Dir: got %q, want %q", s.Dir, want)
	}
	if s.KeyFile() != want+".key" {
		t.Errorf("KeyFile: got %q, want %q", s.KeyFile(), want+".key")
	}
	if id := s.CaddyModule().ID; id != "applinks.storage.badger" {
		t.Errorf("module id %q", id)
	}
}

// TestSigningKeyJustExpired writes keys whose ExpiresAt passed a moment
// ago: their Badger TTL, rounded up to the next second, has not run out,
// but ListSigningKeys must leave them out. An empty id is refused.
func TestSigningKeyJustExpired(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	n := time.Now()
	live := store.SigningKey{ID: "live", Algorithm: "ES256", CreatedAt: n, ExpiresAt: n.Add(time.Hour)}
	if err := s.PutSigningKey(ctx, live); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		k := store.SigningKey{
			ID:        fmt.Sprintf("just-expired-%d", i),
			Algorithm: "ES256",
			CreatedAt: n.Add(time.Minute), // newer than live
			ExpiresAt: time.Now().Add(-time.Duration(i+1) * time.Millisecond),
		}
		if err := s.PutSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != live.ID {
		t.Errorf("ListSigningKeys: got %+v, want only %q", keys, live.ID)
	}
	if err := s.PutSigningKey(ctx, store.SigningKey{Algorithm: "ES256"}); err == nil {
		t.Error("PutSigningKey with an empty id succeeded")
	}

	// The entry carries a TTL, so that an expired key's space is reclaimed;
	// a key without ExpiresAt has none.
	forever := store.SigningKey{ID: "forever", Algorithm: "ES256", CreatedAt: n}
	if err := s.PutSigningKey(ctx, forever); err != nil {
		t.Fatal(err)
	}
	for _, k := range []store.SigningKey{live, forever} {
		err := s.(*Store).db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(skey(prefixSigningKey, k.ID))
			if err != nil {
				return err
			}
			if got, want := item.ExpiresAt(), expiresAt(k.ExpiresAt); got != want {
				t.Errorf("Badger expiry of key %q: got %d, want %d", k.ID, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestOutgoingIDs checks that link and user ids made of any bytes but NUL,
// not UTF-8 either, round-trip exactly, and that empty link ids and ids
// with NUL are refused.
func TestOutgoingIDs(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	n := time.Now()
	link, user := "a\xff/\x01", "b\xfe\x80"
	c := store.Connection{LinkID: link, UserID: user, Status: "VALID", Generation: 1}
	if err := s.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	prefixLink := store.Connection{LinkID: "a", UserID: user, Status: "VALID"}
	if err := s.PutConnection(ctx, prefixLink); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, link, user)
	if err != nil {
		t.Fatal(err)
	}
	if got.LinkID != link || got.UserID != user {
		t.Errorf("GetConnection: ids %q, %q; want %q, %q", got.LinkID, got.UserID, link, user)
	}
	for _, f := range []store.ConnectionFilter{{LinkID: link}, {UserID: user}, {LinkID: link, UserID: user}, {}} {
		conns, err := s.ListConnections(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, x := range conns {
			if x.LinkID == link && x.UserID == user {
				found++
			}
		}
		if found != 1 {
			t.Errorf("ListConnections(%+v): %d of %d connections have the ids %q, %q; want one", f, found, len(conns), link, user)
		}
	}
	updated, err := s.UpdateConnection(ctx, link, user, func(x *store.Connection) error {
		x.Generation++
		return nil
	})
	if err != nil || updated.LinkID != link || updated.UserID != user || updated.Generation != 2 {
		t.Errorf("UpdateConnection: %+v, %v", updated, err)
	}
	if _, err := s.UpdateConnection(ctx, link, user, func(x *store.Connection) error {
		x.UserID = "other"
		return nil
	}); err == nil {
		t.Error("UpdateConnection changing the user id succeeded")
	}

	p := store.Pending{StateHash: []byte("state"), LinkID: link, UserID: user, ExpiresAt: n.Add(time.Hour)}
	if err := s.CreatePending(ctx, p); err != nil {
		t.Fatal(err)
	}
	gotP, err := s.TakePending(ctx, p.StateHash)
	if err != nil {
		t.Fatal(err)
	}
	if gotP.LinkID != link || gotP.UserID != user {
		t.Errorf("TakePending: ids %q, %q; want %q, %q", gotP.LinkID, gotP.UserID, link, user)
	}

	for _, ids := range [][2]string{{"", "alice"}, {"", ""}, {"a\x00b", "alice"}, {"a", "al\x00ice"}} {
		if err := s.PutConnection(ctx, store.Connection{LinkID: ids[0], UserID: ids[1]}); err == nil {
			t.Errorf("PutConnection(%q, %q) succeeded", ids[0], ids[1])
		}
		if _, err := s.GetConnection(ctx, ids[0], ids[1]); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConnection(%q, %q): got error %v, want a validation error", ids[0], ids[1], err)
		}
		if _, err := s.UpdateConnection(ctx, ids[0], ids[1], func(*store.Connection) error { return nil }); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateConnection(%q, %q): got error %v, want a validation error", ids[0], ids[1], err)
		}
		if err := s.DeleteConnection(ctx, ids[0], ids[1]); err == nil {
			t.Errorf("DeleteConnection(%q, %q) succeeded", ids[0], ids[1])
		}
		if err := s.CreatePending(ctx, store.Pending{StateHash: []byte("s"), LinkID: ids[0], UserID: ids[1], ExpiresAt: n.Add(time.Hour)}); err == nil {
			t.Errorf("CreatePending(%q, %q) succeeded", ids[0], ids[1])
		}
	}
	if _, err := s.ListConnections(ctx, store.ConnectionFilter{UserID: "a\x00"}); err == nil {
		t.Error("ListConnections of a user id with NUL succeeded")
	}
	if err := s.CreatePending(ctx, store.Pending{LinkID: "a", ExpiresAt: n.Add(time.Hour)}); err == nil {
		t.Error("CreatePending with an empty state hash succeeded")
	}

	// A pending authorization carries a TTL; a connection has none.
	err = s.(*Store).db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(connKey(link, user))
		if err != nil {
			return err
		}
		if item.ExpiresAt() != 0 {
			t.Errorf("Badger expiry of a connection: %d, want none", item.ExpiresAt())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.StateHash = []byte("state-2")
	if err := s.CreatePending(ctx, p); err != nil {
		t.Fatal(err)
	}
	err = s.(*Store).db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key(prefixPending, p.StateHash))
		if err != nil {
			return err
		}
		if got, want := item.ExpiresAt(), expiresAt(p.ExpiresAt); got != want {
			t.Errorf("Badger expiry of a pending authorization: got %d, want %d", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCopy(t *testing.T) {
	storetest.RunCopyTests(t, newStore, newStore)
}
