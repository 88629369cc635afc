package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// cli runs `caddy applinks <args>` against the in-process gateway's admin
// endpoint and returns what it printed, standard output and error
// together.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	stdout, stderr, err := cliIO(t, "", args...)
	return stdout + stderr, err
}

// cliIO runs `caddy applinks <args>` with stdin as its standard input
// and returns its standard output and error apart.
func cliIO(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	if !slices.Contains(args, "--address") {
		args = append(args, "--address", "localhost:2999")
	}
	cmd := exec.Command(caddyBinary(t), append([]string{"applinks"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// cliJSON runs a command with --json and decodes the one JSON document it
// prints into v.
func cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	stdout, stderr, err := cliIO(t, "", append(args, "--json")...)
	if err != nil {
		t.Fatalf("%s --json: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s --json printed no JSON document: %v\n%s", strings.Join(args, " "), err, stdout)
	}
	if dec.More() {
		t.Fatalf("%s --json printed more than one JSON document:\n%s", strings.Join(args, " "), stdout)
	}
}

// cliFails runs a command that must fail and returns its error line,
// checking that it is one readable line and not a raw JSON body.
func cliFails(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := cliIO(t, "", args...)
	if err == nil {
		t.Fatalf("%s succeeded:\n%s", strings.Join(args, " "), stdout)
	}
	if stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "Error: ") || strings.Contains(stderr, `{"error"`) {
		t.Fatalf("%s: want one error line on stderr and nothing on stdout, got stdout %q, stderr %q", strings.Join(args, " "), stdout, stderr)
	}
	return strings.TrimSuffix(stderr, "\n")
}

// TestCLI: caddy applinks create, list, show, edit, rotate-secret, users
// (set, show, sign-out, revoke-grants, delete) and delete talk to the
// admin API of the running gateway, print tables, take a link's name for
// its id and permissions in any case, and say what they deleted.
func TestCLI(t *testing.T) {
	startGateway(t, gatewayOptions{})
	var created struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Scope        string `json:"scope"`
	}
	cliJSON(t, &created, "create", "--name", "cli-app", "--redirect-uri", "https://cli.example/cb", "--scope", "write")
	if created.ID == "" || !strings.HasPrefix(created.ClientSecret, "als_") || created.Scope != "WRITE" {
		t.Fatalf("create printed %+v", created)
	}
	out, err := cli(t, "list")
	if err != nil || !strings.Contains(out, "DIRECTION") || !tableRow(out, "incoming", "cli-app", created.ID, "runtime", created.ClientID, "WRITE") || !tableRow(out, "incoming", "app", "cfg-app", "config") || strings.Contains(out, created.ClientSecret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	var all struct {
		Incoming []map[string]any `json:"incoming"`
		Outgoing []map[string]any `json:"outgoing"`
	}
	cliJSON(t, &all, "list")
	if len(all.Incoming) != 3 || all.Outgoing == nil || strings.Contains(fmt.Sprint(all), created.ClientSecret) {
		t.Fatalf("list --json: %+v", all)
	}
	if out, err := cli(t, "show", "cli-app"); err != nil || !strings.Contains(out, created.ClientSecret) || !strings.Contains(out, created.ID) {
		t.Fatalf("show by name: %v\n%s", err, out)
	}
	if out, err := cli(t, "edit", "cli-app", "--scope", "read", "--require-pkce"); err != nil || !fieldIs(out, "Scope", "READ") || !fieldIs(out, "Requires PKCE", "yes") {
		t.Fatalf("edit by name: %v\n%s", err, out)
	}
	out, err = cli(t, "rotate-secret", "cli-app", "--overlap", "1h")
	if err != nil || !strings.Contains(out, "als_") || strings.Contains(out, created.ClientSecret) || !fieldIs(out, "Previous secret", "works for 1h") {
		t.Fatalf("rotate-secret: %v\n%s", err, out)
	}
	// Overlap 0 revokes the previous secret at once.
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	cliJSON(t, &rotated, "rotate-secret", created.ID, "--overlap", "1h")
	out, err = cli(t, "rotate-secret", created.ID, "--overlap", "0")
	if err != nil || !strings.Contains(out, "als_") || strings.Contains(out, rotated.ClientSecret) || !fieldIs(out, "Previous secret", "revoked") {
		t.Fatalf("rotate-secret --overlap 0: %v\n%s", err, out)
	}
	if status, _ := introspectAs(t, "ala_unknown", created.ClientID, rotated.ClientSecret); status != http.StatusUnauthorized {
		t.Fatalf("the secret rotated out with --overlap 0 still authenticates: %d", status)
	}
	if out, err := cli(t, "users"); err != nil || !tableRow(out, "alice", "ADMIN", "config") {
		t.Fatalf("users: %v\n%s", err, out)
	}
	if out, stderr, err := cliIO(t, "yuri-password-1\n", "users", "set", "yuri", "--role", "write", "--password-stdin"); err != nil || !fieldIs(out, "Role", "WRITE") {
		t.Fatalf("users set: %v\n%s%s", err, out, stderr)
	}
	if resp := signIn(t, browser(t), "yuri", "yuri-password-1"); resp.Request.URL.Path == "/applinks/login" {
		t.Fatal("a user set through the CLI cannot sign in with the password given on stdin")
	}
	yuri := browser(t)
	signIn(t, yuri, "yuri", "yuri-password-1").Body.Close()
	if out, err := cli(t, "users", "sign-out", "yuri"); err != nil || !strings.Contains(out, "2 session(s) ended") {
		t.Fatalf("users sign-out: %v\n%s", err, out)
	}
	if signedIn(t, yuri) {
		t.Fatal("yuri's session survived users sign-out")
	}
	if out, err := cli(t, "users", "revoke-grants", "yuri"); err != nil || !strings.Contains(out, "Revoked 0 grant(s)") {
		t.Fatalf("users revoke-grants: %v\n%s", err, out)
	}
	if line := cliFails(t, "users", "set", "alice", "--role", "READ"); !strings.Contains(line, "read-only") || !strings.Contains(line, "409") {
		t.Fatalf("users set on a Caddyfile user: %s", line)
	}
	if out, err := cli(t, "users", "delete", "yuri"); err != nil || !strings.Contains(out, "Deleted user yuri (runtime, WRITE)") {
		t.Fatalf("users delete: %v\n%s", err, out)
	}
	if out, err := cli(t, "users"); err != nil || strings.Contains(out, "yuri") {
		t.Fatalf("users after delete: %v\n%s", err, out)
	}
	if line := cliFails(t, "users", "delete", "yuri"); !strings.Contains(line, `no user "yuri" (HTTP 404)`) {
		t.Fatalf("deleting a deleted user: %s", line)
	}
	if out, err := cli(t, "delete", "cli-app"); err != nil || !strings.Contains(out, fmt.Sprintf(`Deleted incoming link "cli-app" (id %s, client id %s)`, created.ID, created.ClientID)) {
		t.Fatalf("delete by name: %v\n%s", err, out)
	}
	if line := cliFails(t, "show", created.ID); !strings.Contains(line, "404") {
		t.Fatalf("show after delete: %s", line)
	}
	if line := cliFails(t, "create", "--name", "bad", "--redirect-uri", "http://evil.example/cb"); !strings.Contains(line, "(HTTP 400)") {
		t.Fatalf("create with an http redirect: %s", line)
	}
	if line := cliFails(t, "delete", "app"); !strings.Contains(line, "read-only") {
		t.Fatalf("deleting a declared link: %s", line)
	}
}

// TestCLIErrorsAreOneReadableLine: a failing command prints one line that
// says what went wrong, with a non-zero exit, never the API's raw JSON
// body, and an admin endpoint that is not there is named as such.
func TestCLIErrorsAreOneReadableLine(t *testing.T) {
	startGateway(t, gatewayOptions{})
	if line := cliFails(t, "show", "nobody"); line != `Error: no link "nobody" (HTTP 404)` {
		t.Fatalf("show of an unknown link: %q", line)
	}
	if line := cliFails(t, "create", "--name", "x", "--redirect-uri", "https://x.example/cb", "--scope", "god"); !strings.Contains(line, `unknown scope "GOD"`) {
		t.Fatalf("an unknown permission: %q", line)
	}
	if line := cliFails(t, "outgoing", "show", "nothing"); line != `Error: no outgoing link "nothing" (HTTP 404)` {
		t.Fatalf("show of an unknown outgoing link: %q", line)
	}
	stdout, stderr, err := cliIO(t, "", "list", "--address", "localhost:1")
	if err == nil || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "cannot reach Caddy's admin API at localhost:1") {
		t.Fatalf("with no admin endpoint: %v %q %q", err, stdout, stderr)
	}
}

// TestCLILinkNamedLikeAnotherLinksIDIsRefused: a link cannot be named as
// another link's id, so deleting "the link named X" can never delete the
// other link whose id is X.
func TestCLILinkNamedLikeAnotherLinksIDIsRefused(t *testing.T) {
	startGateway(t, gatewayOptions{})
	var victim struct {
		ID string `json:"id"`
	}
	cliJSON(t, &victim, "create", "--name", "victim", "--redirect-uri", "https://victim.example/cb")
	if line := cliFails(t, "create", "--name", victim.ID, "--redirect-uri", "https://squatter.example/cb"); !strings.Contains(line, "409") {
		t.Fatalf("a link named as another link's id: %s", line)
	}
	if line := cliFails(t, "create", "--name", "cfg-app", "--redirect-uri", "https://squatter.example/cb"); !strings.Contains(line, "409") {
		t.Fatalf("a link named as a declared link's id: %s", line)
	}
	out, err := cli(t, "list")
	if err != nil || !tableRow(out, "incoming", "victim", victim.ID) || strings.Contains(out, "squatter") || strings.Count(out, "\n") != 4 {
		t.Fatalf("list: %v\n%s", err, out)
	}
}

// TestCLIGrants: grants are listed by user and by link name, shown and
// revoked (with their tokens), and revoking a grant that is not there is
// an error, not a reported success.
func TestCLIGrants(t *testing.T) {
	startGateway(t, gatewayOptions{})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	var gs []struct {
		ID   string `json:"id"`
		User string `json:"user_id"`
		Link string `json:"link"`
	}
	cliJSON(t, &gs, "grants", "--link", "app")
	if len(gs) != 1 || gs[0].User != "alice" || gs[0].Link != "app" {
		t.Fatalf("grants --link app: %+v", gs)
	}
	if out, err := cli(t, "grants", "--user", "alice"); err != nil || !tableRow(out, gs[0].ID, "alice", "app", "WRITE") {
		t.Fatalf("grants --user alice: %v\n%s", err, out)
	}
	if out, err := cli(t, "grants", "--link", "other"); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("grants of a link without any: %v\n%s", err, out)
	}
	if out, err := cli(t, "grants", "show", gs[0].ID); err != nil || !fieldIs(out, "User", "alice") {
		t.Fatalf("grants show: %v\n%s", err, out)
	}
	if out, err := cli(t, "grants", "revoke", gs[0].ID); err != nil || !strings.Contains(out, fmt.Sprintf("Revoked grant %s of alice through app (WRITE)", gs[0].ID)) {
		t.Fatalf("grants revoke: %v\n%s", err, out)
	}
	if introspect(t, tok.AccessToken)["active"] != false {
		t.Fatal("a grant revoked through the CLI still has active tokens")
	}
	if line := cliFails(t, "grants", "revoke", gs[0].ID); !strings.Contains(line, "404") {
		t.Fatalf("revoking a revoked grant: %s", line)
	}
	if status, _, _ := adminCall(t, "DELETE", "/applinks/grants/no-such-grant", nil); status != http.StatusNotFound {
		t.Fatalf("the API revoking an unknown grant: %d", status)
	}
	if line := cliFails(t, "grants", "--link", "nothing"); !strings.Contains(line, `no link "nothing"`) {
		t.Fatalf("grants of an unknown link: %s", line)
	}
}

