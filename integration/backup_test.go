package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/internal/flow"
)

const backupPort = 9504

// TestBackupRestoresIntoAFreshGateway: a backup taken through the admin
// API while the gateway serves, restored into a new directory, gives a new
// gateway (with the same at-rest key) the grants of the old one: its access
// token passes the guard and its refresh token refreshes. A backup never
// replaces a file, and a restore never goes into a store in use.
func TestBackupRestoresIntoAFreshGateway(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	tok, err := flow.Run(base, "alice", password, clientID, secretValue, redirectURI, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "applinks.backup")
	if out, err := cli(t, "backup", file); err != nil || !strings.Contains(out, "Backed up") {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if out, err := cli(t, "backup", file); err == nil || !strings.Contains(out, "exists") {
		t.Fatalf("a backup over an existing file: %v\n%s", err, out)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if out, err := cli(t, "restore", file, "--to", "badger "+dir); err != nil || !strings.Contains(out, "Restored") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := cli(t, "restore", file, "--to", "badger "+dir); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("a restore into a store that holds a gateway: %v\n%s", err, out)
	}
	key, err := os.ReadFile(g.dir + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+".key", key, 0o600); err != nil {
		t.Fatal(err)
	}
	startProcessOn(t, caddyBinary(t), processGateway(t, backupPort, "off", "badger "+dir, "refresh_grace 2s"), backupPort)
	restored := clusterNode{base: fmt.Sprintf("http://127.0.0.1:%d", backupPort)}
	if status, body := callAPI(restored, http.MethodGet, tok.AccessToken); status != http.StatusOK || body != "alice WRITE" {
		t.Fatalf("the restored gateway answered %d %q to a token of the backed-up one", status, body)
	}
	if status, m := refreshAt(restored.base, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh at the restored gateway: %d %v", status, m)
	}
}
