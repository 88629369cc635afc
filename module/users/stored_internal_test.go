package users

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// TestSaveSignIn: a provider's sign-in creates its user with a subject,
// unless it has no role; it changes the role of its own user only.
func TestSaveSignIn(t *testing.T) {
	st := badgertest.Open(t)
	d, err := NewDirectory(st, []ConfigUser{{Name: "alice", Password: "$2a$04$0123456789012345678901uYWcPzJ0z/PjQY7s7iRUDzSQFsVmDIS"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const op, other = "https://op.example", "https://other.example"
	now := time.Now()

	if changed, err := d.saveSignIn(ctx, op, "OP", "nobody", "sub-0", scope.None, now); err != nil || changed {
		t.Fatalf("sign-in without a role: %v %v", changed, err)
	}
	if _, err := st.GetUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a sign-in without a role stored its user: %v", err)
	}
	if _, err := st.GetSubject(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a sign-in without a role gave a subject: %v", err)
	}

	if changed, err := d.saveSignIn(ctx, op, "OP", "carol", "sub-1", scope.Write, now); err != nil || !changed {
		t.Fatalf("first sign-in: %v %v", changed, err)
	}
	u, err := st.GetUser(ctx, "carol")
	if err != nil || u.Provider != op || u.Subject != "sub-1" || u.Role != "WRITE" {
		t.Fatalf("stored user: %+v %v", u, err)
	}
	if _, err := st.GetSubject(ctx, "carol"); err != nil {
		t.Fatalf("subject of the new user: %v", err)
	}
	if changed, err := d.saveSignIn(ctx, op, "OP", "carol", "sub-1", scope.Write, now); err != nil || changed {
		t.Fatalf("second sign-in with the same role: %v %v", changed, err)
	}

	var r refusal
	for _, tt := range []struct{ issuer, name, sub string }{
		{op, "alice", "sub-2"},    // declared
		{other, "carol", "sub-1"}, // another provider's
		{op, "carol", "sub-2"},    // another account
	} {
		if _, err := d.saveSignIn(ctx, tt.issuer, "OP", tt.name, tt.sub, scope.Read, now); !errors.As(err, &r) {
			t.Errorf("sign-in of %s through %s as %s: %v, want a refusal", tt.name, tt.issuer, tt.sub, err)
		}
	}
	u.Disabled = true
	if err := st.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := d.saveSignIn(ctx, op, "OP", "carol", "sub-1", scope.Admin, now); !errors.As(err, &r) {
		t.Errorf("sign-in of a disabled user: %v, want a refusal", err)
	}
	if got, _ := st.GetUser(ctx, "carol"); got.Role != "WRITE" {
		t.Errorf("refused sign-ins changed the role to %q", got.Role)
	}
}