// TestCLIKeysShowNoPrivateKey: the signing keys are listed (kid,
// algorithm, status) and rotated through the CLI; the key it says is
// active is the one the gateway publishes first, and no private key
// material is ever printed.
func TestCLIKeysShowNoPrivateKey(t *testing.T) {
	startGateway(t, gatewayOptions{})
	var before []map[string]any
	cliJSON(t, &before, "keys")
	if len(before) != 1 || before[0]["status"] != "active" || before[0]["alg"] != "ES256" {
		t.Fatalf("keys: %v", before)
	}
	out, err := cli(t, "keys", "rotate")
	if err != nil || !strings.Contains(out, "Rotated: key ") || !tableRow(out, before[0]["kid"].(string), "ES256", "retiring") {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	var after []map[string]any
	cliJSON(t, &after, "keys")
	if len(after) != 2 || after[0]["status"] != "active" || after[0]["kid"] == before[0]["kid"] {
		t.Fatalf("keys after rotate: %v", after)
	}
	resp, err := http.Get(base + "/rest/oauth2/latest/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil || len(set.Keys) != 2 || set.Keys[0].Kid != after[0]["kid"] {
		t.Fatalf("the JWKS publishes %+v (%v), the CLI says %v is active", set, err, after[0]["kid"])
	}
	for _, k := range after {
		for field := range k {
			if field != "kid" && field != "alg" && field != "status" && field != "created_at" && field != "retired_at" && field != "expires_at" {
				t.Errorf("keys --json shows %q", field)
			}
		}
	}
	if status, _, list := adminCall(t, "GET", "/applinks/keys", nil); status != http.StatusOK || strings.Contains(fmt.Sprint(list), "sealed") {
		t.Fatalf("GET /applinks/keys: %d %v", status, list)
	}
}

// TestCLIOutgoingAndConnections: outgoing links are listed, shown,
// created (the secret from standard input, provider scopes exactly as
// typed) and deleted; a user's connection is listed with its status and
// disconnected, after which the user must connect again.
func TestCLIOutgoingAndConnections(t *testing.T) {
	f := newOutFake(t, false)
	up := upstream(t)
	g := outGateway(t, f, up, "ms", "microsoft", "per_user", "")
	outConnected(t, outBrowser(t), "ms", "alice", "/done")

	if out, err := cli(t, "outgoing"); err != nil || !tableRow(out, "ms", "config", "per_user") {
		t.Fatalf("outgoing: %v\n%s", err, out)
	}
	if out, err := cli(t, "outgoing", "show", "ms"); err != nil || !fieldIs(out, "Redirect path", outgoing.CallbackPrefix+"ms") {
		t.Fatalf("outgoing show: %v\n%s", err, out)
	}
	if out, err := cli(t, "connections", "--link", "ms"); err != nil || !tableRow(out, "ms", "alice", outgoing.StatusValid) {
		t.Fatalf("connections: %v\n%s", err, out)
	}
	var conns []map[string]any
	cliJSON(t, &conns, "connections", "--user", "alice")
	if len(conns) != 1 || conns[0]["status"] != outgoing.StatusValid || conns[0]["sealed"] != nil {
		t.Fatalf("connections --json: %v", conns)
	}
	if out, err := cli(t, "connections", "disconnect", "ms", "alice"); err != nil || !strings.Contains(out, `Disconnected alice from outgoing link "ms" (it was VALID)`) {
		t.Fatalf("connections disconnect: %v\n%s", err, out)
	}
	if s := outStatus(t, g, "ms", "alice"); s != "" {
		t.Fatalf("alice is still connected (%s) after disconnect", s)
	}
	if line := cliFails(t, "connections", "disconnect", "ms", "alice"); line != `Error: "alice" has no connection of outgoing link "ms" (HTTP 404)` {
		t.Fatalf("disconnecting twice: %s", line)
	}
	if line := cliFails(t, "outgoing", "delete", "ms"); !strings.Contains(line, "read-only") {
		t.Fatalf("deleting a declared outgoing link: %s", line)
	}

	scope := "https://www.googleapis.com/auth/Drive.ReadOnly"
	if out, stderr, err := cliIO(t, "drive-secret\n", "outgoing", "create", "--name", "drive", "--provider", "google", "--client-id", "c", "--client-secret-stdin", "--scope", scope); err != nil || !fieldIs(out, "Name", "drive") {
		t.Fatalf("outgoing create: %v\n%s%s", err, out, stderr)
	}
	var drive struct {
		Scopes []string `json:"scopes"`
		Source string   `json:"source"`
	}
	cliJSON(t, &drive, "outgoing", "show", "drive")
	if len(drive.Scopes) != 1 || drive.Scopes[0] != scope || drive.Source != "runtime" {
		t.Fatalf("a provider scope was not kept as typed: %+v", drive)
	}
	if out, err := cli(t, "outgoing", "delete", "drive"); err != nil || !strings.Contains(out, `Deleted outgoing link "drive" (per_user, client id c) with its 0 connection(s).`) {
		t.Fatalf("outgoing delete: %v\n%s", err, out)
	}
}

// tableRow reports whether out has a line whose first cells are cells.
func tableRow(out string, cells ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(cells) && slices.Equal(f[:len(cells)], cells) {
			return true
		}
	}
	return false
}

