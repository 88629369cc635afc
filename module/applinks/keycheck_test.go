package applinks_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store/badgerstore"
)

const (
	oldSecretKey = "the secret_key the data directory was sealed with"
	newSecretKey = "another secret_key, typed into the config by mistake"
)

// startedKID starts a configuration of the app on dir with options,
// returns the id of its signing key and unloads it.
func startedKID(t *testing.T, dir string, options map[string]any) string {
	t.Helper()
	app, unload := provisionConfig(t, dir, options)
	defer unload()
	if err := app.Start(); err != nil {
		t.Fatalf("Start with the key the data directory was sealed with: %v", err)
	}
	keyring, err := app.Keyring()
	if err != nil {
		t.Fatalf("Keyring: %v", err)
	}
	return keyring.JWKS().Keys[0].KeyID
}

// refusedStart starts a configuration of the app on dir with options,
// expects ErrWrongKey with a message holding every one of want, and
// unloads it.
func refusedStart(t *testing.T, dir string, options map[string]any, want ...string) {
	t.Helper()
	app, unload := provisionConfig(t, dir, options)
	defer unload()
	err := app.Start()
	if !errors.Is(err, applinks.ErrWrongKey) {
		t.Fatalf("Start with a wrong at-rest key: got %v, want ErrWrongKey", err)
	}
	for _, w := range append(want, dir, "start with an empty one") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the start-up error does not say %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "cipher") || strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("the start-up error is a bare decryption failure:\n%v", err)
	}
	if _, err := app.Keyring(); !errors.Is(err, applinks.ErrWrongKey) {
		t.Errorf("the store opened on a later use with the wrong key: %v", err)
	}
}

// checkNoKeyFile fails the test if path exists.
func checkNoKeyFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused start wrote the key file %s (stat: %v)", path, err)
	}
}

// TestChangedSecretKeyStopsStartWithoutWriting: a gateway restarted with a
// different secret_key, or with secret_key removed, used to run on and fail
// later with a bare AES-GCM error, and could seal new records with the
// wrong key; now Start stops with one sentence naming the data directory
// and the fix, writes nothing, and the previous secret_key starts again
// with the same signing key.
func TestChangedSecretKeyStopsStartWithoutWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	kid := startedKID(t, dir, map[string]any{"secret_key": oldSecretKey})

	refusedStart(t, dir, map[string]any{"secret_key": newSecretKey},
		"sealed with a different secret_key than the one configured now", "restore the previous secret_key")
	refusedStart(t, dir, nil,
		"sealed with a secret_key, but no secret_key is configured now", "set the previous secret_key again")
	checkNoKeyFile(t, dir+".key")

	if got := startedKID(t, dir, map[string]any{"secret_key": oldSecretKey}); got != kid {
		t.Fatalf("the right secret_key starts with signing key %s, want the original %s: a refused start wrote one", got, kid)
	}
}

// TestReplacedKeyFileStopsStartWithoutWriting: a key file replaced by
// another key (a restore from the wrong backup, a regenerated file) or
// lost, so that a new one would be generated, used to give a bare
// decryption failure later and to write the new key file; now Start stops
// with one sentence naming the data directory, the key file and the fix,
// writes nothing (the key file is left as found), and the original file
// starts again.
func TestReplacedKeyFileStopsStartWithoutWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := dir + ".key"
	kid := startedKID(t, dir, nil)
	original, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	replaced := make([]byte, 32)
	_, _ = rand.Read(replaced)
	if err := os.WriteFile(keyFile, replaced, 0o600); err != nil {
		t.Fatal(err)
	}
	refusedStart(t, dir, nil,
		"sealed with a different key than the key file "+keyFile+" holds now", "restore "+keyFile+" from the backup")
	if got, _ := os.ReadFile(keyFile); !bytes.Equal(got, replaced) {
		t.Fatal("a refused start changed the key file")
	}
	refusedStart(t, dir, map[string]any{"secret_key": newSecretKey},
		"sealed with the key file "+keyFile+", but a secret_key is configured now", "remove secret_key")

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	refusedStart(t, dir, nil, "sealed with the key file "+keyFile+", which is missing", "restore "+keyFile)
	checkNoKeyFile(t, keyFile)

	if err := os.WriteFile(keyFile, original, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := startedKID(t, dir, nil); got != kid {
		t.Fatalf("the original key file starts with signing key %s, want the original %s", got, kid)
	}
}

// TestUpgradedStoreWithWrongKeyStopsStart: a data directory written before
// key checks existed holds sealed signing keys but no check; opening it
// with another key used to fail with a bare decryption failure, and must
// not record that key as the right one. Now Start stops with the same
// kind of sentence, and the right key starts and records the check, so
// that the wrong key is then named precisely.
func TestUpgradedStoreWithWrongKeyStopsStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := badgerstore.Open(dir, badgerstore.Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.FromPassphrase(oldSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := signing.New(context.Background(), st, keys, signing.ES256, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	kid := keyring.JWKS().Keys[0].KeyID
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	refusedStart(t, dir, map[string]any{"secret_key": newSecretKey},
		"sealed with a different key than the secret_key configured now", "restore the previous secret_key")
	refusedStart(t, dir, nil, "sealed with a different key than the key file "+dir+".key", "set the secret_key that sealed it")
	checkNoKeyFile(t, dir+".key")

	if got := startedKID(t, dir, map[string]any{"secret_key": oldSecretKey}); got != kid {
		t.Fatalf("the right secret_key starts with signing key %s, want the original %s", got, kid)
	}
	refusedStart(t, dir, map[string]any{"secret_key": newSecretKey},
		"sealed with a different secret_key than the one configured now")
}
