package users_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/applinks/caddy-applinks/module/ratelimit"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/users"
)

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// newDirectory returns a directory with config users alice (WRITE),
// bob (default READ) and shadow, and runtime users carol (ADMIN), dave
// (disabled), erin (no password), shadow (hidden by the config user) and
// frank (a role the code does not know).
func newDirectory(t *testing.T) *users.Directory {
	t.Helper()
	st := badgertest.Open(t)
	ctx := context.Background()
	for _, u := range []store.User{
		{Name: "carol", PasswordHash: hash(t, "carol-pw"), Role: "ADMIN"},
		{Name: "dave", PasswordHash: hash(t, "dave-pw"), Role: "SYSTEM_ADMIN", Disabled: true},
		{Name: "erin", PasswordHash: "", Role: "READ"},
		{Name: "shadow", PasswordHash: hash(t, "runtime-pw"), Role: "SYSTEM_ADMIN"},
		{Name: "frank", PasswordHash: hash(t, "frank-pw"), Role: "OWNER"},
	} {
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	d, err := users.NewDirectory(st, []users.ConfigUser{
		{Name: "alice", Password: hash(t, "alice-pw"), Role: "WRITE"},
		{Name: "bob", Password: hash(t, "bob-pw")},
		{Name: "shadow", Password: hash(t, "config-pw"), Role: "READ"},
	}, ratelimit.NewGate(2, 8, time.Second))
	if err != nil {
		t.Fatalf("NewDirectory: %v", err)
	}
	return d
}

func TestAuthenticate(t *testing.T) {
	d := newDirectory(t)
	tests := []struct {
		name, user, password string
		wantRole             scope.Scope
		wantSource           string
		wantErr              error
	}{
		{"config user", "alice", "alice-pw", scope.Write, "config", nil},
		{"config user default role", "bob", "bob-pw", scope.Read, "config", nil},
		{"config user wrong password", "alice", "bob-pw", scope.None, "", users.ErrBadCredentials},
		{"config user empty password", "alice", "", scope.None, "", users.ErrBadCredentials},
		{"password case matters", "alice", "ALICE-PW", scope.None, "", users.ErrBadCredentials},
		{"user name case matters", "Alice", "alice-pw", scope.None, "", users.ErrBadCredentials},
		{"runtime user", "carol", "carol-pw", scope.Admin, "runtime", nil},
		{"runtime user wrong password", "carol", "alice-pw", scope.None, "", users.ErrBadCredentials},
		{"unknown user", "mallory", "alice-pw", scope.None, "", users.ErrBadCredentials},
		{"empty user", "", "", scope.None, "", users.ErrBadCredentials},
		{"disabled user", "dave", "dave-pw", scope.None, "", users.ErrDisabled},
		{"disabled user wrong password", "dave", "nope", scope.None, "", users.ErrBadCredentials},
		{"runtime user without password", "erin", "", scope.None, "", users.ErrBadCredentials},
		{"config user hides runtime user", "shadow", "config-pw", scope.Read, "config", nil},
		{"hidden runtime password", "shadow", "runtime-pw", scope.None, "", users.ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := d.Authenticate(context.Background(), tt.user, tt.password)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate(%q, %q) error = %v, want %v", tt.user, tt.password, err, tt.wantErr)
			}
			if err != nil {
				if u.Name != "" || u.Role != scope.None {
					t.Fatalf("failed Authenticate returned user %+v", u)
				}
				return
			}
			if u.Name != tt.user || u.Role != tt.wantRole || u.Source != tt.wantSource || u.Disabled {
				t.Fatalf("Authenticate(%q) = %+v, want role %v from %s", tt.user, u, tt.wantRole, tt.wantSource)
			}
		})
	}
	t.Run("unknown stored role is an error, not a sign-in", func(t *testing.T) {
		u, err := d.Authenticate(context.Background(), "frank", "frank-pw")
		if err == nil {
			t.Fatalf("Authenticate accepted a user with an unknown role: %+v", u)
		}
	})
}

func TestRole(t *testing.T) {
	d := newDirectory(t)
	tests := []struct {
		user    string
		want    scope.Scope
		wantErr error
	}{
		{"alice", scope.Write, nil},
		{"bob", scope.Read, nil},
		{"carol", scope.Admin, nil},
		{"shadow", scope.Read, nil},
		{"dave", scope.None, users.ErrDisabled},
		{"mallory", scope.None, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got, err := d.Role(context.Background(), tt.user, time.Now())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Role(%q) error = %v, want %v", tt.user, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Role(%q) = %v, want %v", tt.user, got, tt.want)
			}
		})
	}
}

