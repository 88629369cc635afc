package users_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/ratelimit"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/users"
)

// newSaveDirectory returns a directory with the config user alice, on a
// fresh store.
func newSaveDirectory(t *testing.T) (*users.Directory, store.Store) {
	t.Helper()
	st := badgertest.Open(t)
	d, err := users.NewDirectory(st, []users.ConfigUser{{Name: "alice", Password: hash(t, "alice-pw")}}, ratelimit.NewGate(2, 8, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return d, st
}

// TestSaveCreatesAndUpdates: a new user gets a password, a stamp and a
// new subject (not the one an earlier user of the name left); a change of
// password, role or disabled state replaces the stamp, and a save without
// change keeps it.
func TestSaveCreatesAndUpdates(t *testing.T) {
	d, st := newSaveDirectory(t)
	ctx := context.Background()
	now := time.Now()
	leftover := store.Subject{UserID: "carol", Subject: "earlier-carol", CreatedAt: now.Add(-time.Hour)}
	if err := st.PutSubject(ctx, leftover); err != nil {
		t.Fatal(err)
	}
	saved, err := d.Save(ctx, "carol", users.Change{Password: "carol-password", Role: scope.Write, Create: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !saved.Created || saved.SignedOut || saved.User.Stamp == "" || !saved.User.CreatedAt.Equal(now.UTC()) || saved.User.Role != "WRITE" {
		t.Fatalf("created: %+v", saved)
	}
	if sub, err := st.GetSubject(ctx, "carol"); err != nil || sub.Subject == leftover.Subject {
		t.Fatalf("subject of the new carol: %+v %v, want a new one", sub, err)
	}
	if _, err := d.Authenticate(ctx, "carol", "carol-password"); err != nil {
		t.Fatalf("Authenticate with the new password: %v", err)
	}

	same, err := d.Save(ctx, "carol", users.Change{Role: scope.Write}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if same.Created || same.SignedOut || same.User.Stamp != saved.User.Stamp || same.User.PasswordHash != saved.User.PasswordHash {
		t.Fatalf("saved without change: %+v", same)
	}
	for _, c := range []users.Change{{Role: scope.Admin}, {Role: scope.Admin, Disabled: true}, {Password: "another-password", Role: scope.Admin, Disabled: true}} {
		before, err := d.Stored(ctx, "carol")
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Save(ctx, "carol", c, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !got.SignedOut || got.User.Stamp == before.Stamp {
			t.Errorf("Save(%+v) kept the stamp: %+v", c, got)
		}
	}
}

// TestSaveRefuses: the input errors of Save, none of which writes.
func TestSaveRefuses(t *testing.T) {
	d, st := newSaveDirectory(t)
	ctx := context.Background()
	if err := st.PutUser(ctx, store.User{Name: "bob", Role: "READ", Provider: "https://op.example"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutUser(ctx, store.User{Name: "carol", Role: "READ", PasswordHash: hash(t, "carol-pw")}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		c    users.Change
		want error
	}{
		{"alice", users.Change{Password: "a-long-password", Role: scope.Read}, users.ErrUserReadOnly},
		{"a/b", users.Change{Password: "a-long-password", Role: scope.Read}, users.ErrInvalidUserName},
		{"..", users.Change{Password: "a-long-password", Role: scope.Read}, users.ErrInvalidUserName},
		{"dave", users.Change{Password: "a-long-password", Role: scope.None}, users.ErrInvalidRole},
		{"dave", users.Change{Role: scope.Read}, users.ErrPasswordRequired},
		{"dave", users.Change{Password: "short", Role: scope.Read}, users.ErrPasswordTooShort},
		{"carol", users.Change{Password: "a-long-password", Role: scope.Read, Create: true}, users.ErrUserExists},
		{"bob", users.Change{Password: "short", Role: scope.Read}, users.ErrNoPassword},
	} {
		_, err := d.Save(ctx, tt.name, tt.c, time.Now())
		if !errors.Is(err, tt.want) || !users.IsInputError(err) {
			t.Errorf("Save(%q, %+v): %v, want %v", tt.name, tt.c, err, tt.want)
		}
	}
	if _, err := st.GetUser(ctx, "dave"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused Save created dave: %v", err)
	}
	if _, err := st.GetSubject(ctx, "dave"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused Save gave dave a subject: %v", err)
	}
}

// TestSaveConcurrentCreate: of concurrent creations of one user, one
// succeeds and the others find it exists.
func TestSaveConcurrentCreate(t *testing.T) {
	d, _ := newSaveDirectory(t)
	ctx := context.Background()
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = d.Save(ctx, "carol", users.Change{Password: "carol-password", Role: scope.Read, Create: true}, time.Now())
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, users.ErrUserExists):
			t.Errorf("concurrent Save: %v", err)
		}
	}
	if created != 1 {
		t.Errorf("%d of %d concurrent creations succeeded, want 1", created, n)
	}
}

// TestDeleteAndStored: declared users are not stored users and cannot be
// deleted here.
func TestDeleteAndStored(t *testing.T) {
	d, st := newSaveDirectory(t)
	ctx := context.Background()
	if err := st.PutUser(ctx, store.User{Name: "alice", Role: "ADMIN"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stored(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stored of a declared user: %v, want %v", err, store.ErrNotFound)
	}
	if err := d.Delete(ctx, "alice"); !errors.Is(err, users.ErrUserReadOnly) {
		t.Errorf("Delete of a declared user: %v, want %v", err, users.ErrUserReadOnly)
	}
	if err := st.PutUser(ctx, store.User{Name: "carol", Role: "READ"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stored(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stored of a deleted user: %v", err)
	}
}

// TestUserCreatedOnTwoGatewaysAtOnceKeepsOneSubject: when two gateways
// sharing a store create the same user at the same moment (two first
// sign-ins through an OpenID Connect provider behind a load balancer), the
// one that finds the other's brand-new subject keeps it, instead of
// replacing the subject of a user that exists by then and whose ID tokens
// may already carry it.
func TestUserCreatedOnTwoGatewaysAtOnceKeepsOneSubject(t *testing.T) {
	d, st := newSaveDirectory(t)
	ctx := context.Background()
	now := time.Now()
	// The other gateway's creation got as far as storing its subject.
	theirs := store.Subject{UserID: "erin", Subject: "subject-of-the-other-gateway", CreatedAt: now.Add(-50 * time.Millisecond).UTC()}
	if err := st.PutSubject(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Save(ctx, "erin", users.Change{Password: "erin-password", Role: scope.Read, Create: true}, now); err != nil {
		t.Fatal(err)
	}
	if sub, err := st.GetSubject(ctx, "erin"); err != nil || sub.Subject != theirs.Subject {
		t.Fatalf("subject of erin: %+v %v; want the other gateway's %q kept", sub, err, theirs.Subject)
	}
}
