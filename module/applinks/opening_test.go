package applinks_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/scope"
	_ "github.com/applinks/caddy-applinks/module/store/badgerstore"
	"github.com/applinks/caddy-applinks/module/users"
)

// provision provisions the applinks app on the Badger directory dir in a
// context of its own, as a config load does, and returns the app and the
// function that unloads it (Cleanup of its modules).
func provision(t *testing.T, dir string) (*applinks.App, context.CancelFunc) {
	t.Helper()
	return provisionConfig(t, dir, nil)
}

// provisionConfig is provision with more app options, e.g. secret_key.
func provisionConfig(t *testing.T, dir string, options map[string]any) (*applinks.App, context.CancelFunc) {
	t.Helper()
	base, err := caddy.ProvisionContext(&caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(base)
	t.Cleanup(cancel)
	config := map[string]any{"storage": map[string]any{"backend": "badger", "dir": dir}}
	for k, v := range options {
		config[k] = v
	}
	raw, _ := json.Marshal(config)
	mod, err := ctx.LoadModuleByID("applinks", raw)
	if err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return mod.(*applinks.App), cancel
}

// TestProvisionOpensNothingUntilUsed: provisioning alone (caddy validate)
// used to take Badger's exclusive lock and write the data folder and key
// file; now nothing is on disk until the store is first used, by a
// request that comes before Start as well as by Start, and a config
// provisioned beside a running one (a reload) shares its open database.
func TestProvisionOpensNothingUntilUsed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	running, unload := provision(t, dir)
	for _, p := range []string{dir, dir + ".key"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("Provision made %s (stat: %v)", p, err)
		}
	}
	// A request before Start: apps start in no fixed order.
	if _, _, err := running.SaveUser(context.Background(), "alice", users.Change{Password: "alice-password", Role: scope.Read}, "test"); err != nil {
		t.Fatalf("store use before Start: %v", err)
	}
	for _, p := range []string{dir, dir + ".key"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("first use did not make %s: %v", p, err)
		}
	}
	if err := running.Start(); err != nil {
		t.Fatalf("Start after first use: %v", err)
	}
	if _, err := running.Keyring(); err != nil {
		t.Fatalf("Keyring: %v", err)
	}

	// The next config generation: provisioned and started while the
	// first runs, then the first is unloaded.
	next, _ := provision(t, dir)
	if err := next.Start(); err != nil {
		t.Fatalf("Start of a second generation on the open directory: %v", err)
	}
	unload()
	if _, err := next.Users().Stored(context.Background(), "alice"); err != nil {
		t.Fatalf("the second generation lost the database when the first was unloaded: %v", err)
	}
	// The unloaded generation opens nothing again.
	stale, unloadStale := provision(t, filepath.Join(t.TempDir(), "other"))
	unloadStale()
	if err := stale.Start(); err == nil {
		t.Fatal("an unloaded configuration opened its store")
	}
}
