package storetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// testCreateGrant stores a grant with an access token only, as the
// client_credentials grant issues it, and reads both back.
func testCreateGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := createLink(t, s, newLink("alpha"))
	n := now()
	g := store.Grant{
		ID: "grant-" + rand.Text(), LinkID: l.ID, ClientID: l.ClientID, UserID: "svc-alpha", Scope: "WRITE",
		AuthTime: n, Generation: 1, CreatedAt: n, UpdatedAt: n, ExpiresAt: n.Add(time.Hour),
	}
	access := store.Token{Hash: newHash(), Kind: store.AccessToken, GrantID: g.ID, Generation: 1, Scope: "WRITE", IssuedAt: n, ExpiresAt: n.Add(time.Hour)}
	must(t, "CreateGrant", s.CreateGrant(ctx, store.Issue{Grant: g, Tokens: []store.Token{access}}))
	checkLookup(t, s, access, g)
	got, err := s.GetGrant(ctx, g.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "created grant", got, g)
	checkGrants(t, "grants of the link", listGrants(t, s, store.GrantFilter{LinkID: l.ID}), g)
	must(t, "DeleteLink", s.DeleteLink(ctx, l.ID))
	checkTokenGone(t, s, "a token of a deleted link's grant", access.Hash)
}
