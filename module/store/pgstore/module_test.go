package pgstore

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	_ "github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/store"
)

// caddyContext returns a Caddy context, cancelled when the test ends.
func caddyContext(t *testing.T) caddy.Context {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

// TestProvision: the DSN's placeholders are resolved and an unset one is
// an error; Location shows no password; key_file is made absolute.
func TestProvision(t *testing.T) {
	ctx := caddyContext(t)
	t.Setenv("APPLINKS_TEST_PG_DSN", "postgres://alice:hunter2@db.example:6432/applinks?sslmode=disable&pool_max_conns=9")
	s := &Storage{DSN: "{env.APPLINKS_TEST_PG_DSN}"}
	if err := s.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if s.dsn != "postgres://alice:hunter2@db.example:6432/applinks?sslmode=disable&pool_max_conns=9" {
		t.Errorf("dsn %q: the placeholder is not resolved", s.dsn)
	}
	if got, want := s.Location(), "alice@db.example:6432/applinks"; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if s.KeyFile() != "" {
		t.Errorf("KeyFile %q without key_file, want none", s.KeyFile())
	}
	if id := s.CaddyModule().ID; id != "applinks.storage.postgres" {
		t.Errorf("module id %q", id)
	}

	withKey := &Storage{DSN: "postgres://alice@db.example/applinks", KeyFilePath: "keys/applinks.key"}
	if err := withKey.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs("keys/applinks.key"); withKey.KeyFile() != want {
		t.Errorf("KeyFile %q, want %q", withKey.KeyFile(), want)
	}

	for _, bad := range []*Storage{
		{},
		{DSN: "{env.APPLINKS_TEST_PG_UNSET}"},
		{DSN: "postgres://alice:hunter2@db.example/applinks?pool_max_conns=none"},
	} {
		err := bad.Provision(ctx)
		if err == nil {
			t.Errorf("Provision of dsn %q succeeded", bad.DSN)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Provision's error shows the password: %v", err)
		}
	}
}

// TestPoolSharing: two config generations on one DSN share one store,
// which is closed once both are cleaned up.
func TestPoolSharing(t *testing.T) {
	ctx := caddyContext(t)
	dsn := pgtest.DSN(t)
	provision := func() *Storage {
		s := &Storage{DSN: dsn}
		if err := s.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	oldGen, newGen := provision(), provision()
	st1, err := oldGen.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := newGen.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st1 != st2 {
		t.Fatal("the two generations got different stores")
	}
	if n, ok := pool.References(dsn); !ok || n != 2 {
		t.Fatalf("pool references: got %d, %v; want 2", n, ok)
	}
	if err := st1.PutUser(ctx, store.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := oldGen.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.GetUser(ctx, "alice"); err != nil {
		t.Fatalf("GetUser after the old generation's Cleanup: %v", err)
	}
	if err := newGen.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := pool.References(dsn); ok {
		t.Fatal("store still in the pool after both Cleanups")
	}
	if err := newGen.Cleanup(); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
}

// TestUnmarshalCaddyfile: storage postgres <dsn> { key_file <path> }.
func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in           string
		dsn, keyFile string
		wantErr      string
	}{
		{in: "postgres {env.APPLINKS_DSN}", dsn: "{env.APPLINKS_DSN}"},
		{in: "postgres postgres://db/applinks {\n\tkey_file /etc/caddy/applinks.key\n}", dsn: "postgres://db/applinks", keyFile: "/etc/caddy/applinks.key"},
		{in: "postgres", wantErr: "wrong argument count"},
		{in: "postgres a b", wantErr: "wrong argument count"},
		{in: "postgres a {\n\tkey_file\n}", wantErr: "wrong argument count"},
		{in: "postgres a {\n\tkey_fil /k\n}", wantErr: `did you mean "key_file"?`},
	} {
		var s Storage
		err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: got error %v, want %q", tc.in, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case s.DSN != tc.dsn || s.KeyFilePath != tc.keyFile:
			t.Errorf("%q: got dsn %q, key_file %q; want %q, %q", tc.in, s.DSN, s.KeyFilePath, tc.dsn, tc.keyFile)
		}
	}
}

// TestAppNeedsKey: the app on postgres storage without secret_key or
// key_file refuses the configuration, saying what it needs, before it
// connects.
func TestAppNeedsKey(t *testing.T) {
	cfg := map[string]any{"apps": map[string]any{"applinks": map[string]any{
		"storage": map[string]any{"backend": "postgres", "dsn": "postgres://alice@db.invalid/applinks"},
	}}}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var c caddy.Config
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	err = caddy.Validate(&c)
	const want = "postgres storage needs secret_key (the same on every node) or key_file"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate: got %v, want an error saying %q", err, want)
	}
}
