package storetest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// newPending returns a pending authorization of user for link, with every
// field set, that expires after ttl.
func newPending(link, user string, ttl time.Duration) store.Pending {
	n := now()
	return store.Pending{
		StateHash:      newHash(),
		LinkID:         link,
		UserID:         user,
		SealedVerifier: []byte("sealed-" + rand.Text()),
		ReturnTo:       "/links/" + link,
		CreatedAt:      n,
		ExpiresAt:      n.Add(ttl),
	}
}

// newConnection returns a connection of user for link with every field
// set.
func newConnection(link, user string) store.Connection {
	n := now()
	return store.Connection{
		LinkID:     link,
		UserID:     user,
		Sealed:     []byte("sealed-" + rand.Text()),
		Expiry:     n.Add(time.Hour),
		Status:     "RECOVERABLE",
		LastError:  "invalid_grant: token expired",
		Failures:   3,
		RetryAt:    n.Add(5 * time.Minute),
		Generation: 7,
		CreatedAt:  n.Add(-24 * time.Hour),
		UpdatedAt:  n,
	}
}

// putConnection stores c or fails the test.
func putConnection(t *testing.T, s store.Store, c store.Connection) store.Connection {
	t.Helper()
	if err := s.PutConnection(t.Context(), c); err != nil {
		t.Fatalf("PutConnection(%q, %q): %v", c.LinkID, c.UserID, err)
	}
	return c
}

// listConnections lists connections or fails the test.
func listConnections(t *testing.T, s store.Store, f store.ConnectionFilter) []store.Connection {
	t.Helper()
	conns, err := s.ListConnections(t.Context(), f)
	if err != nil {
		t.Fatalf("ListConnections(%+v): %v", f, err)
	}
	return conns
}

// checkConnections compares connection lists regardless of order.
func checkConnections(t *testing.T, what string, got []store.Connection, want ...store.Connection) {
	t.Helper()
	byKey := func(a, b store.Connection) int {
		if c := strings.Compare(a.LinkID, b.LinkID); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	}
	got = slices.SortedFunc(slices.Values(got), byKey)
	want = slices.SortedFunc(slices.Values(want), byKey)
	checkEqual(t, what, got, want)
}

// checkConnection checks that GetConnection returns want.
func checkConnection(t *testing.T, s store.Store, want store.Connection) {
	t.Helper()
	got, err := s.GetConnection(t.Context(), want.LinkID, want.UserID)
	if err != nil {
		t.Errorf("GetConnection(%q, %q): %v", want.LinkID, want.UserID, err)
		return
	}
	checkEqual(t, "connection", got, want)
}

func testPending(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.TakePending(ctx, newHash())
	wantErr(t, "TakePending of a missing state", err, store.ErrNotFound)

	p := newPending("link-1", "alice", time.Hour)
	shared := newPending("link-2", "", time.Hour)
	shared.ReturnTo = ""
	must(t, "CreatePending", s.CreatePending(ctx, p))
	must(t, "CreatePending of a shared link", s.CreatePending(ctx, shared))

	for _, want := range []store.Pending{p, shared} {
		got, err := s.TakePending(ctx, want.StateHash)
		must(t, "TakePending", err)
		checkEqual(t, "taken pending authorization", got, want)
		_, err = s.TakePending(ctx, want.StateHash)
		wantErr(t, "second TakePending", err, store.ErrNotFound)
	}
}

