package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

const sealingSecretKey = "the-secret_key-this-data-directory-was-sealed-with"

// loadBare loads a minimal gateway on dir with the extra applinks lines
// and returns the error of the load.
func loadBare(t *testing.T, dir, extra string) error {
	t.Helper()
	cfg := fmt.Sprintf(`{
	admin localhost:2999
	http_port %d
	https_port 9443
	grace_period 1ns
	applinks {
		storage badger %s
		%s
	}
}
:%d {
	applinks
}
`, httpPort, dir, extra, httpPort)
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return caddy.Load(adapted, true)
}

// TestChangedSecretKeyStopsCaddyStart: Caddy restarted with another
// secret_key used to start and fail on the first token or sign-in with a
// bare "cipher: message authentication failed"; now the config load fails
// with one sentence naming the data directory and the fix, no key file is
// written beside it, and the previous secret_key starts with the data
// intact.
func TestChangedSecretKeyStopsCaddyStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startGateway(t, gatewayOptions{dir: dir, extraGlobal: "secret_key " + sealingSecretKey})
	g.unload()

	err := loadBare(t, dir, "secret_key another-secret_key-that-seals-nothing-here")
	if err == nil {
		t.Fatal("the gateway started with a different secret_key")
	}
	for _, want := range []string{dir, "sealed with a different secret_key than the one configured now", "restore the previous secret_key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not say %q", err, want)
		}
	}
	if err := loadBare(t, dir, ""); err == nil || !strings.Contains(err.Error(), "no secret_key is configured now") {
		t.Errorf("the gateway without its secret_key: got %v, want the missing secret_key named", err)
	}
	if _, err := os.Stat(dir + ".key"); !os.IsNotExist(err) {
		t.Errorf("a refused start wrote the key file (stat: %v)", err)
	}

	startGateway(t, gatewayOptions{dir: dir, extraGlobal: "secret_key " + sealingSecretKey})
}

// TestReplacedKeyFileStopsCaddyStart: a key file replaced by another key
// (restored from another machine's backup) used to let the gateway start
// and fail later with a bare decryption error; now the config load fails
// naming the data directory, the key file and the backup to restore it
// from, and leaves the file as it found it.
func TestReplacedKeyFileStopsCaddyStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := dir + ".key"
	g := startGateway(t, gatewayOptions{dir: dir})
	g.unload()
	original, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	other := []byte(strings.Repeat("k", 32))
	if err := os.WriteFile(keyFile, other, 0o600); err != nil {
		t.Fatal(err)
	}

	err = loadBare(t, dir, "")
	if err == nil {
		t.Fatal("the gateway started with a replaced key file")
	}
	for _, want := range []string{dir, "different key than the key file " + keyFile + " holds now", "restore " + keyFile + " from the backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not say %q", err, want)
		}
	}
	if got, _ := os.ReadFile(keyFile); string(got) != string(other) {
		t.Error("a refused start changed the key file")
	}

	if err := os.WriteFile(keyFile, original, 0o600); err != nil {
		t.Fatal(err)
	}
	startGateway(t, gatewayOptions{dir: dir})
}
