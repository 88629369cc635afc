package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
)

// The at-rest keys of the rotation test: the one the data is sealed with,
// and the one it is rotated to.
const (
	rotationKeyA = "the at-rest key the gateway was first sealed with"
	rotationKeyB = "the at-rest key the gateway is rotated to, 32+ chars"
)

// rotationLinks is how many more runtime incoming links the rotation
// test creates, so that the re-seal pass takes long enough for traffic to
// run during it.
const rotationLinks = 1000

// rotationGateway starts the gateway on dir with the applinks lines keys
// (secret_key and previous keys) and, when site is set, the outgoing_token
// site of the runtime outgoing link rt.
func rotationGateway(t *testing.T, dir, keys string, site string) *gateway {
	t.Helper()
	return startGateway(t, gatewayOptions{dir: dir, extraGlobal: keys + "\n\t\t" + sysLinkConfig + allowPrivate, site: site})
}

// rotationClient is the runtime incoming link's client and what it holds.
type rotationClient struct {
	id, secret string
	tok        *oauth2.Token
}

// refresh refreshes the client's tokens with its secret (client
// authentication with the secret sealed at rest), keeping the new ones.
func (c *rotationClient) refresh() error {
	resp, err := http.PostForm(base+"/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.tok.RefreshToken}, "client_id": {c.id}, "client_secret": {c.secret}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var m struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK || m.AccessToken == "" {
		return fmt.Errorf("refresh: %d %v", resp.StatusCode, err)
	}
	c.tok = &oauth2.Token{AccessToken: m.AccessToken, RefreshToken: m.RefreshToken}
	return nil
}

// callOutgoing calls the outgoing_token site with the client's access
// token and returns the provider token the upstream received.
func (c *rotationClient) callOutgoing() (string, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/x", nil)
	req.Header.Set("Authorization", "Bearer "+c.tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var s seen
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &s) != nil || !strings.HasPrefix(s.Authorization, "Bearer at-") {
		return "", fmt.Errorf("outgoing_token: %d %s", resp.StatusCode, body)
	}
	return s.Authorization, nil
}

// works checks that, on the gateway as it runs now, the client's tokens
// pass the guard and reach the upstream with alice's provider token
// (refreshed at the fake with the runtime outgoing link's sealed secret,
// since it lives one second), that its secret refreshes them, and that a
// new authorization gives an ID token signed with the original key.
func (c *rotationClient) works(t *testing.T, when, kid string) {
	t.Helper()
	if _, err := c.callOutgoing(); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if err := c.refresh(); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if _, err := c.callOutgoing(); err != nil {
		t.Fatalf("%s, with the refreshed token: %v", when, err)
	}
	tok, err := flow.Run(base, "alice", password, c.id, c.secret, redirectURI, "WRITE openid")
	if err != nil {
		t.Fatalf("%s, a new authorization: %v", when, err)
	}
	if got := verifiedKid(t, tok, c.id); got != kid {
		t.Fatalf("%s, the ID token is signed by key %s, want the original %s", when, got, kid)
	}
}

// verifiedKid verifies tok's ID token with the gateway's published keys
// and returns the id of the key that signed it.
func verifiedKid(t *testing.T, tok *oauth2.Token, clientID string) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.ES256}}).Verify(ctx, raw); err != nil {
		t.Fatalf("verifying the ID token: %v", err)
	}
	header, _, _ := strings.Cut(raw, ".")
	var h struct {
		Kid string `json:"kid"`
	}
	b, _ := jsonBase64(header)
	_ = json.Unmarshal(b, &h)
	return h.Kid
}