func testConnections(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetConnection(ctx, "link-1", "alice")
	wantErr(t, "GetConnection of a missing connection", err, store.ErrNotFound)
	_, err = s.UpdateConnection(ctx, "link-1", "alice", func(*store.Connection) error {
		t.Error("UpdateConnection called fn for a missing connection")
		return nil
	})
	wantErr(t, "UpdateConnection of a missing connection", err, store.ErrNotFound)
	checkConnections(t, "ListConnections of an empty store", listConnections(t, s, store.ConnectionFilter{}))

	alice := putConnection(t, s, newConnection("link-1", "alice"))
	shared := newConnection("link-1", "")
	shared.Expiry = time.Time{}
	shared.LastError = ""
	shared.Failures = 0
	shared.RetryAt = time.Time{}
	shared.Status = "VALID"
	putConnection(t, s, shared)
	checkConnection(t, s, alice)
	checkConnection(t, s, shared)
	_, err = s.GetConnection(ctx, "link-1", "bob")
	wantErr(t, "GetConnection of another user", err, store.ErrNotFound)
	_, err = s.GetConnection(ctx, "link-2", "alice")
	wantErr(t, "GetConnection of another link", err, store.ErrNotFound)

	// PutConnection replaces.
	alice.Sealed = []byte("resealed-" + rand.Text())
	alice.Status = "VALID"
	alice.LastError = ""
	alice.Failures = 0
	alice.RetryAt = time.Time{}
	alice.Generation++
	alice.UpdatedAt = alice.UpdatedAt.Add(time.Minute)
	putConnection(t, s, alice)
	checkConnection(t, s, alice)
	checkConnections(t, "connections of alice", listConnections(t, s, store.ConnectionFilter{UserID: "alice"}), alice)
	checkConnections(t, "all connections", listConnections(t, s, store.ConnectionFilter{}), alice, shared)

	// UpdateConnection.
	want := alice
	want.Status = "UNRECOVERABLE"
	want.LastError = "invalid_grant"
	want.Failures = 1
	want.RetryAt = now().Add(time.Minute)
	want.Generation++
	want.UpdatedAt = now().Add(time.Hour)
	got, err := s.UpdateConnection(ctx, alice.LinkID, alice.UserID, func(c *store.Connection) error {
		checkEqual(t, "connection given to the updater", *c, alice)
		*c = want
		return nil
	})
	must(t, "UpdateConnection", err)
	checkEqual(t, "updated connection", got, want)
	checkConnection(t, s, want)

	// The shared connection can be updated too.
	got, err = s.UpdateConnection(ctx, shared.LinkID, "", func(c *store.Connection) error {
		c.Generation++
		return nil
	})
	must(t, "UpdateConnection of a shared connection", err)
	shared.Generation++
	checkEqual(t, "updated shared connection", got, shared)
	checkConnection(t, s, shared)
}

func testUpdateConnectionFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := putConnection(t, s, newConnection("link-1", "alice"))
	_, err := s.UpdateConnection(ctx, c.LinkID, c.UserID, func(x *store.Connection) error {
		x.Status = "UNRECOVERABLE"
		x.Generation++
		x.Sealed = nil
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateConnection with a failing updater: got error %v, want %v", err, errBoom)
	}
	checkConnection(t, s, c)
}

func testListConnections(t *testing.T, s store.Store) {
	// Link ids and user ids are prefixes of each other, so that a prefix
	// scan without a separator mixes them up; ids hold bytes that sort
	// around common separators.
	var (
		aAlice  = putConnection(t, s, newConnection("a", "alice"))
		aAl     = putConnection(t, s, newConnection("a", "al"))
		aShared = putConnection(t, s, newConnection("a", ""))
		abAlice = putConnection(t, s, newConnection("ab", "alice"))
		abBob   = putConnection(t, s, newConnection("ab", "bob"))
		bShared = putConnection(t, s, newConnection("b", ""))
		odd     = putConnection(t, s, newConnection("a/\x01 é%ÿ", "al/ice\x7f€"))
	)
	all := []store.Connection{aAlice, aAl, aShared, abAlice, abBob, bShared, odd}
	for _, tc := range []struct {
		what   string
		filter store.ConnectionFilter
		want   []store.Connection
	}{
		{"link a", store.ConnectionFilter{LinkID: "a"}, []store.Connection{aAlice, aAl, aShared}},
		{"link ab", store.ConnectionFilter{LinkID: "ab"}, []store.Connection{abAlice, abBob}},
		{"link b", store.ConnectionFilter{LinkID: "b"}, []store.Connection{bShared}},
		{"odd link", store.ConnectionFilter{LinkID: odd.LinkID}, []store.Connection{odd}},
		{"missing link", store.ConnectionFilter{LinkID: "c"}, nil},
		{"user alice", store.ConnectionFilter{UserID: "alice"}, []store.Connection{aAlice, abAlice}},
		{"user al", store.ConnectionFilter{UserID: "al"}, []store.Connection{aAl}},
		{"user bob", store.ConnectionFilter{UserID: "bob"}, []store.Connection{abBob}},
		{"odd user", store.ConnectionFilter{UserID: odd.UserID}, []store.Connection{odd}},
		{"missing user", store.ConnectionFilter{UserID: "carol"}, nil},
		{"all", store.ConnectionFilter{}, all},
	} {
		checkConnections(t, "connections of "+tc.what, listConnections(t, s, tc.filter), tc.want...)
	}
	for _, c := range all {
		checkConnection(t, s, c)
	}
}

func testDeleteConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := putConnection(t, s, newConnection("link-1", "alice"))
	shared := putConnection(t, s, newConnection("link-1", ""))
	other := putConnection(t, s, newConnection("link-2", "alice"))

	must(t, "DeleteConnection", s.DeleteConnection(ctx, alice.LinkID, alice.UserID))
	_, err := s.GetConnection(ctx, alice.LinkID, alice.UserID)
	wantErr(t, "GetConnection of a deleted connection", err, store.ErrNotFound)
	_, err = s.UpdateConnection(ctx, alice.LinkID, alice.UserID, func(*store.Connection) error {
		t.Error("UpdateConnection called fn for a deleted connection")
		return nil
	})
	wantErr(t, "UpdateConnection of a deleted connection", err, store.ErrNotFound)
	checkConnection(t, s, shared)
	checkConnection(t, s, other)
	checkConnections(t, "connections of alice", listConnections(t, s, store.ConnectionFilter{UserID: "alice"}), other)
	checkConnections(t, "connections of link-1", listConnections(t, s, store.ConnectionFilter{LinkID: "link-1"}), shared)
	checkConnections(t, "all connections", listConnections(t, s, store.ConnectionFilter{}), shared, other)

	must(t, "DeleteConnection of a deleted connection", s.DeleteConnection(ctx, alice.LinkID, alice.UserID))
	must(t, "DeleteConnection of a missing connection", s.DeleteConnection(ctx, "link-3", "bob"))
	must(t, "DeleteConnection of a shared connection", s.DeleteConnection(ctx, shared.LinkID, ""))
	_, err = s.GetConnection(ctx, shared.LinkID, "")
	wantErr(t, "GetConnection of a deleted shared connection", err, store.ErrNotFound)
	must(t, "DeleteConnection of a deleted shared connection", s.DeleteConnection(ctx, shared.LinkID, ""))
	checkConnections(t, "all connections", listConnections(t, s, store.ConnectionFilter{}), other)

	// A deleted connection can be created again.
	alice.Generation = 1
	putConnection(t, s, alice)
	checkConnection(t, s, alice)
	checkConnections(t, "connections of alice", listConnections(t, s, store.ConnectionFilter{UserID: "alice"}), alice, other)
}

// expiryPending checks that a pending authorization is gone after its
// expiry, and that one that expires within a fraction of a second is not
// returned once its ExpiresAt has passed, even before a TTL rounded up to
// the second would run out.
func expiryPending(t *testing.T, s store.Store) (time.Time, func(*testing.T)) {
	ctx := t.Context()
	p := newPending("link-1", "alice", shortTTL)
	long := newPending("link-1", "bob", time.Hour)
	brief := newPending("link-1", "carol", 20*time.Millisecond)
	for _, x := range []store.Pending{p, long, brief} {
		must(t, "CreatePending", s.CreatePending(ctx, x))
	}
	time.Sleep(time.Until(brief.ExpiresAt.Add(10 * time.Millisecond)))
	_, err := s.TakePending(ctx, brief.StateHash)
	wantErr(t, "TakePending just after expiry", err, store.ErrNotFound)

	return p.ExpiresAt, func(t *testing.T) {
		ctx := t.Context()
		_, err := s.TakePending(ctx, p.StateHash)
		wantErr(t, "TakePending after expiry", err, store.ErrNotFound)
		got, err := s.TakePending(ctx, long.StateHash)
		must(t, "TakePending of a live pending authorization", err)
		checkEqual(t, "live pending authorization", got, long)
	}
}

