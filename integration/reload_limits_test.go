package integration

import (
	"net/http"
	"strings"
	"testing"
)

// TestReloadDoesNotResetSignInLimit: an attacker guessing one user's
// password is held back by the per-user limit, and a config reload, which
// provisions the app anew, must not hand them a fresh budget of guesses.
func TestReloadDoesNotResetSignInLimit(t *testing.T) {
	g := startGateway(t, gatewayOptions{globalOption: behindProxy})
	exhaustUserLimit(t, "alice", "2001:db8:%x::1")
	// A changed setting: Caddy skips a reload whose JSON is the same.
	g.tester.InitServer(strings.Replace(g.config, "refresh_grace 2s", "refresh_grace 3s", 1), "caddyfile")
	if status := signInStatus(t, "2001:db8:ffff::1", "alice", "wrong password"); status != http.StatusTooManyRequests {
		t.Fatalf("a guess right after a reload: %d, want 429: the reload reset the sign-in limit", status)
	}
}
