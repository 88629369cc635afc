package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestReloadDoesNotResetSignInLimit: an attacker guessing one user's
// password is held back by the per-user limit, and a config reload, which
// provisions the app anew, must not hand them a fresh budget of guesses.
func TestReloadDoesNotResetSignInLimit(t *testing.T) {
	g := startGateway(t, gatewayOptions{globalOption: behindProxy})
	limited := false
	for i := range 40 {
		status := signInStatus(t, fmt.Sprintf("2001:db8:%x::1", i), "alice", "wrong password")
		if status == http.StatusTooManyRequests {
			limited = true
			break
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, status)
		}
	}
	if !limited {
		t.Fatal("40 wrong passwords for one user were all checked: no per-user limit")
	}
	// A changed setting: Caddy skips a reload whose JSON is the same.
	g.tester.InitServer(strings.Replace(g.config, "refresh_grace 2s", "refresh_grace 3s", 1), "caddyfile")
	if status := signInStatus(t, "2001:db8:ffff::1", "alice", "wrong password"); status != http.StatusTooManyRequests {
		t.Fatalf("a guess right after a reload: %d, want 429: the reload reset the sign-in limit", status)
	}
}