// testConcurrentTakePending takes one pending authorization from many
// goroutines: exactly one may get it.
func testConcurrentTakePending(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newPending("link-1", "alice", 10*time.Minute)
	must(t, "CreatePending", s.CreatePending(ctx, p))

	got := make([]store.Pending, contenders)
	errs := make([]error, contenders)
	race(contenders, func(i int) {
		got[i], errs[i] = s.TakePending(ctx, p.StateHash)
	})
	w := checkOneWinner(t, "concurrent TakePending", errs, store.ErrNotFound)
	checkEqual(t, "taken pending authorization", got[w], p)
	_, err := s.TakePending(ctx, p.StateHash)
	wantErr(t, "TakePending after the race", err, store.ErrNotFound)
}

// testConcurrentUpdateConnection increments a connection's generation from
// many goroutines, each retrying on store.ErrConflict: no update may be
// lost.
func testConcurrentUpdateConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := putConnection(t, s, newConnection("link-1", "alice"))

	errs := make([]error, contenders)
	race(contenders, func(i int) {
		for range 10 * contenders {
			_, errs[i] = s.UpdateConnection(ctx, c.LinkID, c.UserID, func(x *store.Connection) error {
				x.Generation++
				return nil
			})
			if !errors.Is(errs[i], store.ErrConflict) {
				return
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateConnection %d: %v", i, err)
		}
	}

	got, err := s.GetConnection(ctx, c.LinkID, c.UserID)
	must(t, "GetConnection", err)
	if want := c.Generation + contenders; got.Generation != want {
		t.Errorf("generation after %d concurrent increments: got %d, want %d", contenders, got.Generation, want)
	}
	want := c
	want.Generation = got.Generation
	checkEqual(t, "connection after concurrent updates", got, want)
}

// testOutgoingLinks: runtime outgoing links are created once per name,
// round-trip, list by name, and deleting one removes its connections but
// not those of a link whose name it prefixes.
func testOutgoingLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(name string) store.OutgoingLink {
		return store.OutgoingLink{
			Name: name, Provider: json.RawMessage(`{"provider":"oauth2","issuer":"https://idp.example"}`),
			ClientID: "cid-" + name, SealedSecret: []byte{1, 2, 3}, Scopes: []string{"a", "b"}, Mode: "shared",
			CreatedAt: now, CreatedBy: "sam",
		}
	}
	b, a := mk("b"), mk("a")
	must(t, "CreateOutgoingLink b", s.CreateOutgoingLink(ctx, b))
	must(t, "CreateOutgoingLink a", s.CreateOutgoingLink(ctx, a))
	ab := mk("ab")
	must(t, "CreateOutgoingLink ab", s.CreateOutgoingLink(ctx, ab))
	wantErr(t, "CreateOutgoingLink of a taken name", s.CreateOutgoingLink(ctx, mk("a")), store.ErrAlreadyExists)

	got, err := s.GetOutgoingLink(ctx, "a")
	must(t, "GetOutgoingLink", err)
	if got.Name != a.Name || string(got.Provider) != string(a.Provider) || got.ClientID != a.ClientID || string(got.SealedSecret) != string(a.SealedSecret) ||
		strings.Join(got.Scopes, " ") != "a b" || got.Mode != a.Mode || !got.CreatedAt.Equal(a.CreatedAt) || got.CreatedBy != a.CreatedBy {
		t.Errorf("GetOutgoingLink = %+v, want %+v", got, a)
	}
	_, err = s.GetOutgoingLink(ctx, "missing")
	wantErr(t, "GetOutgoingLink of a missing link", err, store.ErrNotFound)

	list, err := s.ListOutgoingLinks(ctx)
	must(t, "ListOutgoingLinks", err)
	var names []string
	for _, l := range list {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "a,ab,b" {
		t.Errorf("ListOutgoingLinks names = %v, want a,ab,b", names)
	}

	putConnection(t, s, newConnection("a", "alice"))
	putConnection(t, s, newConnection("a", ""))
	keep := putConnection(t, s, newConnection("ab", "alice"))
	must(t, "DeleteOutgoingLink", s.DeleteOutgoingLink(ctx, "a"))
	_, err = s.GetOutgoingLink(ctx, "a")
	wantErr(t, "GetOutgoingLink of a deleted link", err, store.ErrNotFound)
	checkConnections(t, "connections after deleting link a", listConnections(t, s, store.ConnectionFilter{}), keep)
	checkConnections(t, "connections of alice after deleting link a", listConnections(t, s, store.ConnectionFilter{UserID: "alice"}), keep)
	wantErr(t, "DeleteOutgoingLink of a deleted link", s.DeleteOutgoingLink(ctx, "a"), store.ErrNotFound)
	must(t, "CreateOutgoingLink of a freed name", s.CreateOutgoingLink(ctx, mk("a")))
}

// newOutgoingLink returns a runtime outgoing link with every field set.
func newOutgoingLink(name string) store.OutgoingLink {
	return store.OutgoingLink{
		Name:         name,
		Provider:     json.RawMessage(`{"provider":"oauth2","issuer":"https://idp.example"}`),
		ClientID:     "cid-" + name,
		SealedSecret: []byte("sealed-" + rand.Text()),
		Scopes:       []string{"a", "b"},
		Mode:         "shared",
		CreatedAt:    now().Add(-time.Hour),
		CreatedBy:    "sam",
	}
}

// checkOutgoingLink checks that GetOutgoingLink returns want.
func checkOutgoingLink(t *testing.T, s store.Store, want store.OutgoingLink) {
	t.Helper()
	got, err := s.GetOutgoingLink(t.Context(), want.Name)
	if err != nil {
		t.Errorf("GetOutgoingLink(%q): %v", want.Name, err)
		return
	}
	checkEqual(t, "outgoing link", got, want)
}

// testUpdateOutgoingLink: an outgoing link is updated in place with its
// connections kept; a missing link is not found without fn being called;
// renaming is refused with nothing written.
func testUpdateOutgoingLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.UpdateOutgoingLink(ctx, "a", func(*store.OutgoingLink) error {
		t.Error("UpdateOutgoingLink called fn for a missing link")
		return nil
	})
	wantErr(t, "UpdateOutgoingLink of a missing link", err, store.ErrNotFound)

	a, ab := newOutgoingLink("a"), newOutgoingLink("ab")
	must(t, "CreateOutgoingLink a", s.CreateOutgoingLink(ctx, a))
	must(t, "CreateOutgoingLink ab", s.CreateOutgoingLink(ctx, ab))
	conn := putConnection(t, s, newConnection("a", "alice"))

	want := a
	want.ClientID = "new-client"
	want.SealedSecret = []byte("resealed-" + rand.Text())
	want.Scopes = []string{"c"}
	want.Mode = "per_user"
	got, err := s.UpdateOutgoingLink(ctx, "a", func(l *store.OutgoingLink) error {
		checkEqual(t, "outgoing link given to the updater", *l, a)
		l.ClientID, l.SealedSecret, l.Scopes, l.Mode = want.ClientID, want.SealedSecret, want.Scopes, want.Mode
		return nil
	})
	must(t, "UpdateOutgoingLink", err)
	checkEqual(t, "updated outgoing link", got, want)
	checkOutgoingLink(t, s, want)
	checkOutgoingLink(t, s, ab)
	checkConnection(t, s, conn)

	// The secret can be dropped and the scopes emptied.
	want.SealedSecret, want.Scopes = nil, nil
	got, err = s.UpdateOutgoingLink(ctx, "a", func(l *store.OutgoingLink) error {
		l.SealedSecret, l.Scopes = nil, nil
		return nil
	})
	must(t, "UpdateOutgoingLink dropping the secret", err)
	checkEqual(t, "outgoing link without a secret", got, want)
	checkOutgoingLink(t, s, want)

	// Renaming is refused, whether to a free or a taken name.
	for _, to := range []string{"c", "ab", ""} {
		_, err = s.UpdateOutgoingLink(ctx, "a", func(l *store.OutgoingLink) error {
			l.Name = to
			l.ClientID = "renamed"
			return nil
		})
		if err == nil {
			t.Errorf("UpdateOutgoingLink renamed a to %q", to)
		}
		if errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateOutgoingLink renaming a to %q: got %v, a link exists", to, err)
		}
	}
	checkOutgoingLink(t, s, want)
	checkOutgoingLink(t, s, ab)
	_, err = s.GetOutgoingLink(ctx, "c")
	wantErr(t, "GetOutgoingLink of the name a rename was refused to", err, store.ErrNotFound)
	list, err := s.ListOutgoingLinks(ctx)
	must(t, "ListOutgoingLinks", err)
	if len(list) != 2 {
		t.Errorf("ListOutgoingLinks after refused renames: %d links, want 2", len(list))
	}

	must(t, "DeleteOutgoingLink", s.DeleteOutgoingLink(ctx, "a"))
	_, err = s.UpdateOutgoingLink(ctx, "a", func(*store.OutgoingLink) error {
		t.Error("UpdateOutgoingLink called fn for a deleted link")
		return nil
	})
	wantErr(t, "UpdateOutgoingLink of a deleted link", err, store.ErrNotFound)
}

func testUpdateOutgoingLinkFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := newOutgoingLink("a")
	must(t, "CreateOutgoingLink", s.CreateOutgoingLink(ctx, l))
	_, err := s.UpdateOutgoingLink(ctx, l.Name, func(x *store.OutgoingLink) error {
		x.ClientID = "changed"
		x.SealedSecret = nil
		x.Mode = "per_user"
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateOutgoingLink with a failing updater: got error %v, want %v", err, errBoom)
	}
	checkOutgoingLink(t, s, l)
}

// testConcurrentUpdateOutgoingLink appends a scope to one outgoing link
// from many goroutines, each retrying on store.ErrConflict: no update may
// be lost.
func testConcurrentUpdateOutgoingLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := newOutgoingLink("a")
	must(t, "CreateOutgoingLink", s.CreateOutgoingLink(ctx, l))

	errs := make([]error, contenders)
	race(contenders, func(i int) {
		sc := fmt.Sprintf("scope-%d", i)
		for range 10 * contenders {
			_, errs[i] = s.UpdateOutgoingLink(ctx, l.Name, func(x *store.OutgoingLink) error {
				x.Scopes = append(x.Scopes, sc)
				return nil
			})
			if !errors.Is(errs[i], store.ErrConflict) {
				return
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateOutgoingLink %d: %v", i, err)
		}
	}

	got, err := s.GetOutgoingLink(ctx, l.Name)
	must(t, "GetOutgoingLink", err)
	if want := len(l.Scopes) + contenders; len(got.Scopes) != want {
		t.Errorf("link has %d scopes after %d concurrent appends, want %d", len(got.Scopes), contenders, want)
	}
	for i := range contenders {
		sc := fmt.Sprintf("scope-%d", i)
		if n := countOf(got.Scopes, sc); n != 1 {
			t.Errorf("scope %s stored %d times, want once", sc, n)
		}
	}
	want := l
	want.Scopes = got.Scopes
	checkEqual(t, "outgoing link after concurrent updates", got, want)
	if !slices.Equal(got.Scopes[:len(l.Scopes)], l.Scopes) {
		t.Errorf("original scopes changed: %v", got.Scopes[:len(l.Scopes)])
	}
}
