package outgoing_test

import (
	"context"
	"errors"
	"testing"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
)

// TestDisconnectUser: disconnecting a user deletes every connection of
// theirs and no one else's.
func TestDisconnectUser(t *testing.T) {
	f := newServiceFixture(t)
	ctx := context.Background()
	for _, c := range []store.Connection{
		{LinkID: "declared", UserID: "alice"},
		{LinkID: "rt", UserID: "alice"},
		{LinkID: "declared", UserID: "alicia"},
		{LinkID: "rt"},
	} {
		c.Sealed, c.Status = []byte("sealed"), outgoing.StatusValid
		if err := f.st.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.s.DisconnectUser(ctx, "alice", "admin")
	if err != nil || n != 2 {
		t.Fatalf("DisconnectUser = %d, %v; want 2", n, err)
	}
	if cs, err := f.s.Connections(ctx, store.ConnectionFilter{UserID: "alice"}); err != nil || len(cs) != 0 {
		t.Errorf("alice's connections after DisconnectUser: %v %v", cs, err)
	}
	cs, err := f.s.Connections(ctx, store.ConnectionFilter{})
	if err != nil || len(cs) != 2 {
		t.Errorf("connections left: %v %v, want alicia's and the shared one", cs, err)
	}
	if _, err := f.s.DisconnectUser(ctx, "", "admin"); err == nil {
		t.Error("DisconnectUser of the empty name succeeded")
	}
	if _, err := f.s.Disconnect(ctx, "rt", "alice", "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Disconnect of a deleted connection: %v, want %v", err, store.ErrNotFound)
	}
}
