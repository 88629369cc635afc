package applinks_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
)

const rotatedSecretKey = "the secret_key the data directory is rotated to"

// started starts a configuration of the app on dir with options and
// unloads it when the test ends or unload is called.
func started(t *testing.T, dir string, options map[string]any) (app *applinks.App, unload func()) {
	t.Helper()
	app, cancel := provisionConfig(t, dir, options)
	if err := app.Start(); err != nil {
		cancel()
		t.Fatalf("Start with %v: %v", keyOptions(options), err)
	}
	return app, cancel
}

// keyOptions names the key options given, never their values.
func keyOptions(options map[string]any) []string {
	var names []string
	for k := range options {
		names = append(names, k)
	}
	return names
}

// waitDone polls the app's at-rest status until a pass found nothing
// left to re-seal, and returns the status.
func waitDone(t *testing.T, app *applinks.App) applinks.AtRestStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := app.AtRestStatus(context.Background(), time.Now())
		if err != nil {
			t.Fatalf("AtRestStatus: %v", err)
		}
		if s.Done {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the re-seal is not done after 20s: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counts returns the status's counts by kind.
func counts(s applinks.AtRestStatus) map[string]applinks.SealedCount {
	m := map[string]applinks.SealedCount{}
	for _, c := range s.Records {
		m[c.Kind] = c
	}
	return m
}

// authenticates fails the test unless the link's client authenticates
// with sec at app.
func authenticates(t *testing.T, app *applinks.App, clientID, sec, when string) {
	t.Helper()
	if _, err := app.Links().Authenticate(context.Background(), clientID, sec); err != nil {
		t.Fatalf("%s, the runtime link's client does not authenticate: %v", when, err)
	}
}

// TestSecretKeyRotation: a gateway restarted with a new secret_key and the
// old one as previous_secret_key starts at once (the store is re-keyed
// before anything is sealed with the new key), its runtime link's secret
// and signing key work from the first request, and the background pass
// re-seals them so that the new key alone then starts with the same
// signing key. Starting with the old key alone afterwards, or with the
// keys swapped, is refused with a sentence saying the data was re-keyed;
// another key is refused as before, saying how to rotate.
func TestSecretKeyRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	app, unload := started(t, dir, map[string]any{"secret_key": oldSecretKey})
	l, sec, err := app.Links().Create(ctx, links.NewLink{Name: "jira", RedirectURIs: []string{"https://jira.example.com/cb"}, Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := app.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	kid := keyring.JWKS().Keys[0].KeyID
	if s, err := app.AtRestStatus(ctx, time.Now()); err != nil || s.PreviousKeys != 0 || s.CanRemovePrevious || !strings.Contains(s.Statement, "No previous at-rest key") {
		t.Fatalf("status outside a rotation: %+v, %v", s, err)
	}
	unload()

	began := time.Now()
	app, unload = started(t, dir, map[string]any{"secret_key": rotatedSecretKey, "previous_secret_keys": []string{oldSecretKey}})
	authenticates(t, app, l.ClientID, sec, "right after the restart with the new key")
	s := waitDone(t, app)
	c := counts(s)
	if c[applinks.SealedIncomingSecrets] != (applinks.SealedCount{Kind: applinks.SealedIncomingSecrets, Current: 1}) ||
		c[applinks.SealedSigningKeys] != (applinks.SealedCount{Kind: applinks.SealedSigningKeys, Current: 1}) {
		t.Errorf("counts once done: %+v, want the link's secret and the signing key under the current key", s.Records)
	}
	if s.RekeyedAt.Before(began.Add(-time.Second)) || s.RekeyedAt.After(time.Now()) {
		t.Errorf("the rotation began at %v, want the restart's time (%v)", s.RekeyedAt, began)
	}
	if s.CanRemovePrevious || !strings.Contains(s.Statement, "pending outgoing authorizations") {
		t.Errorf("right after the rotation, the status says the previous key can go: %v %q", s.CanRemovePrevious, s.Statement)
	}
	later, err := app.AtRestStatus(ctx, s.RekeyedAt.Add(11*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !later.CanRemovePrevious || !strings.HasPrefix(later.Statement, "Yes") {
		t.Errorf("once short-lived values have expired, the status says %v %q; want that the previous key can go", later.CanRemovePrevious, later.Statement)
	}
	unload()

	app, unload = started(t, dir, map[string]any{"secret_key": rotatedSecretKey})
	authenticates(t, app, l.ClientID, sec, "with the new key alone")
	if keyring, err = app.Keyring(); err != nil || keyring.JWKS().Keys[0].KeyID != kid {
		t.Fatalf("with the new key alone the signing key is %v (%v), want the original %s", keyring.JWKS().Keys, err, kid)
	}
	unload()

	rekeyed := []string{"was re-keyed on", "from the at-rest key configured now to another one", "configure the new key (it is a secret_key: set secret_key to it)", "keep this one as previous_secret_key"}
	refusedRekeyed(t, dir, map[string]any{"secret_key": oldSecretKey}, rekeyed...)
	refusedRekeyed(t, dir, map[string]any{"secret_key": oldSecretKey, "previous_secret_keys": []string{rotatedSecretKey}}, rekeyed...)
	refusedStart(t, dir, map[string]any{"secret_key": newSecretKey, "previous_secret_keys": []string{oldSecretKey}},
		"sealed with a different secret_key than the one configured now", "none of the previous keys configured sealed it either")
	refusedStart(t, dir, map[string]any{"secret_key": newSecretKey}, "to rotate to the key configured now, keep the key that sealed the data as previous_secret_key")

	app, unload = started(t, dir, map[string]any{"secret_key": rotatedSecretKey})
	authenticates(t, app, l.ClientID, sec, "after the refused starts")
	unload()
}

// TestKeyFileToSecretKeyAndBack: moving from the generated key file to a
// secret_key is a rotation (the file as previous_key_file), and so is
// moving back to a new key file (the secret_key as previous_secret_key:
// the file is generated and sealed with); each time the link's secret
// works throughout and the new key alone starts afterwards.
func TestKeyFileToSecretKeyAndBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := dir + ".key"
	ctx := context.Background()
	app, unload := started(t, dir, nil)
	l, sec, err := app.Links().Create(ctx, links.NewLink{Name: "jira", RedirectURIs: []string{"https://jira.example.com/cb"}, Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	unload()

	old := filepath.Join(t.TempDir(), "applinks.key.old")
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, key, 0o600); err != nil {
		t.Fatal(err)
	}
	app, unload = started(t, dir, map[string]any{"secret_key": rotatedSecretKey, "previous_key_files": []string{old}})
	authenticates(t, app, l.ClientID, sec, "with secret_key and the old key file as previous_key_file")
	waitDone(t, app)
	unload()
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	app, unload = started(t, dir, map[string]any{"secret_key": rotatedSecretKey})
	authenticates(t, app, l.ClientID, sec, "with the secret_key alone")
	unload()

	// Back to a key file: none exists, so one is generated.
	app, unload = started(t, dir, map[string]any{"previous_secret_keys": []string{rotatedSecretKey}})
	authenticates(t, app, l.ClientID, sec, "with a new key file and the secret_key as previous_secret_key")
	waitDone(t, app)
	unload()
	app, unload = started(t, dir, nil)
	authenticates(t, app, l.ClientID, sec, "with the new key file alone")
	unload()
	refusedRekeyed(t, dir, map[string]any{"secret_key": rotatedSecretKey}, "was re-keyed on", "configure the new key (it is the key file "+keyFile+": remove secret_key")
}

// TestPreviousKeyErrors: a previous key that is the current one (the old
// value left in secret_key, or the key file that is in use), one given
// twice, and a previous key file that does not exist are refused when the
// configuration is loaded, naming the option and never the key.
func TestPreviousKeyErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, unload := started(t, dir, nil)
	unload()
	for _, c := range []struct {
		name    string
		options map[string]any
		want    string
	}{
		{"previous_secret_key equal to secret_key", map[string]any{"secret_key": oldSecretKey, "previous_secret_keys": []string{rotatedSecretKey, oldSecretKey}}, "previous_secret_key 2 is the at-rest key in use"},
		{"previous_secret_key twice", map[string]any{"secret_key": oldSecretKey, "previous_secret_keys": []string{rotatedSecretKey, rotatedSecretKey}}, "previous_secret_key 2 is given twice"},
		{"the key file in use as previous_key_file", map[string]any{"previous_key_files": []string{dir + ".key"}}, "previous_key_file " + dir + ".key is the at-rest key in use"},
		{"a missing previous_key_file", map[string]any{"secret_key": oldSecretKey, "previous_key_files": []string{dir + ".missing"}}, "previous_key_file " + dir + ".missing does not exist"},
		{"a short previous_secret_key", map[string]any{"secret_key": oldSecretKey, "previous_secret_keys": []string{"short"}}, "previous_secret_key 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := provisionErr(t, dir, c.options)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("provisioning: %v, want an error saying %q", err, c.want)
			}
			previous, _ := c.options["previous_secret_keys"].([]string)
			for _, v := range previous {
				if len(v) >= 32 && strings.Contains(err.Error(), v) {
					t.Fatalf("the error shows a key: %v", err)
				}
			}
		})
	}
}

// refusedRekeyed starts a configuration of the app on dir with options,
// expects ErrWrongKey saying the store was re-keyed, with every one of
// want, and unloads it.
func refusedRekeyed(t *testing.T, dir string, options map[string]any, want ...string) {
	t.Helper()
	app, unload := provisionConfig(t, dir, options)
	defer unload()
	err := app.Start()
	if !errors.Is(err, applinks.ErrWrongKey) {
		t.Fatalf("Start with a key the store was re-keyed from: got %v, want ErrWrongKey", err)
	}
	for _, w := range append(want, dir) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the start-up error does not say %q:\n%v", w, err)
		}
	}
}

// provisionErr provisions the app with options and returns the error.
func provisionErr(t *testing.T, dir string, options map[string]any) error {
	t.Helper()
	base, err := caddy.ProvisionContext(&caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(base)
	defer cancel()
	config := map[string]any{"storage": map[string]any{"backend": "badger", "dir": dir}}
	for k, v := range options {
		config[k] = v
	}
	raw, _ := json.Marshal(config)
	_, err = ctx.LoadModuleByID("applinks", raw)
	return err
}
