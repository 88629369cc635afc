package storetest

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// newConsumerIdentity returns a consumer identity with every field set.
func newConsumerIdentity() store.ConsumerIdentity {
	return store.ConsumerIdentity{Key: "applinks:" + rand.Text(), Sealed: []byte("sealed-" + rand.Text()), CreatedAt: now()}
}

// testConsumerIdentity: the gateway's consumer identity is stored once,
// read back as written, and never replaced.
func testConsumerIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetConsumerIdentity(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConsumerIdentity of an empty store: got %v, want ErrNotFound", err)
	}
	first := newConsumerIdentity()
	must(t, "CreateConsumerIdentity", s.CreateConsumerIdentity(ctx, first))
	got, err := s.GetConsumerIdentity(ctx)
	must(t, "GetConsumerIdentity", err)
	checkEqual(t, "GetConsumerIdentity", got, first)

	other := newConsumerIdentity()
	wantErr(t, "CreateConsumerIdentity over an existing one", s.CreateConsumerIdentity(ctx, other), store.ErrAlreadyExists)
	got, err = s.GetConsumerIdentity(ctx)
	must(t, "GetConsumerIdentity after the refused create", err)
	checkEqual(t, "GetConsumerIdentity after the refused create", got, first)

	updated, err := s.UpdateConsumerIdentity(ctx, func(c *store.ConsumerIdentity) error {
		c.Sealed = []byte("sealed again")
		return nil
	})
	must(t, "UpdateConsumerIdentity", err)
	want := first
	want.Sealed = []byte("sealed again")
	checkEqual(t, "UpdateConsumerIdentity's result", updated, want)
	got, err = s.GetConsumerIdentity(ctx)
	must(t, "GetConsumerIdentity after the update", err)
	checkEqual(t, "GetConsumerIdentity after the update", got, want)
	stop := errors.New("updater refused")
	_, err = s.UpdateConsumerIdentity(ctx, func(c *store.ConsumerIdentity) error {
		c.Sealed = []byte("never written")
		return stop
	})
	wantErr(t, "UpdateConsumerIdentity whose updater fails", err, stop)
	if _, err := s.UpdateConsumerIdentity(ctx, func(c *store.ConsumerIdentity) error {
		c.Key = "applinks:other"
		return nil
	}); err == nil {
		t.Error("UpdateConsumerIdentity changed the consumer key")
	}
	got, err = s.GetConsumerIdentity(ctx)
	must(t, "GetConsumerIdentity after refused updates", err)
	checkEqual(t, "GetConsumerIdentity after refused updates", got, want)
}

// testUpdateConsumerIdentityMissing: there is nothing to update in a
// store without a consumer identity.
func testUpdateConsumerIdentityMissing(t *testing.T, s store.Store) {
	_, err := s.UpdateConsumerIdentity(t.Context(), func(*store.ConsumerIdentity) error { return nil })
	wantErr(t, "UpdateConsumerIdentity of an empty store", err, store.ErrNotFound)
}

// testConcurrentCreateConsumerIdentity: of gateways creating the consumer
// identity at once, one wins and the others are told it exists; the
// winner's is the one kept.
func testConcurrentCreateConsumerIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := make([]store.ConsumerIdentity, contenders)
	errs := make([]error, contenders)
	for i := range ids {
		ids[i] = newConsumerIdentity()
	}
	race(contenders, func(i int) {
		errs[i] = s.CreateConsumerIdentity(ctx, ids[i])
	})
	w := checkOneWinner(t, "concurrent CreateConsumerIdentity", errs, store.ErrAlreadyExists)
	got, err := s.GetConsumerIdentity(ctx)
	must(t, "GetConsumerIdentity", err)
	checkEqual(t, "consumer identity", got, ids[w])
}

// newOAuth1OutgoingLink returns a runtime OAuth 1.0a outgoing link: no
// provider, client id or secret.
func newOAuth1OutgoingLink(name string) store.OutgoingLink {
	return store.OutgoingLink{
		Name:      name,
		OAuth1:    &store.OutgoingOAuth1{ApplicationURL: "https://jira.example.com/jira", ConsumerKey: "gw-" + name},
		Mode:      "per_user",
		CreatedAt: now().Add(-time.Hour),
		CreatedBy: "sam",
	}
}

// testOAuth1OutgoingLinks: an OAuth 1.0a outgoing link round-trips
// without a provider, lists beside OAuth 2.0 links, and its settings can
// be changed, the consumer key dropped, and the link made an OAuth 2.0
// one and back.
func testOAuth1OutgoingLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	jira, drive := newOAuth1OutgoingLink("jira"), newOutgoingLink("drive")
	must(t, "CreateOutgoingLink jira", s.CreateOutgoingLink(ctx, jira))
	must(t, "CreateOutgoingLink drive", s.CreateOutgoingLink(ctx, drive))
	checkOutgoingLink(t, s, jira)
	checkOutgoingLink(t, s, drive)
	list, err := s.ListOutgoingLinks(ctx)
	must(t, "ListOutgoingLinks", err)
	checkEqual(t, "ListOutgoingLinks", list, []store.OutgoingLink{drive, jira})

	want := jira
	want.OAuth1 = &store.OutgoingOAuth1{ApplicationURL: "https://jira2.example.com"}
	want.Mode = "shared"
	got, err := s.UpdateOutgoingLink(ctx, "jira", func(l *store.OutgoingLink) error {
		checkEqual(t, "OAuth 1.0a link given to the updater", *l, jira)
		l.OAuth1.ApplicationURL, l.OAuth1.ConsumerKey, l.Mode = want.OAuth1.ApplicationURL, "", want.Mode
		return nil
	})
	must(t, "UpdateOutgoingLink jira", err)
	checkEqual(t, "updated OAuth 1.0a link", got, want)
	checkOutgoingLink(t, s, want)

	// Without its OAuth 1.0a settings, the link is an OAuth 2.0 one.
	want.OAuth1, want.Provider, want.ClientID = nil, drive.Provider, "cid"
	_, err = s.UpdateOutgoingLink(ctx, "jira", func(l *store.OutgoingLink) error {
		l.OAuth1, l.Provider, l.ClientID = nil, drive.Provider, "cid"
		return nil
	})
	must(t, "UpdateOutgoingLink dropping OAuth 1.0a", err)
	checkOutgoingLink(t, s, want)
}
