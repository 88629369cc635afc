package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// behindProxy makes Caddy take the client address from X-Forwarded-For, so
// one test can speak from many addresses.
const behindProxy = "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}"

// tokenFrom calls the token endpoint as if from the given client address.
func tokenFrom(t *testing.T, addr string, form url.Values) (int, string) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, base+"/rest/oauth2/latest/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp)
}

// TestClientSecretFloodFromManyAddressesDoesNotLockOutKnownClient: an
// attacker guessing one link's client secret from many addresses is
// stopped by the per-client_id failure limit, yet cannot lock the real
// client out from the address it works from.
func TestClientSecretFloodFromManyAddressesDoesNotLockOutKnownClient(t *testing.T) {
	startGateway(t, gatewayOptions{globalOption: behindProxy})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	const client = "198.51.100.7"
	good := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}, "client_secret": {secretValue}}
	}
	status, body := tokenFrom(t, client, good(tok.RefreshToken))
	if status != http.StatusOK {
		t.Fatalf("the client's refresh: %d %s", status, body)
	}
	rt := jsonField(t, body, "refresh_token")

	blocked := false
	for i := range 200 {
		// Each guess from its own IPv6 /64, under the per-address limit.
		status, _ := tokenFrom(t, fmt.Sprintf("2001:db8:%x::1", i), url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {fmt.Sprintf("guess-%d", i)}})
		if status == http.StatusTooManyRequests {
			blocked = true
			break
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, status)
		}
	}
	if !blocked {
		t.Fatal("200 wrong secrets for one client_id from 200 addresses were all answered: no per-client_id limit")
	}
	// A new address is held back even with the right secret: that is what
	// stops the guessing ...
	if status, body := tokenFrom(t, "2001:db8:ffff::1", good(rt)); status != http.StatusTooManyRequests {
		t.Fatalf("a new address during the flood: %d %s, want 429", status, body)
	}
	// ... but the client, known from where it worked before, keeps working.
	status, body = tokenFrom(t, client, good(rt))
	if status != http.StatusOK {
		t.Fatalf("the known client during the flood: %d %s", status, body)
	}
}

// TestIPv6SlashSixtyFourCountsAsOneAddress: an attacker holding an IPv6
// /64 cannot escape the per-address failure limit by using a new address
// of it for every guess; clients elsewhere are not affected.
func TestIPv6SlashSixtyFourCountsAsOneAddress(t *testing.T) {
	startGateway(t, gatewayOptions{globalOption: behindProxy})
	blocked := false
	for i := range 80 {
		status, _ := tokenFrom(t, fmt.Sprintf("2001:db8:1:2::%x", i+1), url.Values{"grant_type": {"refresh_token"}, "client_id": {fmt.Sprintf("ghost-%d", i)}, "client_secret": {"x"}})
		if status == http.StatusTooManyRequests {
			blocked = true
			break
		}
	}
	if !blocked {
		t.Fatal("80 failed client authentications from one /64 were all answered")
	}
	if status, body := tokenFrom(t, "2001:db8:1:2:abcd::1", url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {secretValue}}); status != http.StatusTooManyRequests {
		t.Fatalf("another address of the blocked /64: %d %s, want 429", status, body)
	}
	if status, body := tokenFrom(t, "2001:db8:1:3::1", url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {secretValue}}); status != http.StatusBadRequest {
		t.Fatalf("a neighbouring /64: %d %s, want 400 (refresh_token is required)", status, body)
	}
}

// jsonField returns a string field of a JSON object body.
func jsonField(t *testing.T, body, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	s, _ := m[name].(string)
	return s
}

// forwardedFor sends every request as if from addr.
type forwardedFor struct{ addr string }

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// browserAt is a browser whose requests come from addr.
func browserAt(t *testing.T, addr string) *http.Client {
	c := browser(t)
	c.Transport = forwardedFor{addr}
	return c
}

// exhaustUserLimit sends wrong passwords for user, each from another
// address (addrFormat with the attempt's number), until the per-user limit
// answers 429; it fails if 40 attempts are all checked, or on any other
// answer than 401.
func exhaustUserLimit(t *testing.T, user, addrFormat string) {
	t.Helper()
	for i := range 40 {
		switch status := signInStatus(t, fmt.Sprintf(addrFormat, i), user, "wrong password"); status {
		case http.StatusTooManyRequests:
			return
		case http.StatusUnauthorized:
		default:
			t.Fatalf("wrong password %d for %s: %d", i, user, status)
		}
	}
	t.Fatalf("40 wrong passwords for %s from 40 addresses were all checked: no per-user limit", user)
}

// signInStatus signs in from addr without following the redirect.
func signInStatus(t *testing.T, addr, user, pw string) int {
	t.Helper()
	c := browserAt(t, addr)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp := signIn(t, c, user, pw)
	resp.Body.Close()
	return resp.StatusCode
}

// TestWrongPasswordFloodDoesNotLockOutUser: an attacker sending wrong
// passwords for one user name from many addresses is held back by the
// per-user limit, but cannot use it to lock the user out of sign-in from
// the address they signed in from before.
func TestWrongPasswordFloodDoesNotLockOutUser(t *testing.T) {
	startGateway(t, gatewayOptions{globalOption: behindProxy})
	const home = "198.51.100.7"
	if status := signInStatus(t, home, "alice", password); status != http.StatusSeeOther {
		t.Fatalf("alice's first sign-in: %d", status)
	}
	exhaustUserLimit(t, "alice", "2001:db8:%x::1")
	if status := signInStatus(t, "2001:db8:ffff::1", "alice", password); status != http.StatusTooManyRequests {
		t.Fatalf("a new address during the flood: %d, want 429", status)
	}
	if status := signInStatus(t, home, "alice", password); status != http.StatusSeeOther {
		t.Fatalf("alice from her usual address during the flood: %d, want 303", status)
	}
}

// TestWrongPasswordFloodDoesNotLockOutUserInHerBrowser: an attacker
// flooding wrong passwords for one user name from many addresses cannot
// lock her out of the browser she signed in with before, even when that
// browser now comes from an address the gateway has never seen; a browser
// she never signed in with stays held back, and a device cookie of hers
// does not exempt sign-ins under another name.
func TestWrongPasswordFloodDoesNotLockOutUserInHerBrowser(t *testing.T) {
	startGateway(t, gatewayOptions{globalOption: behindProxy})
	laptop := browserAt(t, "198.51.100.8")
	laptop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp := signIn(t, laptop, "alice", password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice's first sign-in: %d", resp.StatusCode)
	}
	exhaustUserLimit(t, "alice", "2001:db8:1:%x::1")
	exhaustUserLimit(t, "wendy", "2001:db8:2:%x::1")
	if status := signInStatus(t, "203.0.113.50", "alice", password); status != http.StatusTooManyRequests {
		t.Fatalf("alice in a new browser during the flood: %d, want 429", status)
	}
	laptop.Transport = forwardedFor{"203.0.113.51"} // the laptop moved to another network
	if resp := signIn(t, laptop, "alice", password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice in her own browser, from a new address, during the flood: %d, want 303", resp.StatusCode)
	}
	if resp := signIn(t, laptop, "wendy", password); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("wendy in alice's browser during the flood of wendy's name: %d, want 429", resp.StatusCode)
	}
}
