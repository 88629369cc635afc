package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/internal/pgtest"
)

// The two nodes of the cluster tests, each with its admin endpoint.
const (
	clusterPortA  = 9501
	clusterPortB  = 9502
	clusterAdminA = 2501
	clusterAdminB = 2502
	// propagation is how soon a change on one node must be felt on the
	// other.
	propagation = time.Second
)

// clusterNode is one gateway process of a cluster.
type clusterNode struct {
	base, admin string
}

// clusterCaddyfile is the configuration of a node on port sharing the
// database dsn: the same secret key and issuer on every node, as
// examples/cluster has them.
func clusterCaddyfile(t testing.TB, dsn string, port, admin int) string {
	return processGateway(t, port, fmt.Sprintf("localhost:%d", admin), fmt.Sprintf("postgres %q", dsn),
		fmt.Sprintf("secret_key \"the cluster's at-rest key, the same on every node\"\n\t\tissuer http://127.0.0.1:%d\n\t\trefresh_grace 1s", clusterPortA))
}

// startCluster runs two gateway processes on one new database.
func startCluster(t testing.TB, dsn string) (a, b clusterNode) {
	t.Helper()
	bin := caddyBinary(t)
	startProcessOn(t, bin, clusterCaddyfile(t, dsn, clusterPortA, clusterAdminA), clusterPortA)
	startProcessOn(t, bin, clusterCaddyfile(t, dsn, clusterPortB, clusterAdminB), clusterPortB)
	return clusterNode{fmt.Sprintf("http://127.0.0.1:%d", clusterPortA), fmt.Sprintf("http://localhost:%d", clusterAdminA)},
		clusterNode{fmt.Sprintf("http://127.0.0.1:%d", clusterPortB), fmt.Sprintf("http://localhost:%d", clusterAdminB)}
}

