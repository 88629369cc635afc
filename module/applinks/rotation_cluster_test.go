package applinks_test

import (
	"context"
	"sync"
	"testing"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store/pgstore"
)

// TestClusterRotationReKeysOnce: two gateways sharing a PostgreSQL
// database start at once with the new key and the old one as previous:
// the store is re-keyed once (the second finds it done, instead of
// taking its own re-keyed check for a wrong key), both re-seal under the
// cluster lock and reach done, and the link's secret works on both
// throughout and with the new key alone afterwards.
func TestClusterRotationReKeysOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	storage := map[string]any{"backend": "postgres", "dsn": dsn}
	ctx := context.Background()
	app, unload := started(t, "", map[string]any{"storage": storage, "secret_key": oldSecretKey})
	l, sec, err := app.Links().Create(ctx, links.NewLink{Name: "jira", RedirectURIs: []string{"https://jira.example.com/cb"}, Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	unload()

	rotating := map[string]any{"storage": storage, "secret_key": rotatedSecretKey, "previous_secret_keys": []string{oldSecretKey}}
	nodes := make([]*applinks.App, 2)
	var wg sync.WaitGroup
	for i := range nodes {
		app, cancel := provisionConfig(t, "", rotating)
		t.Cleanup(cancel)
		nodes[i] = app
		wg.Go(func() {
			if err := app.Start(); err != nil {
				t.Errorf("node %d: Start: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, n := range nodes {
		authenticates(t, n, l.ClientID, sec, "during the rotation")
		s := waitDone(t, n)
		if c := counts(s)[applinks.SealedIncomingSecrets]; c.Current != 1 || c.Previous != 0 {
			t.Errorf("node %d once done: %+v", i, c)
		}
	}

	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kc, err := st.GetKeyCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(kc.Retired) != 1 {
		t.Fatalf("the key check remembers %d retired keys, want 1: the store was re-keyed more than once", len(kc.Retired))
	}
	app, unload = started(t, "", map[string]any{"storage": storage, "secret_key": rotatedSecretKey})
	authenticates(t, app, l.ClientID, sec, "with the new key alone")
	unload()
}
