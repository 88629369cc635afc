package admin

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore"
)

// TestMigrateStoreBetweenBadgerDirectories: migrate-store opens both
// storages from their Caddyfile syntax and copies the records across.
func TestMigrateStoreBetweenBadgerDirectories(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	src, err := badgerstore.Open(from, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	l := store.Link{ID: "link-1", Name: "app", ClientID: "client-1", Ceiling: "READ", CreatedAt: now, UpdatedAt: now}
	if err := src.CreateLink(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := migrateStore(context.Background(), output{w: &out}, "badger "+from, "badger "+to+" {\n\tsync_writes\n}"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Copied "+from+" to "+to) || !strings.Contains(out.String(), "link") {
		t.Errorf("migrate-store printed:\n%s", out.String())
	}
	dst, err := badgerstore.Open(to, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if got, err := dst.GetLink(context.Background(), l.ID); err != nil || got.Name != l.Name {
		t.Errorf("the copied link: %+v, %v", got, err)
	}
}
