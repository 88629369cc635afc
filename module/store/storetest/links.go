package storetest

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

func testLinkCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	oauth2 := newLink("bravo")
	oauth2.OAuth1 = nil
	other := createLink(t, s, oauth2)

	got, err := s.GetLink(ctx, l.ID)
	must(t, "GetLink", err)
	checkEqual(t, "GetLink", got, l)
	if got, _ := s.GetLink(ctx, other.ID); got.OAuth1 != nil {
		t.Errorf("a link without an OAuth 1.0a consumer came back with %+v", got.OAuth1)
	}

	got, err = s.GetLinkByClientID(ctx, l.ClientID)
	must(t, "GetLinkByClientID", err)
	checkEqual(t, "GetLinkByClientID", got, l)

	got, err = s.GetLinkByClientID(ctx, other.ClientID)
	must(t, "GetLinkByClientID", err)
	checkEqual(t, "GetLinkByClientID of the other link", got, other)
}

func testLinkNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))

	_, err := s.GetLink(ctx, "missing")
	wantErr(t, "GetLink", err, store.ErrNotFound)
	_, err = s.GetLinkByClientID(ctx, "missing")
	wantErr(t, "GetLinkByClientID", err, store.ErrNotFound)
	_, err = s.GetLink(ctx, l.ClientID)
	wantErr(t, "GetLink with a client id", err, store.ErrNotFound)
	_, err = s.GetLinkByClientID(ctx, l.ID)
	wantErr(t, "GetLinkByClientID with a link id", err, store.ErrNotFound)

	called := false
	_, err = s.UpdateLink(ctx, "missing", func(*store.Link) error {
		called = true
		return nil
	})
	wantErr(t, "UpdateLink", err, store.ErrNotFound)
	if called {
		t.Error("UpdateLink called fn for a missing link")
	}
	wantErr(t, "DeleteLink", s.DeleteLink(ctx, "missing"), store.ErrNotFound)

	links, err := s.ListLinks(ctx)
	must(t, "ListLinks", err)
	checkEqual(t, "ListLinks", links, []store.Link{l})
}

func testLinkDuplicates(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createLink(t, s, newLink("alpha"))

	sameID := newLink("bravo")
	sameID.ID = a.ID
	wantErr(t, "CreateLink with a taken id", s.CreateLink(ctx, sameID), store.ErrAlreadyExists)
	sameName := newLink("alpha")
	wantErr(t, "CreateLink with a taken name", s.CreateLink(ctx, sameName), store.ErrAlreadyExists)
	sameClient := newLink("charlie")
	sameClient.ClientID = a.ClientID
	wantErr(t, "CreateLink with a taken client id", s.CreateLink(ctx, sameClient), store.ErrAlreadyExists)

	// Nothing of the rejected links was written.
	got, err := s.GetLink(ctx, a.ID)
	must(t, "GetLink", err)
	checkEqual(t, "link after rejected duplicates", got, a)
	got, err = s.GetLinkByClientID(ctx, a.ClientID)
	must(t, "GetLinkByClientID", err)
	checkEqual(t, "link by client id after rejected duplicates", got, a)
	for _, l := range []store.Link{sameID, sameName} {
		_, err = s.GetLinkByClientID(ctx, l.ClientID)
		wantErr(t, "GetLinkByClientID of a rejected link", err, store.ErrNotFound)
	}
	for _, l := range []store.Link{sameName, sameClient} {
		_, err = s.GetLink(ctx, l.ID)
		wantErr(t, "GetLink of a rejected link", err, store.ErrNotFound)
	}
	links, err := s.ListLinks(ctx)
	must(t, "ListLinks", err)
	checkEqual(t, "ListLinks after rejected duplicates", links, []store.Link{a})

	// The rejected links reserved none of their ids, names and client ids.
	sameID.ID = "link-" + rand.Text()
	createLink(t, s, sameID)
	sameName.Name = "delta"
	createLink(t, s, sameName)
	sameClient.ClientID = "client-" + rand.Text()
	createLink(t, s, sameClient)
}

func testListLinksOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	links, err := s.ListLinks(ctx)
	must(t, "ListLinks", err)
	if len(links) != 0 {
		t.Fatalf("ListLinks of an empty store returned %d links", len(links))
	}

	// Insertion order, id order and name order all differ.
	var created []store.Link
	for _, l := range []struct{ id, name string }{
		{"link-1", "charlie"},
		{"link-4", "alpha"},
		{"link-2", "delta"},
		{"link-3", "bravo"},
	} {
		link := newLink(l.name)
		link.ID = l.id
		created = append(created, createLink(t, s, link))
	}
	links, err = s.ListLinks(ctx)
	must(t, "ListLinks", err)
	want := []store.Link{created[1], created[3], created[0], created[2]}
	checkEqual(t, "ListLinks", links, want)
}

func testUpdateLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	other := createLink(t, s, newLink("bravo"))
	later := l.UpdatedAt.Add(time.Minute)
	sealed := newHash()

	want := l
	want.RedirectURIs = append(slices.Clone(l.RedirectURIs), "https://alpha.example/other")
	want.Ceiling = "openid"
	want.Secrets = slices.Clone(l.Secrets)
	want.Secrets[1].ExpiresAt = later.Add(24 * time.Hour)
	want.Secrets = append(want.Secrets, store.Secret{Sealed: sealed, CreatedAt: later})
	want.RequirePKCE = false
	want.Public, want.Registered, want.Disabled = false, false, false
	want.ServiceUser = ""
	want.OAuth1 = &store.OAuth1Consumer{Callback: "https://alpha.example/cb"}
	want.LastUsedAt = later
	want.UpdatedAt = later

	got, err := s.UpdateLink(ctx, l.ID, func(x *store.Link) error {
		checkEqual(t, "link given to fn", *x, l)
		x.RedirectURIs = append(x.RedirectURIs, "https://alpha.example/other")
		x.Ceiling = "openid"
		x.Secrets[1].ExpiresAt = later.Add(24 * time.Hour)
		x.Secrets = append(x.Secrets, store.Secret{Sealed: sealed, CreatedAt: later})
		x.RequirePKCE = false
		x.Public, x.Registered, x.Disabled = false, false, false
		x.ServiceUser = ""
		x.OAuth1 = &store.OAuth1Consumer{Callback: "https://alpha.example/cb"}
		x.LastUsedAt = later
		x.UpdatedAt = later
		return nil
	})
	must(t, "UpdateLink", err)
	checkEqual(t, "link returned by UpdateLink", got, want)

	got, err = s.GetLink(ctx, l.ID)
	must(t, "GetLink", err)
	checkEqual(t, "updated link", got, want)
	got, err = s.GetLinkByClientID(ctx, l.ClientID)
	must(t, "GetLinkByClientID", err)
	checkEqual(t, "updated link by client id", got, want)
	got, err = s.GetLink(ctx, other.ID)
	must(t, "GetLink", err)
	checkEqual(t, "other link", got, other)
}

func testUpdateLinkFnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	newClient := "client-" + rand.Text()

	_, err := s.UpdateLink(ctx, l.ID, func(x *store.Link) error {
		x.Name = "renamed"
		x.ClientID = newClient
		x.RedirectURIs = nil
		x.Ceiling = "everything"
		return errBoom
	})
	wantErr(t, "UpdateLink with a failing fn", err, errBoom)

	got, err := s.GetLink(ctx, l.ID)
	must(t, "GetLink", err)
	checkEqual(t, "link after a failed update", got, l)
	got, err = s.GetLinkByClientID(ctx, l.ClientID)
	must(t, "GetLinkByClientID", err)
	checkEqual(t, "link by client id after a failed update", got, l)
	_, err = s.GetLinkByClientID(ctx, newClient)
	wantErr(t, "GetLinkByClientID of the client id of a failed update", err, store.ErrNotFound)

	// The failed update reserved neither the name nor the client id.
	renamed := newLink("renamed")
	renamed.ClientID = newClient
	createLink(t, s, renamed)
}

func testUpdateLinkRename(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createLink(t, s, newLink("alpha"))
	b := createLink(t, s, newLink("bravo"))
	newClient := "client-" + rand.Text()

	got, err := s.UpdateLink(ctx, a.ID, func(x *store.Link) error {
		x.Name = "zulu"
		x.ClientID = newClient
		return nil
	})
	must(t, "UpdateLink", err)
	want := a
	want.Name = "zulu"
	want.ClientID = newClient
	checkEqual(t, "renamed link", got, want)

	got, err = s.GetLink(ctx, a.ID)
	must(t, "GetLink", err)
	checkEqual(t, "renamed link", got, want)
	got, err = s.GetLinkByClientID(ctx, newClient)
	must(t, "GetLinkByClientID of the new client id", err)
	checkEqual(t, "renamed link by new client id", got, want)
	_, err = s.GetLinkByClientID(ctx, a.ClientID)
	wantErr(t, "GetLinkByClientID of the old client id", err, store.ErrNotFound)

	links, err := s.ListLinks(ctx)
	must(t, "ListLinks", err)
	checkEqual(t, "ListLinks after rename", links, []store.Link{b, want})

	// The old name and client id are free, the new ones are taken.
	taken := newLink("zulu")
	wantErr(t, "CreateLink with the new name", s.CreateLink(ctx, taken), store.ErrAlreadyExists)
	taken = newLink("echo")
	taken.ClientID = newClient
	wantErr(t, "CreateLink with the new client id", s.CreateLink(ctx, taken), store.ErrAlreadyExists)
	reuse := newLink("alpha")
	reuse.ClientID = a.ClientID
	createLink(t, s, reuse)
	got, err = s.GetLinkByClientID(ctx, a.ClientID)
	must(t, "GetLinkByClientID of the reused client id", err)
	checkEqual(t, "link with the reused client id", got, reuse)
}

func testUpdateLinkRenameTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createLink(t, s, newLink("alpha"))
	b := createLink(t, s, newLink("bravo"))

	_, err := s.UpdateLink(ctx, a.ID, func(x *store.Link) error {
		x.Name = b.Name
		return nil
	})
	wantErr(t, "UpdateLink to a taken name", err, store.ErrAlreadyExists)
	_, err = s.UpdateLink(ctx, a.ID, func(x *store.Link) error {
		x.ClientID = b.ClientID
		return nil
	})
	wantErr(t, "UpdateLink to a taken client id", err, store.ErrAlreadyExists)
	_, err = s.UpdateLink(ctx, a.ID, func(x *store.Link) error {
		x.Name = "charlie"
		x.ClientID = b.ClientID
		x.Ceiling = "openid"
		return nil
	})
	wantErr(t, "UpdateLink to a free name and a taken client id", err, store.ErrAlreadyExists)

	// Nothing was written.
	for _, l := range []store.Link{a, b} {
		got, err := s.GetLink(ctx, l.ID)
		must(t, "GetLink", err)
		checkEqual(t, "link after rejected renames", got, l)
		got, err = s.GetLinkByClientID(ctx, l.ClientID)
		must(t, "GetLinkByClientID", err)
		checkEqual(t, "link by client id after rejected renames", got, l)
	}
	createLink(t, s, newLink("charlie"))

	// Keeping its own name and client id is no conflict.
	got, err := s.UpdateLink(ctx, a.ID, func(x *store.Link) error {
		x.Ceiling = "openid email"
		return nil
	})
	must(t, "UpdateLink keeping name and client id", err)
	want := a
	want.Ceiling = "openid email"
	checkEqual(t, "updated link", got, want)
}

func testDeleteLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createLink(t, s, newLink("alpha"))
	b := createLink(t, s, newLink("bravo"))
	gone := []store.Issue{
		grantFor(t, s, a, "alice", longLived),
		grantFor(t, s, a, "bob", longLived),
	}
	kept := grantFor(t, s, b, "alice", longLived)

	must(t, "DeleteLink", s.DeleteLink(ctx, a.ID))

	_, err := s.GetLink(ctx, a.ID)
	wantErr(t, "GetLink of a deleted link", err, store.ErrNotFound)
	_, err = s.GetLinkByClientID(ctx, a.ClientID)
	wantErr(t, "GetLinkByClientID of a deleted link", err, store.ErrNotFound)
	for _, iss := range gone {
		_, err = s.GetGrant(ctx, iss.Grant.ID)
		wantErr(t, "GetGrant of a deleted link's grant", err, store.ErrNotFound)
		for _, tok := range iss.Tokens {
			checkTokenGone(t, s, "a deleted link's "+string(tok.Kind)+" token", tok.Hash)
		}
		_, err = s.RotateRefresh(ctx, iss.Tokens[1].Hash, func(g *store.Grant, tok *store.Token) (store.Issue, error) {
			t.Error("RotateRefresh called fn for a deleted link's grant")
			return rotate(g, tok, longLived), nil
		})
		wantErr(t, "RotateRefresh of a deleted link's token", err, store.ErrNotFound)
	}
	checkGrants(t, "grants of the deleted link", listGrants(t, s, store.GrantFilter{LinkID: a.ID}))
	checkGrants(t, "grants of alice", listGrants(t, s, store.GrantFilter{UserID: "alice"}), kept.Grant)
	checkGrants(t, "grants of bob", listGrants(t, s, store.GrantFilter{UserID: "bob"}))
	checkGrants(t, "all grants", listGrants(t, s, store.GrantFilter{}), kept.Grant)
	for _, tok := range kept.Tokens {
		checkLookup(t, s, tok, kept.Grant)
	}
	links, err := s.ListLinks(ctx)
	must(t, "ListLinks", err)
	checkEqual(t, "ListLinks after DeleteLink", links, []store.Link{b})
	wantErr(t, "DeleteLink of a deleted link", s.DeleteLink(ctx, a.ID), store.ErrNotFound)

	// The id, name and client id are free again, and the new link does
	// not inherit the old grants.
	again := newLink("alpha")
	again.ID = a.ID
	again.ClientID = a.ClientID
	createLink(t, s, again)
	got, err := s.GetLinkByClientID(ctx, a.ClientID)
	must(t, "GetLinkByClientID", err)
	checkEqual(t, "re-created link", got, again)
	checkGrants(t, "grants of the re-created link", listGrants(t, s, store.GrantFilter{LinkID: a.ID}))
}
