package integration

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// cli runs `caddy applinks <args>` against the in-process gateway's admin
// endpoint.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(caddyBinary(t), append(append([]string{"applinks"}, args...), "--address", "localhost:2999")...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCLI: caddy applinks create, list, show, rotate-secret, users (set,
// sign-out, revoke-grants, delete) and delete talk to the admin API of the running gateway.
func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	startGateway(t, gatewayOptions{})
	out, err := cli(t, "create", "--name", "cli-app", "--redirect-uri", "https://cli.example/cb", "--scope", "WRITE")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	var created struct{ ID, ClientSecret string }
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("create printed %q", out)
	}
	created.ID, _ = raw["id"].(string)
	created.ClientSecret, _ = raw["client_secret"].(string)
	if created.ID == "" || !strings.HasPrefix(created.ClientSecret, "als_") || raw["scope"] != "WRITE" {
		t.Fatalf("create printed %v", raw)
	}
	if out, err := cli(t, "list"); err != nil || !strings.Contains(out, `"cli-app"`) || strings.Contains(out, created.ClientSecret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := cli(t, "show", created.ID); err != nil || !strings.Contains(out, created.ClientSecret) {
		t.Fatalf("show: %v\n%s", err, out)
	}
	out, err = cli(t, "rotate-secret", created.ID, "--overlap", "1h")
	if err != nil || !strings.Contains(out, "als_") || strings.Contains(out, created.ClientSecret) {
		t.Fatalf("rotate-secret: %v\n%s", err, out)
	}
	// Overlap 0 revokes the previous secret at once.
	var rotated map[string]any
	if err := json.Unmarshal([]byte(out), &rotated); err != nil {
		t.Fatalf("rotate-secret printed %q", out)
	}
	clientID, _ := raw["client_id"].(string)
	previous, _ := rotated["client_secret"].(string)
	out, err = cli(t, "rotate-secret", created.ID, "--overlap", "0")
	if err != nil || !strings.Contains(out, "als_") || strings.Contains(out, previous) {
		t.Fatalf("rotate-secret --overlap 0: %v\n%s", err, out)
	}
	if status, _ := introspectAs(t, "ala_unknown", clientID, previous); status != http.StatusUnauthorized {
		t.Fatalf("the secret rotated out with --overlap 0 still authenticates: %d", status)
	}
	if out, err := cli(t, "users"); err != nil || !strings.Contains(out, `"alice"`) {
		t.Fatalf("users: %v\n%s", err, out)
	}
	set := exec.Command(caddyBinary(t), "applinks", "users", "set", "yuri", "--role", "WRITE", "--password-stdin", "--address", "localhost:2999")
	set.Stdin = strings.NewReader("yuri-password-1\n")
	if out, err := set.CombinedOutput(); err != nil || !strings.Contains(string(out), `"WRITE"`) {
		t.Fatalf("users set: %v\n%s", err, out)
	}
	if resp := signIn(t, browser(t), "yuri", "yuri-password-1"); resp.Request.URL.Path == "/applinks/login" {
		t.Fatal("a user set through the CLI cannot sign in with the password given on stdin")
	}
	yuri := browser(t)
	signIn(t, yuri, "yuri", "yuri-password-1").Body.Close()
	if out, err := cli(t, "users", "sign-out", "yuri"); err != nil || !strings.Contains(out, `"sessions_ended": 2`) {
		t.Fatalf("users sign-out: %v\n%s", err, out)
	}
	if signedIn(t, yuri) {
		t.Fatal("yuri's session survived users sign-out")
	}
	if out, err := cli(t, "users", "revoke-grants", "yuri"); err != nil || !strings.Contains(out, `"revoked": 0`) {
		t.Fatalf("users revoke-grants: %v\n%s", err, out)
	}
	if out, err := cli(t, "users", "set", "alice", "--role", "READ"); err == nil || !strings.Contains(out, "409") {
		t.Fatalf("users set on a Caddyfile user: %v\n%s", err, out)
	}
	if out, err := cli(t, "users", "delete", "yuri"); err != nil {
		t.Fatalf("users delete: %v\n%s", err, out)
	}
	if out, err := cli(t, "users"); err != nil || strings.Contains(out, `"yuri"`) {
		t.Fatalf("users after delete: %v\n%s", err, out)
	}
	if out, err := cli(t, "delete", created.ID); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if out, err := cli(t, "show", created.ID); err == nil || !strings.Contains(out, "404") {
		t.Fatalf("show after delete: %v\n%s", err, out)
	}
	if out, err := cli(t, "create", "--name", "bad", "--redirect-uri", "http://evil.example/cb"); err == nil {
		t.Fatalf("create with an http redirect succeeded:\n%s", out)
	}
}