// TestAtRestKeyRotationWithoutDowntime: a gateway sealed with key A holds
// a runtime incoming link with a secret, a runtime outgoing link with a
// secret, alice's provider token and its signing key. Reloaded with key B
// and A as previous_secret_key, every one of them works from the first
// request and throughout the background re-seal (clients refreshing and
// calling the outgoing_token site the whole time see no failure), and
// `caddy applinks keys at-rest --wait` reaches done with every value under
// B; restarted with B alone everything still works, with the same signing
// key; restarted with A alone, the start-up error says the data was
// re-keyed and to configure the new key.
func TestAtRestKeyRotationWithoutDowntime(t *testing.T) {
	caddyBinary(t) // built before the timing of the re-seal starts
	f := newOutFake(t, false)
	f.set(func(f *outFake) { f.expiresIn, f.refreshExpiresIn = 1, 1 })
	up := upstream(t)
	dir := t.TempDir()
	ctx := context.Background()
	keysA := fmt.Sprintf("secret_key %q", rotationKeyA)
	keysB := fmt.Sprintf("secret_key %q", rotationKeyB)
	rotating := keysB + fmt.Sprintf("\n\t\tprevious_secret_key %q", rotationKeyA)
	site := outSite("rt", up)

	// Key A: the runtime links, then alice's connection and tokens.
	g := rotationGateway(t, dir, keysA, "")
	provider := fmt.Sprintf(`{"provider":"microsoft","authorization_endpoint":%q,"token_endpoint":%q}`, f.srv.URL+"/authorize", f.srv.URL+"/token")
	if _, err := g.app().Outgoing().Create(ctx, outgoing.NewOutgoing{ConfigLink: outgoing.ConfigLink{
		Name: "rt", ProviderRaw: json.RawMessage(provider), ClientID: outClientID, ClientSecret: outClientSecret, Scopes: []string{"User.Read"},
	}, CreatedBy: "sam"}); err != nil {
		t.Fatal(err)
	}
	l, sec, err := g.app().Links().Create(ctx, links.NewLink{Name: "rotated", RedirectURIs: []string{redirectURI}, Ceiling: scope.Write, CreatedBy: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rotationLinks {
		if _, _, err := g.app().Links().Create(ctx, links.NewLink{Name: fmt.Sprintf("bulk-%04d", i), RedirectURIs: []string{redirectURI}, Ceiling: scope.Read}); err != nil {
			t.Fatal(err)
		}
	}
	g.unload()
	g = rotationGateway(t, dir, keysA, site)
	outConnected(t, outBrowser(t), "rt", "alice", "/done")
	first, err := flow.Run(base, "alice", password, l.ClientID, sec, redirectURI, "WRITE openid")
	if err != nil {
		t.Fatal(err)
	}
	client := &rotationClient{id: l.ClientID, secret: sec, tok: first}
	kid := verifiedKid(t, first, l.ClientID)
	client.works(t, "with key A", kid)
	g.unload()

	// Key B with A as previous: a reload, then traffic while re-sealing.
	g = rotationGateway(t, dir, rotating, site)
	client.works(t, "right after the reload with key B and previous A", kid)
	var failures, calls atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			calls.Add(1)
			if _, err := client.callOutgoing(); err != nil {
				failures.Add(1)
				t.Errorf("during the re-seal: %v", err)
			}
			if err := client.refresh(); err != nil {
				failures.Add(1)
				t.Errorf("during the re-seal: %v", err)
			}
		}
	})
	out, err := cli(t, "keys", "at-rest", "--wait", "--timeout", "2m")
	close(stop)
	wg.Wait()
	t.Logf("keys at-rest --wait:\n%s", out)
	if err != nil || !strings.Contains(out, "Re-seal:") || !strings.Contains(out, "done") {
		t.Fatalf("keys at-rest --wait: %v\n%s", err, out)
	}
	var s applinks.AtRestStatus
	cliJSON(t, &s, "keys", "at-rest")
	t.Logf("re-seal of %d incoming link secrets, 1 outgoing link secret, 1 connection and the signing key: confirmed done %v after the rotation began, %d rounds of calls and refreshes meanwhile, %d failed",
		rotationLinks+1, s.CheckedAt.Sub(s.RekeyedAt).Round(time.Millisecond), calls.Load(), failures.Load())
	want := map[string]int{applinks.SealedIncomingSecrets: rotationLinks + 1, applinks.SealedOutgoingSecrets: 1, applinks.SealedConnections: 1, applinks.SealedSigningKeys: 1}
	for _, c := range s.Records {
		if c.Current != want[c.Kind] || c.Previous != 0 || c.Unreadable != 0 {
			t.Errorf("%s once done: %+v, want %d under the current key", c.Kind, c, want[c.Kind])
		}
	}
	if !s.Done || s.RekeyedAt.IsZero() || s.CanRemovePrevious || !strings.Contains(s.Statement, "until") {
		t.Errorf("status once done: %+v; want done, and the previous key kept while pending authorizations from before may come back", s)
	}
	if status, _, _ := adminCall(t, http.MethodPost, "/applinks/keys/at-rest", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /applinks/keys/at-rest: %d, want 405", status)
	}
	client.works(t, "once the re-seal is done", kid)
	g.unload()

	// Key B alone.
	g = rotationGateway(t, dir, keysB, site)
	client.works(t, "restarted with key B alone", kid)
	g.unload()

	// Key A alone: refused, saying what happened.
	err = loadBare(t, dir, keysA)
	if err == nil {
		t.Fatal("the gateway started with the key its data was re-keyed from")
	}
	for _, w := range []string{"was re-keyed on", "configure the new key", "previous_secret_key"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the start-up error with key A alone does not say %q:\n%v", w, err)
		}
	}
	g = rotationGateway(t, dir, keysB, site)
	client.works(t, "with key B after the refused start", kid)
}
