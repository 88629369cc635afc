package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/internal/pgtest"
)

const (
	migratePort = 9503
	// migrateGrace is the refresh grace of the migrated gateway: a replay
	// after it revokes the grant.
	migrateGrace = time.Second
)

// migrateCaddyfile is a gateway on migratePort keeping its state in
// storage, with a require_token site under /api/.
func migrateCaddyfile(t *testing.T, storage string) string {
	return processGateway(t, migratePort, "off", storage,
		fmt.Sprintf("secret_key \"the at-rest key, the same before and after the move\"\n\t\trefresh_grace %s", migrateGrace))
}

// TestMigrateStoreFromBadgerToPostgres: `caddy applinks migrate-store`
// moves a stopped gateway from Badger to PostgreSQL. With the same
// secret_key, the gateway on PostgreSQL takes the tokens and sessions
// issued on Badger: an access token passes require_token, a refresh token
// refreshes, a used refresh token replayed after the grace is still known
// as used (the grant is revoked), and a signed-in browser stays signed
// in. A second copy into the now non-empty database is refused, and so
// is a copy from a Badger directory that a running gateway holds.
func TestMigrateStoreFromBadgerToPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary and runs PostgreSQL")
	}
	bin := caddyBinary(t)
	dir := t.TempDir()
	dsn := pgtest.DSN(t)
	from := "badger " + dir
	to := fmt.Sprintf("postgres %q", dsn)
	node := clusterNode{base: fmt.Sprintf("http://127.0.0.1:%d", migratePort)}

	onBadger := startProcessOn(t, bin, migrateCaddyfile(t, from), migratePort)
	kept, err := flow.Run(node.base, "alice", password, clientID, secretValue, redirectURI, "")
	if err != nil {
		t.Fatal(err)
	}
	browser, err := flow.Browser(redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := flow.RunIn(browser, node.base, "alice", password, clientID, secretValue, redirectURI, "")
	if err != nil {
		t.Fatal(err)
	}
	status, m := refreshAt(node.base, rotated.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh on Badger: %d %v", status, m)
	}
	usedAt := time.Now()
	newest := m["refresh_token"].(string)

	// Badger allows one opener: the running gateway holds the directory.
	line := cliFails(t, "migrate-store", "--from", from, "--to", to)
	if !strings.Contains(line, dir) || !strings.Contains(line, "Another process is using this Badger database") {
		t.Errorf("a copy from the directory of a running gateway: %s", line)
	}

	stopProcess(t, onBadger)
	stdout, stderr, err := cliIO(t, "", "migrate-store", "--from", from, "--to", to)
	if err != nil || stderr != "" {
		t.Fatalf("migrate-store: %v\n%s%s", err, stdout, stderr)
	}
	for _, row := range [][]string{{"grant", "2"}, {"token", "5"}, {"session", "2"}, {"key", "check", "1"}} {
		if !tableRow(stdout, row...) {
			t.Errorf("migrate-store does not list %v:\n%s", row, stdout)
		}
	}

	startProcessOn(t, bin, migrateCaddyfile(t, to), migratePort)
	if status, body := callAPI(node, http.MethodGet, kept.AccessToken); status != http.StatusOK || body != "alice WRITE" {
		t.Errorf("the access token from Badger: %d %q", status, body)
	}
	if status, m := refreshAt(node.base, kept.RefreshToken); status != http.StatusOK {
		t.Errorf("the refresh token from Badger: %d %v", status, m)
	} else if status, body := callAPI(node, http.MethodGet, m["access_token"].(string)); status != http.StatusOK {
		t.Errorf("the access token refreshed on PostgreSQL: %d %q", status, body)
	}

	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(node.base + "/applinks/account")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "alice") {
		t.Errorf("the session from Badger: account page %d (Location %q)", resp.StatusCode, resp.Header.Get("Location"))
	}

	time.Sleep(time.Until(usedAt.Add(migrateGrace + 100*time.Millisecond)))
	status, m = refreshAt(node.base, rotated.RefreshToken)
	if desc, _ := m["error_description"].(string); status != http.StatusBadRequest || m["error"] != "invalid_grant" || !strings.Contains(desc, "already been used") {
		t.Errorf("a replay of a refresh token used on Badger: %d %v", status, m)
	}
	if status, m := refreshAt(node.base, newest); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("the newest refresh token of the replayed grant: %d %v", status, m)
	}

	line = cliFails(t, "migrate-store", "--from", from, "--to", to)
	if !strings.Contains(line, "not empty") {
		t.Errorf("a second copy into the same database: %s", line)
	}
}
