package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// newUser returns a user with every field set.
func newUser(name string) store.User {
	n := now()
	return store.User{
		Name:         name,
		PasswordHash: "$2a$10$" + name,
		Role:         "user",
		CreatedAt:    n.Add(-time.Hour),
		UpdatedAt:    n,
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	users, err := s.ListUsers(ctx)
	must(t, "ListUsers", err)
	if len(users) != 0 {
		t.Fatalf("ListUsers of an empty store returned %d users", len(users))
	}
	_, err = s.GetUser(ctx, "nobody")
	wantErr(t, "GetUser of a missing user", err, store.ErrNotFound)

	carol, alice, bob := newUser("carol"), newUser("alice"), newUser("bob")
	for _, u := range []store.User{carol, alice, bob} {
		must(t, "PutUser", s.PutUser(ctx, u))
	}
	for _, want := range []store.User{alice, bob, carol} {
		got, err := s.GetUser(ctx, want.Name)
		must(t, "GetUser", err)
		checkEqual(t, "user", got, want)
	}
	users, err = s.ListUsers(ctx)
	must(t, "ListUsers", err)
	checkEqual(t, "ListUsers", users, []store.User{alice, bob, carol})

	// PutUser replaces.
	bob.PasswordHash = "$2a$10$other"
	bob.Role = "admin"
	bob.Disabled = true
	bob.UpdatedAt = bob.UpdatedAt.Add(time.Minute)
	must(t, "PutUser replacing", s.PutUser(ctx, bob))
	got, err := s.GetUser(ctx, "bob")
	must(t, "GetUser", err)
	checkEqual(t, "replaced user", got, bob)
	users, err = s.ListUsers(ctx)
	must(t, "ListUsers", err)
	checkEqual(t, "ListUsers after replacing", users, []store.User{alice, bob, carol})

	must(t, "DeleteUser", s.DeleteUser(ctx, "bob"))
	_, err = s.GetUser(ctx, "bob")
	wantErr(t, "GetUser of a deleted user", err, store.ErrNotFound)
	users, err = s.ListUsers(ctx)
	must(t, "ListUsers", err)
	checkEqual(t, "ListUsers after DeleteUser", users, []store.User{alice, carol})
	must(t, "DeleteUser of a deleted user", s.DeleteUser(ctx, "bob"))
	must(t, "DeleteUser of a missing user", s.DeleteUser(ctx, "nobody"))
}

// testUpdateUserCreate: UpdateUser of a missing user calls fn with a user
// that has only its name and exists false, and creates what fn leaves.
func testUpdateUserCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := newUser("alice")
	want.Stamp = "stamp-1"
	calls := 0
	got, err := s.UpdateUser(ctx, "alice", func(u *store.User, exists bool) error {
		calls++
		if exists {
			t.Error("UpdateUser of a missing user: fn got exists true")
		}
		checkEqual(t, "user given to fn for a missing user", *u, store.User{Name: "alice"})
		*u = want
		return nil
	})
	must(t, "UpdateUser creating", err)
	if calls == 0 {
		t.Fatal("UpdateUser did not call fn")
	}
	checkEqual(t, "user returned by UpdateUser", got, want)
	stored, err := s.GetUser(ctx, "alice")
	must(t, "GetUser of the created user", err)
	checkEqual(t, "created user", stored, want)
	users, err := s.ListUsers(ctx)
	must(t, "ListUsers", err)
	checkEqual(t, "ListUsers after UpdateUser created one", users, []store.User{want})
}

