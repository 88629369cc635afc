package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
)

// benchClients is the number of concurrent keep-alive clients.
const benchClients = 32

func benchGateway(b *testing.B) (*gateway, grants.Client, *http.Client) {
	return benchGatewayOn(b, "")
}

// benchGatewayOn is benchGateway with the given storage option ("" for
// Badger in a temp dir).
func benchGatewayOn(b *testing.B, storage string) (*gateway, grants.Client, *http.Client) {
	logFile := filepath.Join(b.TempDir(), "caddy.log")
	g := startGateway(b, gatewayOptions{storage: storage, globalOption: "log {\n\t\toutput file " + logFile + "\n\t}"})
	l, err := g.app().Links().Get(context.Background(), links.ConfigID("app"))
	if err != nil {
		b.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchClients * 2
	b.Cleanup(tr.CloseIdleConnections)
	return g, grants.Client{LinkID: l.ID, ClientID: l.ClientID, Ceiling: l.Ceiling}, &http.Client{Transport: tr}
}

func issueCode(b *testing.B, g *gateway, c grants.Client) string {
	code, err := g.app().Grants().IssueCode(context.Background(), grants.CodeRequest{Client: c, UserID: "alice", RedirectURI: redirectURI, Scope: scope.Write})
	if err != nil {
		b.Fatal(err)
	}
	return code
}

// tokenCall posts one token request and returns the new refresh token.
func tokenCall(hc *http.Client, form url.Values) (string, bool) {
	form.Set("client_id", clientID)
	form.Set("client_secret", secretValue)
	resp, err := hc.Post(base+"/rest/oauth2/latest/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var m struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		return "", false
	}
	return m.RefreshToken, true
}

// backends runs bench on Badger and on PostgreSQL (durable commits), side
// by side in one run.
func backends(b *testing.B, bench func(b *testing.B, storage string)) {
	b.Run("badger", func(b *testing.B) { bench(b, "") })
	b.Run("postgres", func(b *testing.B) { bench(b, fmt.Sprintf("postgres %q", pgtest.DSN(b))) })
}

// BenchmarkCodeExchange measures authorization-code exchanges per second
// through HTTP, with client authentication and the store's writes, on
// each backend. Codes are issued in process before the timer starts.
func BenchmarkCodeExchange(b *testing.B) { backends(b, benchCodeExchange) }

func benchCodeExchange(b *testing.B, storage string) {
	g, c, hc := benchGatewayOn(b, storage)
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = issueCode(b, g, c)
	}
	var next, failed atomic.Int64
	b.SetParallelism(benchClients / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code := codes[next.Add(1)-1]
			if _, ok := tokenCall(hc, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}); !ok {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d exchanges failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
}

// BenchmarkRefresh measures refresh-token grants per second through HTTP
// on each backend: each client rotates its own grant's refresh token.
func BenchmarkRefresh(b *testing.B) { backends(b, benchRefresh) }

func benchRefresh(b *testing.B, storage string) {
	g, c, hc := benchGatewayOn(b, storage)
	var failed atomic.Int64
	b.SetParallelism(benchClients / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt, ok := tokenCall(hc, url.Values{"grant_type": {"authorization_code"}, "code": {issueCode(b, g, c)}, "redirect_uri": {redirectURI}})
		if !ok {
			failed.Add(1)
			return
		}
		for pb.Next() {
			next, ok := tokenCall(hc, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if !ok {
				failed.Add(1)
				continue
			}
			rt = next
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d refreshes failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
}

// BenchmarkAdminLinksPage renders the administration UI's links list with
// 200 incoming and 50 outgoing links (25 of them with the same name, so
// Two-way rows), each outgoing one with a connection status to read.
func BenchmarkAdminLinksPage(b *testing.B) {
	g, _, _ := benchGateway(b)
	ctx := context.Background()
	for i := range 200 {
		if _, _, err := g.app().Links().Create(ctx, links.NewLink{Name: fmt.Sprintf("app-%03d", i), RedirectURIs: []string{"https://app.example.com/cb"}, Ceiling: scope.Read}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 50 {
		_, err := g.app().Outgoing().Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{
			Name: fmt.Sprintf("app-%03d", i*8), ProviderRaw: json.RawMessage(`{"provider":"google"}`), ClientID: "c", ClientSecret: "s", Mode: outgoing.ModeShared,
		}})
		if err != nil {
			b.Fatal(err)
		}
	}
	c := browser(b)
	signIn(b, c, "sam", password).Body.Close()
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Get(base + "/applinks/admin")
		if err != nil {
			b.Fatal(err)
		}
		body := readBody(b, resp)
		// A header row, the 2 Caddyfile links, 200 incoming (25 of them
		// Two-way) and the 25 outgoing-only links.
		if resp.StatusCode != http.StatusOK || strings.Count(body, "<tr>") != 1+2+200+25 {
			b.Fatalf("links page: %d, %d rows", resp.StatusCode, strings.Count(body, "<tr>"))
		}
	}
}