func TestRoleFollowsStore(t *testing.T) {
	st := badgertest.Open(t)
	ctx := context.Background()
	d, err := users.NewDirectory(st, []users.ConfigUser{{Name: "admin", Password: hash(t, "x")}}, ratelimit.NewGate(1, 1, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{Name: "carol", PasswordHash: hash(t, "pw"), Role: "WRITE"}
	if err := st.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if r, err := d.Role(ctx, "carol", time.Now()); err != nil || r != scope.Write {
		t.Fatalf("Role = %v, %v; want WRITE", r, err)
	}
	u.Disabled = true
	if err := st.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Role(ctx, "carol", time.Now()); !errors.Is(err, users.ErrDisabled) {
		t.Fatalf("Role after disabling = %v, want ErrDisabled", err)
	}
	if _, err := d.Authenticate(ctx, "carol", "pw"); !errors.Is(err, users.ErrDisabled) {
		t.Fatalf("Authenticate after disabling = %v, want ErrDisabled", err)
	}
	if err := st.DeleteUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Role(ctx, "carol", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Role after deletion = %v, want ErrNotFound", err)
	}
	if _, err := d.Authenticate(ctx, "carol", "pw"); !errors.Is(err, users.ErrBadCredentials) {
		t.Fatalf("Authenticate after deletion = %v, want ErrBadCredentials", err)
	}
}

func TestNewDirectoryRefuses(t *testing.T) {
	good := hash(t, "pw")
	tests := []struct {
		name     string
		declared []users.ConfigUser
	}{
		{"plain-text password", []users.ConfigUser{{Name: "a", Password: "secret"}}},
		{"empty password", []users.ConfigUser{{Name: "a", Password: ""}}},
		{"truncated hash", []users.ConfigUser{{Name: "a", Password: good[:20]}}},
		{"SHA-256 hex", []users.ConfigUser{{Name: "a", Password: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"}}},
		{"empty name", []users.ConfigUser{{Name: "", Password: good}}},
		{"duplicate name", []users.ConfigUser{{Name: "a", Password: good}, {Name: "a", Password: good}}},
		{"lower-case role", []users.ConfigUser{{Name: "a", Password: good, Role: "admin"}}},
		{"unknown role", []users.ConfigUser{{Name: "a", Password: good, Role: "ROOT"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := users.NewDirectory(nil, tt.declared, ratelimit.NewGate(1, 1, time.Second))
			if err == nil {
				t.Fatalf("NewDirectory accepted %+v", tt.declared)
			}
			if d != nil {
				t.Fatal("NewDirectory returned a directory with an error")
			}
		})
	}
}

// TestPasswordCheckFloodGivesUpInsteadOfQueueing: while every password
// check slot is taken (a sign-in flood), another sign-in waits only as
// long as its request lives and as the gate allows, then fails with
// ErrBusy or its context's error, so a flood cannot queue work without
// bound or take every core from the token endpoint and the guard.
func TestPasswordCheckFloodGivesUpInsteadOfQueueing(t *testing.T) {
	st := badgertest.Open(t)
	gate := ratelimit.NewGate(1, 1, 50*time.Millisecond)
	d, err := users.NewDirectory(st, []users.ConfigUser{{Name: "alice", Password: hash(t, "alice-pw")}}, gate)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatalf("Authenticate with a free slot: %v", err)
	}
	release, err := gate.Enter(ctx) // the flood holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, users.ErrBusy) {
		t.Fatalf("Authenticate with no free slot: %v, want ErrBusy", err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Authenticate(gone, "alice", "alice-pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Authenticate of an ended request: %v, want context.Canceled", err)
	}
	release()
	if _, err := d.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatalf("Authenticate once the slot is free again: %v", err)
	}
}

// TestSubjectNotMintedForUnknownUser: asking for the subject of a name
// nobody has yet must not store one, or the next user of that name would
// start with a subject that was handed out before they existed.
func TestSubjectNotMintedForUnknownUser(t *testing.T) {
	st := badgertest.Open(t)
	ctx := context.Background()
	d, err := users.NewDirectory(st, []users.ConfigUser{{Name: "alice", Password: hash(t, "x")}}, ratelimit.NewGate(1, 1, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Subject(ctx, "zoe", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Subject of an unknown user: %v, want ErrNotFound", err)
	}
	if _, err := st.GetSubject(ctx, "zoe"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("asking for an unknown user's subject stored one: %v", err)
	}
	alice, err := d.Subject(ctx, "alice", time.Now())
	if err != nil || alice == "" || alice == "alice" {
		t.Fatalf("Subject of a declared user = %q, %v", alice, err)
	}
	if again, err := d.Subject(ctx, "alice", time.Now()); err != nil || again != alice {
		t.Fatalf("second Subject of alice = %q, %v; want %q", again, err, alice)
	}
	if err := d.NewSubject(ctx, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	if fresh, err := d.Subject(ctx, "alice", time.Now()); err != nil || fresh == alice {
		t.Fatalf("NewSubject kept the old subject %q: %v", alice, err)
	}
}
