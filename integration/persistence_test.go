package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
)

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// TestRestartPersistence: links, grants and tokens survive stopping the app
// (Badger closed) and starting it again on the same directory.
func TestRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{dir: dir})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	runtime, sec, err := g.app().Links().Create(context.Background(), links.NewLink{Name: "runtime app", RedirectURIs: []string{"https://runtime.example/cb"}, Ceiling: scope.Read})
	if err != nil {
		t.Fatal(err)
	}
	g.unload()
	if _, err := http.Get(base + "/"); err == nil {
		t.Fatal("gateway still serving after unload")
	}

	g = startGateway(t, gatewayOptions{dir: dir})
	if in := introspect(t, tok.AccessToken); in["active"] != true || in["username"] != "alice" {
		t.Fatalf("access token lost across restart: %v", in)
	}
	if status, m := refresh(t, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh after restart: %d %v", status, m)
	}
	l, err := g.app().Links().ByClientID(context.Background(), runtime.ClientID)
	if err != nil {
		t.Fatalf("runtime link lost: %v", err)
	}
	if got, err := g.app().Links().Secret(l); err != nil || got != sec {
		t.Fatalf("runtime link secret not readable after restart: %v", err)
	}
}

// TestSecretsNotStoredInClear: client secrets and tokens never reach the
// disk in clear (secrets are sealed, tokens hashed), and the key file is
// private.
func TestSecretsNotStoredInClear(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	g := startGateway(t, gatewayOptions{dir: dir, globalOption: "log {\n\t\toutput file " + logFile + "\n\t\tlevel DEBUG\n\t}"})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInHeader)
	_, sec, err := g.app().Links().Create(context.Background(), links.NewLink{Name: "sealed", RedirectURIs: []string{"https://sealed.example/cb"}, Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	status, m := refresh(t, tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, m)
	}
	g.unload()

	secrets := []string{sec, secretValue, tok.AccessToken, tok.RefreshToken, m["access_token"].(string), m["refresh_token"].(string)}
	var files int
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret in clear (%s…)", filepath.Base(path), s[:6])
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walking the data dir: %v (%d files)", err, files)
	}
	info, err := os.Stat(dir + ".key")
	if err != nil {
		t.Fatalf("no key file beside the data: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "grant refreshed") || !strings.Contains(string(logs), "applinks.audit") {
		t.Errorf("audit log lacks grant events")
	}
	for _, s := range append(secrets, password) {
		if strings.Contains(string(logs), s) {
			t.Errorf("log holds a secret (%s…)", s[:6])
		}
	}
}
