package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/token"
	"github.com/applinks/caddy-applinks/module/users"
)

// floodShape is one kind of malformed or unauthenticated request.
type floodShape struct {
	method, path, contentType, body string
	header                          map[string]string
	// signIn makes the request a sign-in POST with the anti-CSRF token of
	// a freshly fetched sign-in form: body holds the other form fields.
	signIn bool
}

// floodShapes are the flood's requests, over every endpoint of the
// gateway: none carries a valid credential, a valid session or a valid
// anti-CSRF token.
var floodShapes = func() []floodShape {
	form := "application/x-www-form-urlencoded"
	long := strings.Repeat("A", 64<<10)
	basic := func(id, secret string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	authz := "/rest/oauth2/latest/authorize"
	return []floodShape{
		// Authorization endpoint: no session, unknown clients, wrong
		// redirect URIs, garbage and huge parameters.
		{method: "GET", path: authz},
		{method: "GET", path: authz + "?response_type=code&client_id=" + clientID + "&redirect_uri=" + url.QueryEscape(floodRedirect) + "&state=x&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=S256"},
		{method: "GET", path: authz + "?response_type=code&client_id=nobody&redirect_uri=http://evil.example/"},
		{method: "GET", path: authz + "?response_type=token&client_id=" + clientID + "&redirect_uri=http://evil.example/"},
		{method: "GET", path: authz + "?client_id=%ff%fe&redirect_uri=%zz"},
		{method: "GET", path: authz + "?response_type=code&client_id=" + clientID + "&state=" + long[:8<<10]},
		{method: "POST", path: authz, contentType: form, body: "client_id=" + clientID},
		// Token endpoint: no or wrong client authentication, unknown codes
		// and refresh tokens, garbage and oversized bodies.
		{method: "POST", path: "/rest/oauth2/latest/token", contentType: form, body: "grant_type=authorization_code&code=alc_bogus"},
		{method: "POST", path: "/rest/oauth2/latest/token", contentType: form, body: "grant_type=refresh_token&refresh_token=alr_bogus&client_id=" + clientID + "&client_secret=wrong"},
		{method: "POST", path: "/rest/oauth2/latest/token", contentType: form, body: "grant_type=authorization_code&code=x", header: basic(clientID, "wrong")},
		{method: "POST", path: "/rest/oauth2/latest/token", contentType: form, body: "grant_type=client_credentials", header: basic("nobody", "nothing")},
		{method: "POST", path: "/rest/oauth2/latest/token", contentType: "application/json", body: `{"grant_type":"refresh_token"}`},
		{method: "POST", path: "/rest/oauth2/latest/token", contentType: form, body: "%%%&&&==="},
		{method: "POST", path: "/rest/oauth2/latest/token", contentType: form, body: "grant_type=refresh_token&refresh_token=" + long},
		{method: "GET", path: "/rest/oauth2/latest/token?grant_type=refresh_token"},
		{method: "POST", path: "/rest/oauth2/latest/token", header: map[string]string{"Authorization": "Basic %%%"}},
		// Revocation and introspection without client authentication, or
		// with a wrong secret.
		{method: "POST", path: "/rest/oauth2/latest/revoke", contentType: form, body: "token=alr_bogus"},
		{method: "POST", path: "/rest/oauth2/latest/revoke", contentType: form, body: "token=ala_bogus", header: basic(clientID, "wrong")},
		{method: "POST", path: "/rest/oauth2/latest/introspect", contentType: form, body: "token=ala_bogus"},
		{method: "POST", path: "/rest/oauth2/latest/introspect", contentType: form, body: "token=" + long, header: basic("nobody", "x")},
		// Metadata, keys and UserInfo.
		{method: "GET", path: "/.well-known/oauth-authorization-server"},
		{method: "GET", path: "/.well-known/oauth-protected-resource"},
		{method: "GET", path: "/.well-known/openid-configuration"},
		{method: "POST", path: "/.well-known/openid-configuration", contentType: form, body: "x=1"},
		{method: "GET", path: "/rest/oauth2/latest/jwks"},
		{method: "GET", path: "/rest/oauth2/latest/userinfo"},
		{method: "POST", path: "/rest/oauth2/latest/userinfo", header: bearer("ala_bogus")},
		{method: "GET", path: "/rest/oauth2/latest/userinfo", header: bearer(long[:2<<10])},
		// Sign-in and sign-out: no anti-CSRF token, wrong passwords,
		// unknown users, garbage return_to.
		{method: "GET", path: "/applinks/login"},
		{method: "GET", path: "/applinks/login?return_to=" + url.QueryEscape("https://evil.example/")},
		{method: "POST", path: "/applinks/login", contentType: form, body: "username=alice&password=wrong"},
		{method: "POST", path: "/applinks/login", contentType: form, body: "username=nobody&password=x&csrf=forged"},
		{method: "POST", path: "/applinks/login", contentType: form, body: "username=" + long[:4<<10] + "&password=" + long[:4<<10]},
		{method: "POST", path: "/applinks/login", body: "username=alice&password=wrong", signIn: true},
		{method: "POST", path: "/applinks/login", body: "username=nobody&password=wrong", signIn: true},
		{method: "GET", path: "/applinks/logout"},
		{method: "POST", path: "/applinks/logout", contentType: form, body: "csrf=forged"},
		// A session cookie of the right form (prefix, checksum) that names
		// no session.
		{method: "POST", path: "/applinks/logout", contentType: form, body: "csrf=forged", header: map[string]string{"Cookie": users.SessionCookie + "=" + token.New(token.Session)}},
		{method: "GET", path: "/applinks/account", header: map[string]string{"Cookie": users.SessionCookie + "=" + token.New(token.Session)}},
		{method: "GET", path: "/applinks/login/oidc?provider=nobody"},
		{method: "GET", path: "/applinks/login/callback/nobody?state=x&code=y"},
		{method: "GET", path: "/applinks/login/callback?state=x&code=y"},
		// Consent without a session or with forged fields.
		{method: "GET", path: "/applinks/consent"},
		{method: "POST", path: "/applinks/consent", contentType: form, body: "decision=allow&csrf=forged&client_id=" + clientID},
		{method: "POST", path: "/applinks/consent", contentType: form, body: "decision=allow", header: map[string]string{"Cookie": "applinks_session=forged; __Host-applinks_session=forged"}},
		// Admin UI and account page without a session, or a forged one.
		{method: "GET", path: "/applinks/admin"},
		{method: "GET", path: "/applinks/admin/links/new"},
		{method: "POST", path: "/applinks/admin/links", contentType: form, body: "name=evil&redirect_uri=http://evil.example/"},
		{method: "POST", path: "/applinks/admin/links/x/delete", contentType: form, body: "csrf=forged"},
		{method: "GET", path: "/applinks/account", header: map[string]string{"Cookie": "applinks_session=" + long[:1<<10]}},
		{method: "POST", path: "/applinks/account", contentType: form, body: "action=revoke&grant=x&csrf=forged"},
		// Outgoing links: connect and callbacks without a session, with
		// forged state, for known and unknown links.
		{method: "GET", path: "/applinks/connect/drive?return_to=/files/x"},
		{method: "GET", path: "/applinks/connect/nobody"},
		{method: "GET", path: "/applinks/callback/drive?state=forged&code=x"},
		{method: "GET", path: "/applinks/callback/drive?error=access_denied&state=forged"},
		{method: "GET", path: "/applinks/callback/nobody?state=x&code=y"},
		{method: "GET", path: "/files/x"},
		{method: "GET", path: "/files/x", header: bearer("ala_bogus")},
		// The guarded app: no token, malformed, wrong prefix or checksum,
		// several tokens, oversized, Basic with a token as password.
		{method: "GET", path: "/api/ping"},
		{method: "GET", path: "/api/ping", header: bearer("ala_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_000000")},
		{method: "GET", path: "/api/ping", header: bearer("not-a-token")},
		{method: "DELETE", path: "/api/ping", header: bearer(long[:2<<10])},
		{method: "GET", path: "/api/ping", header: map[string]string{"Authorization": "Bearer a, Bearer b"}},
		{method: "GET", path: "/api/ping", header: basic("alice", "ala_bogus")},
		{method: "GET", path: "/api/ping", header: map[string]string{"Accept": "text/html"}},
		// Nothing at all.
		{method: "GET", path: "/applinks/" + strings.Repeat("x/", 200)},
		{method: "PATCH", path: "/rest/oauth2/latest/authorize"},
	}
}()

// floodOnce sends the flood's n-th request with c and returns the
// answer's status.
func floodOnce(ctx context.Context, c *http.Client, base string, n int) (int, error) {
	s := floodShapes[n%len(floodShapes)]
	body := s.body
	contentType := s.contentType
	if s.signIn {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/applinks/login", nil)
		if err != nil {
			return 0, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		f := flow.HiddenFields(string(page))
		extra, _ := url.ParseQuery(s.body)
		for k, v := range extra {
			f[k] = v
		}
		body, contentType = f.Encode(), "application/x-www-form-urlencoded"
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, base+s.path, rd)
	if err != nil {
		return 0, fmt.Errorf("flood shape %q: %w", s.path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range s.header {
		req.Header.Set(k, v)
	}
	if n%2 == 1 {
		req.Header.Set("X-Forwarded-For", spoofedAddress(n))
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// spoofedAddress is a client address for the flood's n-th request to
// claim through X-Forwarded-For (the gateway trusts the loopback proxy):
// a new IPv4 address or IPv6 /64 nearly every time, so the per-address
// tables fill to their bounds.
func spoofedAddress(n int) string {
	if n%4 == 1 {
		return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)
	}
	return fmt.Sprintf("2001:db8:%x:%x::1", n>>16&0xffff, n&0xffff)
}

// keyCounts is how many live keys a Badger store holds per key prefix
// (the part up to and including the first '/').
type keyCounts map[string]int

// sub is the per-prefix difference c - o, without the prefixes where it
// is zero.
func (c keyCounts) sub(o keyCounts) keyCounts {
	d := keyCounts{}
	for p, n := range c {
		if n != o[p] {
			d[p] = n - o[p]
		}
	}
	for p, n := range o {
		if _, ok := c[p]; !ok {
			d[p] = -n
		}
	}
	return d
}

// String lists the counts sorted by prefix.
func (c keyCounts) String() string {
	ps := make([]string, 0, len(c))
	for p := range c {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", p, c[p])
	}
	return "[" + b.String() + "]"
}

// storeCommits is the key name under which countKeys reports the number
// of write transactions the store has committed (Badger's latest commit
// version): a write that leaves no live key behind, such as the tombstone
// of a delete, still counts.
const storeCommits = "commits"

// countKeys opens the Badger store in dir (no process may hold it) and
// counts its live keys per prefix, and its commits under storeCommits.
func countKeys(t *testing.T, dir string) keyCounts {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatalf("opening the store to count its keys: %v", err)
	}
	defer db.Close()
	c := keyCounts{storeCommits: int(db.MaxVersion())}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().Key())
			p, _, _ := strings.Cut(k, "/")
			c[p+"/"]++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("counting the store's keys: %v", err)
	}
	return c
}