// TestClusterSharesEverything: two Caddy processes on one PostgreSQL
// database are one authorization server. A token, a session or a code
// from one node is known to the other; a revocation, a demotion, a link
// edit or deletion, a refresh-token or code replay and a signing-key
// rotation on one node is felt on the other within a second; concurrent refreshes of one token on
// both nodes end as on one node.
func TestClusterSharesEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Caddy binary and runs PostgreSQL")
	}
	a, b := startCluster(t, pgtest.DSN(t))

	t.Run("TokenFromAWorksAtB", func(t *testing.T) {
		tok := clusterToken(t, a, "alice")
		if status, body := callAPI(b, http.MethodGet, tok.AccessToken); status != http.StatusOK || body != "alice WRITE" {
			t.Fatalf("B answered %d %q to A's token", status, body)
		}
	})

	t.Run("SignedInAtAIsSignedInAtB", func(t *testing.T) {
		c, err := flow.Browser(redirectURI)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := flow.RunIn(c, a.base, "alice", password, clientID, secretValue, redirectURI, ""); err != nil {
			t.Fatal(err)
		}
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(b.base + "/applinks/account")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "alice") {
			t.Fatalf("B's account page answered %d (Location %q) to a session started at A", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("RevocationAtAReachesB", func(t *testing.T) {
		var took []time.Duration
		for range 10 {
			tok := clusterToken(t, a, "alice")
			for range 3 { // cached at B from here on
				if status, _ := callAPI(b, http.MethodGet, tok.AccessToken); status != http.StatusOK {
					t.Fatalf("B refused a live token: %d", status)
				}
			}
			revoked := time.Now()
			revokeAt(t, a, tok.AccessToken)
			took = append(took, untilStatus(t, b, http.MethodGet, tok.AccessToken, http.StatusUnauthorized, revoked))
		}
		slices.Sort(took)
		t.Logf("revocation at A refused at B after: median %v, max %v (%d revocations)", took[len(took)/2], took[len(took)-1], len(took))
	})

	t.Run("DemotionAtAReachesB", func(t *testing.T) {
		adminJSON(t, a, http.MethodPut, "/applinks/users/bob", `{"password":"bob's long password","role":"WRITE"}`)
		tok := clusterToken(t, a, "bob")
		if status, body := callAPI(b, http.MethodPost, tok.AccessToken); status != http.StatusOK || body != "bob WRITE" {
			t.Fatalf("B answered %d %q to bob's WRITE token", status, body)
		}
		demoted := time.Now()
		adminJSON(t, a, http.MethodPut, "/applinks/users/bob", `{"role":"READ"}`)
		untilStatus(t, b, http.MethodPost, tok.AccessToken, http.StatusForbidden, demoted)
	})

	t.Run("LinkEditAndDeleteAtAReachB", func(t *testing.T) {
		var l struct {
			ID           string `json:"id"`
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		created := adminJSON(t, a, http.MethodPost, "/applinks/links", fmt.Sprintf(`{"name":"runtime-app","redirect_uris":[%q],"scope":"WRITE"}`, redirectURI))
		if err := json.Unmarshal(created, &l); err != nil || l.ClientSecret == "" {
			t.Fatalf("creating a link at A: %v %s", err, created)
		}
		tok, err := flow.Run(a.base, "alice", password, l.ClientID, l.ClientSecret, redirectURI, "")
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := callAPI(b, http.MethodPost, tok.AccessToken); status != http.StatusOK {
			t.Fatalf("B refused a WRITE token of a link created at A: %d", status)
		}
		edited := time.Now()
		adminJSON(t, a, http.MethodPatch, "/applinks/links/"+l.ID, `{"scope":"READ"}`)
		untilStatus(t, b, http.MethodPost, tok.AccessToken, http.StatusForbidden, edited)
		deleted := time.Now()
		adminJSON(t, a, http.MethodDelete, "/applinks/links/"+l.ID, "")
		untilStatus(t, b, http.MethodGet, tok.AccessToken, http.StatusUnauthorized, deleted)
	})

	t.Run("RefreshReplayAtBRevokesTheFamily", func(t *testing.T) {
		tok := clusterToken(t, a, "alice")
		status, next := refreshAt(a.base, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh at A: %d %v", status, next)
		}
		access := next["access_token"].(string)
		callAPI(b, http.MethodGet, access)  // cached at B
		time.Sleep(1200 * time.Millisecond) // past the refresh grace
		replayed := time.Now()
		if status, m := refreshAt(b.base, tok.RefreshToken); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("replay of a used refresh token at B: %d %v, want 400 invalid_grant", status, m)
		}
		if status, m := refreshAt(a.base, next["refresh_token"].(string)); status != http.StatusBadRequest {
			t.Fatalf("the family's newest refresh token still works at A after the replay at B: %d %v", status, m)
		}
		untilStatus(t, b, http.MethodGet, access, http.StatusUnauthorized, replayed)
	})

	t.Run("ConcurrentRefreshOnBothNodes", func(t *testing.T) {
		tok := clusterToken(t, a, "alice")
		var wg sync.WaitGroup
		got := make([]map[string]any, 2)
		statuses := make([]int, 2)
		for i, n := range []clusterNode{a, b} {
			wg.Go(func() { statuses[i], got[i] = refreshAt(n.base, tok.RefreshToken) })
		}
		wg.Wait()
		if statuses[0] != http.StatusOK || statuses[1] != http.StatusOK {
			t.Fatalf("concurrent refreshes at A and B: %d %v, %d %v; want both 200 within the grace", statuses[0], got[0], statuses[1], got[1])
		}
		if got[0]["refresh_token"] != got[1]["refresh_token"] {
			t.Fatal("the two nodes issued two different refresh tokens for one: the family forked")
		}
		if status, m := refreshAt(b.base, got[0]["refresh_token"].(string)); status != http.StatusOK {
			t.Fatalf("the pair both nodes issued does not refresh: %d %v", status, m)
		}
	})

	t.Run("CodeReplayAtBRevokesWhatItIssued", func(t *testing.T) {
		c, err := flow.Browser(redirectURI)
		if err != nil {
			t.Fatal(err)
		}
		conf := &oauth2.Config{ClientID: clientID, ClientSecret: secretValue, RedirectURL: redirectURI,
			Endpoint: oauth2.Endpoint{AuthURL: a.base + "/rest/oauth2/latest/authorize", TokenURL: a.base + "/rest/oauth2/latest/token"}}
		resp, _, err := flow.Authorize(c, conf.AuthCodeURL("s"), "alice", password)
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		code := loc.Query().Get("code")
		tok, err := conf.Exchange(t.Context(), code)
		if err != nil {
			t.Fatal(err)
		}
		callAPI(b, http.MethodGet, tok.AccessToken)
		replayed := time.Now()
		confB := *conf
		confB.Endpoint.TokenURL = b.base + "/rest/oauth2/latest/token"
		if _, err := confB.Exchange(t.Context(), code); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("a code redeemed at A was redeemed again at B: %v", err)
		}
		untilStatus(t, b, http.MethodGet, tok.AccessToken, http.StatusUnauthorized, replayed)
	})

	t.Run("SigningKeyRotationAtAReachesB", func(t *testing.T) {
		var keys []struct {
			ID     string `json:"kid"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(adminJSON(t, a, http.MethodPost, "/applinks/keys/rotate", ""), &keys); err != nil {
			t.Fatal(err)
		}
		active := ""
		for _, k := range keys {
			if k.Status == "active" {
				active = k.ID
			}
		}
		if active == "" {
			t.Fatalf("no active key after the rotation: %+v", keys)
		}
		rotated := time.Now()
		for {
			if kids := jwksKids(t, b); slices.Contains(kids, active) {
				t.Logf("B published A's new key after %v", time.Since(rotated))
				return
			}
			if time.Since(rotated) > propagation {
				t.Fatalf("B does not publish the key A rotated to after %v", propagation)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// clusterToken runs the code flow for user at node n.
func clusterToken(t testing.TB, n clusterNode, user string) *oauth2.Token {
	t.Helper()
	pw := password
	if user == "bob" {
		pw = "bob's long password"
	}
	tok, err := flow.Run(n.base, user, pw, clientID, secretValue, redirectURI, "")
	if err != nil {
		t.Fatalf("code flow for %s at %s: %v", user, n.base, err)
	}
	return tok
}

// callAPI calls the guarded API of node n with an access token.
func callAPI(n clusterNode, method, access string) (int, string) {
	req, _ := http.NewRequest(method, n.base+"/api/x", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// untilStatus calls node n's API until it answers want, and fails the
// test when that takes longer than propagation after since; it returns
// how long it took.
func untilStatus(t testing.TB, n clusterNode, method, access string, want int, since time.Time) time.Duration {
	t.Helper()
	for {
		status, _ := callAPI(n, method, access)
		if status == want {
			return time.Since(since)
		}
		if time.Since(since) > propagation {
			t.Fatalf("%s still answers %d, not %d, %v after the change on the other node", n.base, status, want, propagation)
		}
		time.Sleep(time.Millisecond)
	}
}

// revokeAt revokes a token at node n (RFC 7009).
func revokeAt(t testing.TB, n clusterNode, tok string) {
	t.Helper()
	resp, err := http.PostForm(n.base+"/rest/oauth2/latest/revoke", url.Values{"token": {tok}, "client_id": {clientID}, "client_secret": {secretValue}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoking at %s: %d", n.base, resp.StatusCode)
	}
}

// adminJSON calls node n's admin API and returns the answer's body.
func adminJSON(t *testing.T, n clusterNode, method, path, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, n.admin+path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

// jwksKids returns the key ids node n publishes.
func jwksKids(t *testing.T, n clusterNode) []string {
	t.Helper()
	resp, err := http.Get(n.base + "/rest/oauth2/latest/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	kids := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	sort.Strings(kids)
	return kids
}

// BenchmarkRevocationPropagation measures how long after a revocation on
// node A node B refuses the token it had cached: one revocation per
// iteration (run it with -benchtime 200x), reported as the median and the
// 99th percentile.
func BenchmarkRevocationPropagation(b *testing.B) {
	a, n := startCluster(b, pgtest.DSN(b))
	// One browser, signed in once, consents again for each token: the
	// sign-in rate limit would hold back a new sign-in per token.
	c, err := flow.Browser(redirectURI)
	if err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		tok, err := flow.RunIn(c, a.base, "alice", password, clientID, secretValue, redirectURI, "")
		if err != nil {
			b.Fatal(err)
		}
		for range 2 {
			if status, _ := callAPI(n, http.MethodGet, tok.AccessToken); status != http.StatusOK {
				b.Fatalf("B refused a live token: %d", status)
			}
		}
		b.StartTimer()
		revoked := time.Now()
		revokeAt(b, a, tok.AccessToken)
		took = append(took, untilStatus(b, n, http.MethodGet, tok.AccessToken, http.StatusUnauthorized, revoked))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
