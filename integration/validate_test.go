package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// validateCaddyfile is a gateway on the Badger directory dir (the default
// one in Caddy's data directory when dir is empty) with a declared
// incoming and outgoing link and an outgoing_token route.
func validateCaddyfile(dir string) string {
	storage := ""
	if dir != "" {
		storage = "storage badger " + dir
	}
	return fmt.Sprintf(`{
	admin off
	http_port %d
	https_port 9443
	grace_period 1ns
	applinks {
		%s
		incoming app {
			redirect_uri http://127.0.0.1/cb
			scope READ
			client_id app
			client_secret als_validate-test-secret-0123456789
		}
		outgoing upstream {
			provider oauth2 https://upstream.example/authorize https://upstream.example/token
			client_id gateway
			client_secret s3cret
		}
	}
}
:%d {
	applinks
	route /up/* {
		outgoing_token upstream
		respond "up"
	}
}
`, crashPort, storage, crashPort)
}

// validate runs `caddy validate` on caddyfile with Caddy's data directory
// in dataHome, and returns its output and error.
func validate(t *testing.T, caddyfile, dataHome string) (string, error) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBinary(t), "validate", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dataHome, "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestValidateWhileRunningTakesNoBadgerLock: `caddy validate` of the
// running gateway's own configuration, the check before a reload, used to
// fail on Badger's exclusive directory lock; it succeeds while the
// gateway runs, and the gateway keeps serving.
func TestValidateWhileRunningTakesNoBadgerLock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	dir := filepath.Join(t.TempDir(), "data")
	caddyfile := validateCaddyfile(dir)
	startProcess(t, caddyBinary(t), caddyfile)
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatalf("the running gateway has no open database in %s: %v", dir, err)
	}
	out, err := validate(t, caddyfile, t.TempDir())
	if err != nil {
		t.Fatalf("caddy validate while the gateway runs: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Valid configuration") {
		t.Fatalf("caddy validate printed %q", out)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/.well-known/oauth-authorization-server", crashPort))
	if err != nil {
		t.Fatalf("the gateway stopped answering after validate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata after validate: %d", resp.StatusCode)
	}
}

// TestValidateCreatesNoDataOrKeyFile: `caddy validate` on a machine where
// the gateway never ran used to create the Badger directory and the
// at-rest key file; a key file made then would be trusted by the first
// real start. It writes nothing, with the storage directory named or the
// default one in Caddy's data directory.
func TestValidateCreatesNoDataOrKeyFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	t.Run("named directory", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "data")
		if out, err := validate(t, validateCaddyfile(dir), t.TempDir()); err != nil {
			t.Fatalf("caddy validate: %v\n%s", err, out)
		}
		for _, p := range []string{dir, dir + ".key"} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("caddy validate created %s (stat: %v)", p, err)
			}
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("caddy validate left %d entries beside the data directory", len(entries))
		}
	})
	t.Run("default directory", func(t *testing.T) {
		dataHome := t.TempDir()
		if out, err := validate(t, validateCaddyfile(""), dataHome); err != nil {
			t.Fatalf("caddy validate: %v\n%s", err, out)
		}
		var made []string
		_ = filepath.WalkDir(dataHome, func(p string, _ os.DirEntry, _ error) error {
			if p != dataHome {
				made = append(made, p)
			}
			return nil
		})
		if len(made) != 0 {
			t.Errorf("caddy validate wrote into Caddy's data directory: %v", made)
		}
	})
}