// fieldIs reports whether out has the line "label:  value".
func fieldIs(out, label, value string) bool {
	for _, line := range strings.Split(out, "\n") {
		if l, v, ok := strings.Cut(line, ":"); ok && l == label && strings.TrimSpace(v) == value {
			return true
		}
	}
	return false
}

// TestCLINameWithASlashNamesOnlyThatLink: deleting the link named
// "victim/" (or "victim/rotate-secret") deletes that link, never the link
// "victim" nor an action on it: a name is one path segment of the admin
// API, whatever it holds.
func TestCLINameWithASlashNamesOnlyThatLink(t *testing.T) {
	startGateway(t, gatewayOptions{})
	var victim, slash, action struct {
		ID           string `json:"id"`
		ClientSecret string `json:"client_secret"`
	}
	cliJSON(t, &victim, "create", "--name", "victim", "--redirect-uri", "https://victim.example/cb")
	cliJSON(t, &slash, "create", "--name", "victim/", "--redirect-uri", "https://slash.example/cb")
	cliJSON(t, &action, "create", "--name", "victim/rotate-secret", "--redirect-uri", "https://action.example/cb")
	if out, err := cli(t, "rotate-secret", "victim/rotate-secret"); err != nil || !fieldIs(out, "Link", "victim/rotate-secret") {
		t.Fatalf("rotate-secret of victim/rotate-secret: %v\n%s", err, out)
	}
	if out, err := cli(t, "delete", "victim/"); err != nil || !strings.Contains(out, fmt.Sprintf(`Deleted incoming link "victim/" (id %s,`, slash.ID)) {
		t.Fatalf("delete victim/: %v\n%s", err, out)
	}
	if out, err := cli(t, "show", "victim"); err != nil || !strings.Contains(out, victim.ClientSecret) {
		t.Fatalf("the link victim after victim/ was deleted and victim/rotate-secret rotated: %v\n%s", err, out)
	}
	if status, m, _ := adminCall(t, "GET", "/applinks/links/victim%2F", nil); status != http.StatusNotFound {
		t.Fatalf("GET of the deleted victim/: %d %v", status, m)
	}
	if line := cliFails(t, "create", "--name", "..", "--redirect-uri", "https://dots.example/cb"); !strings.Contains(line, "path steps") {
		t.Fatalf("a link named ..: %s", line)
	}
}

