package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestConcurrentCodeExchange: of many concurrent exchanges of one code,
// exactly one gets tokens.
func TestConcurrentCodeExchange(t *testing.T) {
	startGateway(t, gatewayOptions{})
	conf := oauthConfig(oauth2.AuthStyleInParams)
	code := authorize(t, browser(t), conf.AuthCodeURL("s"), "alice", "allow").Query().Get("code")
	const n = 20
	var wg sync.WaitGroup
	results := make(chan *oauth2.Token, n)
	for range n {
		wg.Go(func() {
			tok, err := conf.Exchange(context.Background(), code)
			if err == nil {
				results <- tok
			}
		})
	}
	wg.Wait()
	close(results)
	var issued []*oauth2.Token
	for tok := range results {
		issued = append(issued, tok)
	}
	if len(issued) != 1 {
		t.Fatalf("%d exchanges of one code succeeded, want 1", len(issued))
	}
	// The losers presented a used code: per RFC 6749 §4.1.2 the winner's
	// tokens are revoked too.
	if introspect(t, issued[0].AccessToken)["active"] != false {
		t.Fatal("tokens of a code presented twice are still active")
	}
}

// TestConcurrentRefresh: parallel refreshes with one refresh token within
// the grace all succeed and get the same working pair, so the family does
// not fork and after the grace it has one live refresh token. After the
// grace, presenting the parent again is a replay that revokes the family.
func TestConcurrentRefresh(t *testing.T) {
	startGateway(t, gatewayOptions{})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	const n = 20
	var wg sync.WaitGroup
	type result struct {
		status int
		m      map[string]any
	}
	results := make(chan result, n)
	for range n {
		wg.Go(func() {
			status, m := refresh(t, tok.RefreshToken)
			results <- result{status, m}
		})
	}
	wg.Wait()
	close(results)
	children := map[string]bool{}
	for r := range results {
		if r.status != http.StatusOK {
			t.Fatalf("refresh within grace failed: %d %v", r.status, r.m)
		}
		children[r.m["refresh_token"].(string)] = true
		if introspect(t, r.m["access_token"].(string))["active"] != true {
			t.Fatal("a new access token is not active")
		}
	}
	if len(children) != 1 {
		t.Fatalf("%d concurrent refreshes of one token within the grace minted %d refresh tokens, want 1: the family forked", n, len(children))
	}
	var child string
	for c := range children {
		child = c
	}
	// The child rotates normally.
	status, m := refresh(t, child)
	if status != http.StatusOK {
		t.Fatalf("refreshing the child: %d %v", status, m)
	}
	latest := m["access_token"].(string)
	if introspect(t, child)["active"] != false || introspect(t, m["refresh_token"].(string))["active"] != true {
		t.Fatal("after rotating the child, the live refresh token is not only the newest one")
	}

	// After the 2s grace the parent is a replay: the family is revoked.
	time.Sleep(2500 * time.Millisecond)
	if status, m := refresh(t, tok.RefreshToken); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("replay after grace: %d %v", status, m)
	}
	if introspect(t, latest)["active"] != false {
		t.Fatal("replay did not revoke the family")
	}
	if status, _ := refresh(t, m["refresh_token"].(string)); status != http.StatusBadRequest {
		t.Fatal("the newest refresh token survived the family revocation")
	}
}

// TestSequentialRefreshRetriesDoNotForkFamily: a client that lost the
// answer (or an attacker replaying a captured refresh token) presenting
// it again within the grace gets the same pair, not a second live branch;
// after the grace one refresh token of the family is live.
func TestSequentialRefreshRetriesDoNotForkFamily(t *testing.T) {
	startGateway(t, gatewayOptions{})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	var first map[string]any
	for i := range 3 {
		status, m := refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("retry %d within the grace: %d %v", i, status, m)
		}
		if first == nil {
			first = m
		} else if m["refresh_token"] != first["refresh_token"] || m["access_token"] != first["access_token"] {
			t.Fatalf("retry %d within the grace got a new pair: the family forked", i)
		}
	}
	time.Sleep(2500 * time.Millisecond)
	if introspect(t, first["refresh_token"].(string))["active"] != true || introspect(t, tok.RefreshToken)["active"] != false {
		t.Fatal("after the grace the live refresh token is not the one pair handed out")
	}
	if status, m := refresh(t, first["refresh_token"].(string)); status != http.StatusOK {
		t.Fatalf("refreshing the only child after the grace: %d %v", status, m)
	}
}

// TestReloadWhileRequestsFlow reloads a changed config repeatedly while
// clients refresh: Badger stays open across generations and every refresh
// is answered, at worst after one resend of a request whose connection
// the reload closed.
func TestReloadWhileRequestsFlow(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	const workers = 4
	toks := make([]*oauth2.Token, workers)
	for i := range toks {
		toks[i] = obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	}
	stop := make(chan struct{})
	errs := make(chan string, 100)
	var wg sync.WaitGroup
	var done [workers]int
	for i := range workers {
		wg.Go(func() {
			rt := toks[i].RefreshToken
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, m := refreshAt(base, rt)
				// Caddy closed the connection at a reload before any answer
				// (it does so without this plugin too); the grace makes
				// sending the same token again safe.
				for try := 0; status == 0 && try < 10; try++ {
					time.Sleep(20 * time.Millisecond)
					status, m = refreshAt(base, rt)
				}
				if status != http.StatusOK {
					errs <- fmt.Sprintf("refresh failed during reload: %d %v", status, m)
					return
				}
				rt = m["refresh_token"].(string)
				done[i]++
			}
		})
	}
	// Each reload changes a setting: Caddy skips a reload whose JSON is
	// the same, which a comment alone would leave it.
	for i := range 5 {
		time.Sleep(150 * time.Millisecond)
		g.tester.InitServer(strings.Replace(g.config, "refresh_grace 2s", fmt.Sprintf("refresh_grace %ds", 3+i), 1), "caddyfile")
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	for i, n := range done {
		if n == 0 {
			t.Errorf("worker %d made no progress", i)
		}
	}
}
