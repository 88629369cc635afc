package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/internal/pgtest"
)

const crashPort = 9490

var (
	buildOnce   sync.Once
	builtCaddy  string
	buildErr    error
	buildOutput []byte
)

// caddyBinary builds internal/testcaddy once per test run.
func caddyBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "applinks-testcaddy")
		if err != nil {
			buildErr = err
			return
		}
		builtCaddy = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-o", builtCaddy, "github.com/applinks/caddy-applinks/internal/testcaddy")
		buildOutput, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building caddy: %v\n%s", buildErr, buildOutput)
	}
	return builtCaddy
}

// startProcess runs a Caddy process with the Caddyfile and waits until it
// answers on crashPort.
func startProcess(t *testing.T, bin, caddyfile string) *exec.Cmd {
	t.Helper()
	return startProcessOn(t, bin, caddyfile, crashPort)
}

// startProcessOn runs a Caddy process with the Caddyfile, its data and
// config directories in temp dirs, and waits until the gateway answers on
// 127.0.0.1 at port.
func startProcessOn(t testing.TB, bin, caddyfile string, port int) *exec.Cmd {
	t.Helper()
	return startProcessReady(t, bin, caddyfile, port, "/.well-known/oauth-authorization-server")
}

// startProcessReady is startProcessOn for any Caddyfile, gateway or not:
// it waits until path answers on 127.0.0.1 at port.
func startProcessReady(t testing.TB, bin, caddyfile string, port int, path string) *exec.Cmd {
	t.Helper()
	return startProcessLogging(t, bin, caddyfile, port, path, nil)
}

// startProcessLogging is startProcessReady with Caddy's output, its log,
// written to log (discarded when nil).
func startProcessLogging(t testing.TB, bin, caddyfile string, port int, path string, log io.Writer) *exec.Cmd {
	t.Helper()
	// A process left over on the port would answer in place of this one.
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		conn.Close()
		t.Fatalf("something already listens on 127.0.0.1:%d", port)
	}
	cfg := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	for range 100 {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path)); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("caddy process did not start")
	return nil
}

// TestKill9KeepsGrants: clients rotate refresh tokens as fast as they can
// while Caddy is killed with SIGKILL. After a restart on the same Badger
// directory, the last refresh token each client received still works: no
// acknowledged rotation is lost, and no grant is revoked by the crash.
func TestKill9KeepsGrants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	kill9KeepsGrants(t, "badger "+t.TempDir())
}

// TestKill9KeepsGrantsOnPostgres is TestKill9KeepsGrants with the store in
// PostgreSQL: a gateway of a cluster killed mid-request loses nothing it
// acknowledged.
func TestKill9KeepsGrantsOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary and runs PostgreSQL")
	}
	kill9KeepsGrants(t, fmt.Sprintf("postgres %q", pgtest.DSN(t)))
}

// kill9KeepsGrants runs the kill -9 test with the given storage option.
func kill9KeepsGrants(t *testing.T, storage string) {
	bin := caddyBinary(t)
	// A request in flight at the kill may have rotated the token without
	// the client hearing of it: the grace lets the client retry it.
	caddyfile := processGateway(t, crashPort, "off", storage,
		"secret_key \"an at-rest key of at least thirty-two characters\"\n\t\trefresh_grace 30s")
	proc := startProcess(t, bin, caddyfile)
	crashBase := fmt.Sprintf("http://127.0.0.1:%d", crashPort)

	// Tokens through the real flow against the process.
	const clients = 8
	latest := make([]string, clients)
	for i := range latest {
		tok, err := flow.Run(crashBase, "alice", password, clientID, secretValue, redirectURI, "")
		if err != nil {
			t.Fatal(err)
		}
		latest[i] = tok.RefreshToken
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var rotations int
	for i := range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				rt := latest[i]
				mu.Unlock()
				status, m := refreshAt(crashBase, rt)
				if status != http.StatusOK {
					return // the process died mid-request
				}
				mu.Lock()
				latest[i] = m["refresh_token"].(string)
				rotations++
				mu.Unlock()
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = proc.Process.Wait()
	close(stop)
	wg.Wait()
	if rotations < clients {
		t.Fatalf("only %d rotations before the kill", rotations)
	}

	startProcess(t, bin, caddyfile)
	for i, rt := range latest {
		if status, m := refreshAt(crashBase, rt); status != http.StatusOK {
			t.Errorf("client %d: the last acknowledged refresh token was lost in the crash: %d %v", i, status, m)
		}
	}
	t.Logf("%d acknowledged rotations before SIGKILL", rotations)
}

// refreshAt rotates a refresh token at a gateway; safe in any goroutine.
func refreshAt(base, rt string) (int, map[string]any) {
	return clientPost(http.DefaultClient, base, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// clientPost posts form to path at a gateway (the token or revocation
// endpoint) as the client of the link app, and returns the status and the
// JSON answer; status 0 when no answer came. Safe in any goroutine.
func clientPost(hc *http.Client, base, path string, form url.Values) (int, map[string]any) {
	form.Set("client_id", clientID)
	form.Set("client_secret", secretValue)
	resp, err := hc.PostForm(base+path, form)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = decodeJSON(resp, &m)
	return resp.StatusCode, m
}