// TestCLIPasswordResetNeitherEnablesNorDemotesAUser: setting a disabled
// administrator's password through the CLI keeps them disabled and an
// administrator; only the flags given change a user.
func TestCLIPasswordResetNeitherEnablesNorDemotesAUser(t *testing.T) {
	startGateway(t, gatewayOptions{})
	if out, stderr, err := cliIO(t, "yuri-password-1\n", "users", "set", "yuri", "--role", "admin", "--password-stdin"); err != nil {
		t.Fatalf("users set: %v\n%s%s", err, out, stderr)
	}
	if out, err := cli(t, "users", "set", "yuri", "--disabled"); err != nil || !fieldIs(out, "Role", "ADMIN") || !fieldIs(out, "Disabled", "yes") {
		t.Fatalf("users set --disabled: %v\n%s", err, out)
	}
	if out, stderr, err := cliIO(t, "yuri-password-2\n", "users", "set", "yuri", "--password-stdin"); err != nil || !fieldIs(out, "Role", "ADMIN") || !fieldIs(out, "Disabled", "yes") {
		t.Fatalf("a password reset changed more than the password: %v\n%s%s", err, out, stderr)
	}
	if resp := signIn(t, browser(t), "yuri", "yuri-password-2"); resp.Request.URL.Path != "/applinks/login" {
		t.Fatal("a disabled user signed in after a password reset through the CLI")
	}
	if out, err := cli(t, "users", "set", "yuri", "--disabled=false"); err != nil || !fieldIs(out, "Role", "ADMIN") || !fieldIs(out, "Disabled", "-") {
		t.Fatalf("users set --disabled=false: %v\n%s", err, out)
	}
	if out, err := cli(t, "users", "show", "yuri"); err != nil || !fieldIs(out, "Role", "ADMIN") || !fieldIs(out, "Source", "runtime") {
		t.Fatalf("users show: %v\n%s", err, out)
	}
}
