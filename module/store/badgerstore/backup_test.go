package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// TestBackupRestoresEveryRecord: a backup taken while the store is in use
// restores into a new store with its records, their index entries and
// expiry; a store that already holds a gateway refuses a restore.
func TestBackupRestoresEveryRecord(t *testing.T) {
	ctx := context.Background()
	src := newStore(t).(*Store)
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := store.Link{ID: "link-1", Name: "app", ClientID: "client-1", Ceiling: "WRITE", RedirectURIs: []string{"https://app.example/cb"}, CreatedAt: now, UpdatedAt: now}
	if err := src.CreateLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	g := store.Grant{ID: "grant-1", LinkID: l.ID, ClientID: l.ClientID, UserID: "alice", Scope: "WRITE", Generation: 1, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	tok := store.Token{Hash: bytes.Repeat([]byte{7}, 32), Kind: store.AccessToken, GrantID: g.ID, Generation: 1, Scope: "WRITE", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := src.ImportGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := src.ImportToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateKeyCheck(ctx, store.KeyCheck{Kind: store.KeyKindFile, MAC: []byte("mac"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if err := src.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}

	dst := newStore(t).(*Store)
	if err := dst.Restore(ctx, bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, err := dst.GetLinkByClientID(ctx, l.ClientID); err != nil || got.ID != l.ID {
		t.Fatalf("link by client id after restore: %+v %v", got, err)
	}
	if gotTok, gotGrant, err := dst.LookupToken(ctx, tok.Hash); err != nil || gotGrant.ID != g.ID || !gotTok.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("token after restore: %+v %+v %v", gotTok, gotGrant, err)
	}
	if gs, err := dst.ListGrants(ctx, store.GrantFilter{UserID: "alice"}); err != nil || len(gs) != 1 {
		t.Fatalf("grants of alice after restore: %v %v", gs, err)
	}
	if err := dst.Restore(ctx, bytes.NewReader(backup.Bytes())); !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("restore into a store that holds a gateway: %v, want %v", err, store.ErrNotEmpty)
	}
}