// testUpdateUserUpdate: UpdateUser of a stored user calls fn with it and
// exists true, and saves what fn leaves; other users are untouched.
func testUpdateUserUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser("alice"), newUser("bob")
	must(t, "PutUser", s.PutUser(ctx, alice))
	must(t, "PutUser", s.PutUser(ctx, bob))
	want := alice
	want.Role = "admin"
	want.Disabled = true
	want.Stamp = "stamp-2"
	want.UpdatedAt = alice.UpdatedAt.Add(time.Minute)
	got, err := s.UpdateUser(ctx, "alice", func(u *store.User, exists bool) error {
		if !exists {
			t.Error("UpdateUser of a stored user: fn got exists false")
		}
		checkEqual(t, "user given to fn", *u, alice)
		u.Role, u.Disabled, u.Stamp, u.UpdatedAt = want.Role, want.Disabled, want.Stamp, want.UpdatedAt
		return nil
	})
	must(t, "UpdateUser", err)
	checkEqual(t, "user returned by UpdateUser", got, want)
	stored, err := s.GetUser(ctx, "alice")
	must(t, "GetUser of the updated user", err)
	checkEqual(t, "updated user", stored, want)
	stored, err = s.GetUser(ctx, "bob")
	must(t, "GetUser of another user", err)
	checkEqual(t, "other user", stored, bob)
}

// testUpdateUserFnError: an error from fn comes back (errors.Is matches
// it) and nothing is written, whether the user exists or not.
func testUpdateUserFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser("alice")
	must(t, "PutUser", s.PutUser(ctx, alice))
	_, err := s.UpdateUser(ctx, "alice", func(u *store.User, _ bool) error {
		u.Role = "admin"
		u.PasswordHash = "changed"
		return errBoom
	})
	wantErr(t, "UpdateUser with a failing fn", err, errBoom)
	got, err := s.GetUser(ctx, "alice")
	must(t, "GetUser", err)
	checkEqual(t, "user after a failed UpdateUser", got, alice)

	_, err = s.UpdateUser(ctx, "bob", func(u *store.User, _ bool) error {
		*u = newUser("bob")
		return errBoom
	})
	wantErr(t, "UpdateUser of a missing user with a failing fn", err, errBoom)
	_, err = s.GetUser(ctx, "bob")
	wantErr(t, "GetUser of a user whose creation failed", err, store.ErrNotFound)
}

// testUpdateUserRename: fn may not change the name; nothing is written
// when it does.
func testUpdateUserRename(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser("alice")
	must(t, "PutUser", s.PutUser(ctx, alice))
	for _, name := range []string{"alice", "carol"} {
		_, err := s.UpdateUser(ctx, name, func(u *store.User, _ bool) error {
			u.Name = "mallory"
			u.Role = "admin"
			return nil
		})
		if err == nil {
			t.Errorf("UpdateUser(%q) renaming the user succeeded", name)
		}
	}
	got, err := s.GetUser(ctx, "alice")
	must(t, "GetUser", err)
	checkEqual(t, "user after a refused rename", got, alice)
	for _, name := range []string{"carol", "mallory"} {
		_, err = s.GetUser(ctx, name)
		wantErr(t, "GetUser of "+name+" after a refused rename", err, store.ErrNotFound)
	}
}

// testConcurrentUpdateUser has many goroutines add their number to a
// user that does not exist yet, each by a read-modify-write of its stamp
// and retrying on store.ErrConflict: exactly one creates the user, and no
// number is lost.
func testConcurrentUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	var (
		errs    = make([]error, contenders)
		created = make([]bool, contenders)
	)
	race(contenders, func(i int) {
		for range 10 * contenders {
			_, errs[i] = s.UpdateUser(ctx, "alice", func(u *store.User, exists bool) error {
				// The run that was written is the last one.
				created[i] = !exists
				if !exists {
					u.Role = "user"
				}
				u.Stamp += fmt.Sprintf(" %d", i)
				return nil
			})
			if !errors.Is(errs[i], store.ErrConflict) {
				return
			}
		}
	})
	creators := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateUser %d: %v", i, err)
		} else if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d of %d concurrent UpdateUser calls created the user, want 1", creators, contenders)
	}
	got, err := s.GetUser(ctx, "alice")
	must(t, "GetUser", err)
	numbers := strings.Fields(got.Stamp)
	if len(numbers) != contenders {
		t.Errorf("user has %d numbers after %d concurrent updates, want %d", len(numbers), contenders, contenders)
	}
	for i := range contenders {
		if n := countOf(numbers, fmt.Sprint(i)); n != 1 {
			t.Errorf("number %d stored %d times, want once", i, n)
		}
	}
	if got.Role != "user" {
		t.Errorf("role after concurrent updates: got %q, want %q", got.Role, "user")
	}
}
