package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/internal/pgtest"
)

// TestDatabaseDownIsRefusedNotTrusted: with its PostgreSQL server stopped,
// a gateway does not trust the token validations it cached (a revocation
// could no longer reach it): the guard answers 503 with Retry-After, the
// token endpoint RFC 6749 temporarily_unavailable (503, Retry-After), the
// sign-in a page saying the service is unavailable. Once the server is
// back, everything works again without a restart.
func TestDatabaseDownIsRefusedNotTrusted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary and runs PostgreSQL")
	}
	srv := pgtest.NewServer(t)
	bin := caddyBinary(t)
	startProcessOn(t, bin, clusterCaddyfile(t, srv.NewDatabase(t), clusterPortA, clusterAdminA), clusterPortA)
	a := clusterNode{base: fmt.Sprintf("http://127.0.0.1:%d", clusterPortA)}
	tok := clusterToken(t, a, "alice")
	signedIn, err := flow.Browser(redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flow.RunIn(signedIn, a.base, "alice", password, clientID, secretValue, redirectURI, ""); err != nil {
		t.Fatal(err)
	}
	for range 3 { // cached from here on
		if status, _ := callAPI(a, http.MethodGet, tok.AccessToken); status != http.StatusOK {
			t.Fatalf("a live token was refused: %d", status)
		}
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	for {
		req, _ := http.NewRequest(http.MethodGet, a.base+"/api/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" {
				t.Error("the guard's 503 has no Retry-After")
			}
			t.Logf("the guard stopped trusting its cache %v after the database stopped", time.Since(stopped))
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("with the database down the guard answered %d, want 503", resp.StatusCode)
		}
		if time.Since(stopped) > 5*time.Second {
			t.Fatal("the guard still trusts its cached validation 5 s after the database stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}

	resp, err := http.PostForm(a.base+"/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {clientID}, "client_secret": {secretValue}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("token endpoint with the database down: %d %v Retry-After %q; want 503 temporarily_unavailable with Retry-After", resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}

	c, err := flow.Browser(redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = c.Get(a.base + "/applinks/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := flow.HiddenFields(string(body))
	f.Set("username", "alice")
	f.Set("password", password)
	req, _ := http.NewRequest(http.MethodPost, a.base+"/applinks/login", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "Service unavailable") {
		t.Errorf("sign-in with the database down: %d, want 503 and a page saying the service is unavailable:\n%s", resp.StatusCode, body)
	}

	for _, page := range []string{"/applinks/account", "/applinks/admin"} {
		req, _ := http.NewRequest(http.MethodGet, a.base+page, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := signedIn.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "Service unavailable") || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s for a signed-in person with the database down: %d, want 503 with Retry-After and a page saying the service is unavailable", page, resp.StatusCode)
		}
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	for {
		status, _ := callAPI(a, http.MethodGet, tok.AccessToken)
		if status == http.StatusOK {
			t.Logf("the guard works again %v after the database came back", time.Since(restarted))
			break
		}
		if time.Since(restarted) > 15*time.Second {
			t.Fatalf("the guard still answers %d 15 s after the database came back", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, m := refreshAt(a.base, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh after the database came back: %d %v", status, m)
	}
	if _, err := flow.Run(a.base, "alice", password, clientID, secretValue, redirectURI, ""); err != nil {
		t.Fatalf("the code flow after the database came back: %v", err)
	}
}
