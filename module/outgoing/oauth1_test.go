package outgoing_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/applinks/caddy-applinks/internal/fakejira"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

const gatewayIssuer = "https://gw.example.com"

// oauth1Fixture is a service with a declared OAuth 1.0a link "jira" to a
// fake Jira that trusts the gateway's consumer.
type oauth1Fixture struct {
	s    *outgoing.Service
	st   store.Store
	keys *secret.Keys
	jira *fakejira.Server
	link *outgoing.Link
	logs *observer.ObservedLogs
}

func newOAuth1Fixture(t *testing.T, mode string) *oauth1Fixture {
	t.Helper()
	keys, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	jira := fakejira.New(t)
	l, err := outgoing.NewLink(outgoing.ConfigLink{Name: "jira", Mode: mode, OAuth1: &outgoing.OAuth1Config{ApplicationURL: jira.URL + "/"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	st := badgertest.Open(t)
	s := outgoing.NewService([]*outgoing.Link{l}, st, keys, loadMetadataProvider, zap.New(core), time.Now, outgoing.Reach{})
	c, err := s.Consumer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jira.Trust(c.Key, c.PublicKey)
	return &oauth1Fixture{s: s, st: st, keys: keys, jira: jira, link: l, logs: logs}
}

// noRedirects is a client that stops at the first redirect.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorizeAt follows the authorize URL as the person's browser would and
// returns the query the product sends back to the gateway's callback.
func authorizeAt(t *testing.T, target string) url.Values {
	t.Helper()
	resp, err := noRedirects.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), gatewayIssuer+outgoing.CallbackPrefix+"jira?") {
		t.Fatalf("authorize page: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// connect runs the three-legged dance for user and returns the product's
// answer that was brought to the callback.
func (f *oauth1Fixture) connect(t *testing.T, user string, caller outgoing.Caller) url.Values {
	t.Helper()
	ctx := context.Background()
	target, err := f.s.Start(ctx, f.link, user, gatewayIssuer, "/done")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if !strings.HasPrefix(target, f.jira.URL+outgoing.OAuth1AuthorizePath+"?oauth_token=") {
		t.Fatalf("Start sends the browser to %s", target)
	}
	q := authorizeAt(t, target)
	p, warning, err := f.s.Finish(ctx, f.link, q, gatewayIssuer, caller)
	if err != nil || warning != "" || p.ReturnTo != "/done" || p.UserID != user {
		t.Fatalf("Finish: %+v %q %v", p, warning, err)
	}
	return q
}

// send signs a request to the product as user and sends it.
func (f *oauth1Fixture) send(t *testing.T, user, method, pathQuery, contentType, body string) (*http.Response, outgoing.Signed, fakejira.Request) {
	t.Helper()
	// The request as the handler sees it: the gateway's host, the
	// product's path; reverse_proxy then sends it to the product.
	r := httptest.NewRequest(method, "https://gw.example.com"+pathQuery, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	signed, err := f.s.Sign(context.Background(), f.link, user, r)
	if err != nil {
		t.Fatalf("Sign %s %s: %v", method, pathQuery, err)
	}
	// The product judges the signature by the Host it receives, which
	// reverse_proxy takes from r for an http upstream.
	if want := strings.TrimPrefix(f.jira.URL, "http://"); r.Host != want {
		t.Fatalf("Sign left the Host %q, want the signed URL's %q", r.Host, want)
	}
	out, _ := http.NewRequest(method, f.jira.URL+pathQuery, r.Body)
	out.Header = r.Header
	out.Host = r.Host
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seen fakejira.Request
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
			t.Fatal(err)
		}
	}
	return resp, signed, seen
}

// TestOAuth1ConnectAndSign: a per-user link connects through request
// token, authorize page and access token; each proxied request (a GET
// with a repeated query name, a form POST) is signed so that the product's
// verifier accepts it as the user's; when the product revokes the token,
// the connection becomes UNRECOVERABLE and no request is signed any more.
func TestOAuth1ConnectAndSign(t *testing.T) {
	f := newOAuth1Fixture(t, outgoing.ModePerUser)
	ctx := context.Background()
	f.jira.Approve("alice-in-jira", false)
	f.connect(t, "alice", outgoing.Caller{UserID: "alice"})
	if st, err := f.s.Status(ctx, f.link, "alice"); err != nil || st != outgoing.StatusValid {
		t.Fatalf("status after connecting: %q %v", st, err)
	}

	resp, _, seen := f.send(t, "alice", "GET", "/rest/api/2/search?jql=project%20%3D%20ABC&fields=a&fields=b", "", "")
	if resp.StatusCode != http.StatusOK || seen.User != "alice-in-jira" || seen.RawQuery != "jql=project%20%3D%20ABC&fields=a&fields=b" {
		t.Fatalf("signed GET: %d %s %+v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), seen)
	}
	c, _ := f.s.Consumer(ctx)
	if seen.Consumer != c.Key {
		t.Errorf("signed as consumer %q, want the gateway's %q", seen.Consumer, c.Key)
	}
	resp, _, seen = f.send(t, "alice", "POST", "/rest/api/2/issue/ABC-1/comment?notify=true", "application/x-www-form-urlencoded", "body=a+b+%26+c&label=x&label=y")
	if resp.StatusCode != http.StatusOK || seen.Form.Get("body") != "a b & c" || len(seen.Form["label"]) != 2 {
		t.Fatalf("signed form POST: %d %s %+v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), seen)
	}

	// Nothing of the tokens or the private key is in the store in clear.
	conn, err := f.st.GetConnection(ctx, "jira", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(conn.Sealed, []byte(seen.Token)) || !conn.Expiry.IsZero() {
		t.Errorf("the access token is stored in clear, or with an expiry: %+v", conn)
	}
	ci, err := f.st.GetConsumerIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(privateKeyOf(t, f))
	if bytes.Contains(ci.Sealed, der[len(der)-64:]) || ci.Key != c.Key {
		t.Errorf("the consumer's private key is stored in clear: %+v", ci.Key)
	}

	// Revoked in the product: 401 token_rejected.
	f.jira.Revoke("alice-in-jira")
	resp, signed, _ := f.send(t, "alice", "GET", "/rest/api/2/myself", "", "")
	problem := oauth1.ChallengeProblem(resp.Header)
	if resp.StatusCode != http.StatusUnauthorized || !outgoing.TokenRefused(problem) {
		t.Fatalf("after revocation: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if err := f.s.Rejected(ctx, signed, problem); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.s.Status(ctx, f.link, "alice"); st != outgoing.StatusUnrecoverable {
		t.Fatalf("status after the product refused the token: %q", st)
	}
	if _, err := f.s.Sign(ctx, f.link, "alice", httptest.NewRequest("GET", "/rest/api/2/myself", nil)); !errors.Is(err, outgoing.ErrNotConnected) {
		t.Errorf("Sign with an UNRECOVERABLE connection: %v", err)
	}
	if len(f.logs.FilterMessage("outgoing token refused by the remote product").All()) != 1 {
		t.Error("the refusal was not audited once")
	}

	// Connecting again gives a new token that works; a late refusal of
	// the old one leaves the new connection alone.
	f.jira.Approve("alice-in-jira", false)
	f.connect(t, "alice", outgoing.Caller{UserID: "alice"})
	if err := f.s.Rejected(ctx, signed, problem); err != nil {
		t.Fatal(err)
	}
	if resp, _, _ := f.send(t, "alice", "GET", "/rest/api/2/myself", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("after connecting again: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if st, _ := f.s.Status(ctx, f.link, "alice"); st != outgoing.StatusValid {
		t.Errorf("a refusal of the old token marked the new connection %q", st)
	}
	if err := f.s.Refresh(ctx, f.link, "alice"); !errors.Is(err, outgoing.ErrNoRefresh) {
		t.Errorf("Refresh of an OAuth 1.0a link: %v", err)
	}
	for _, e := range f.logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, seen.Token) {
				t.Errorf("log %q field %s holds the access token", e.Message, k)
			}
		}
	}
}

// privateKeyOf reads the consumer's private key back through a signature:
// the store must not hold it, so the test asks the product's verifier.
func privateKeyOf(t *testing.T, f *oauth1Fixture) any {
	t.Helper()
	ci, err := f.st.GetConsumerIdentity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	der, err := f.keys.Open(ci.Sealed, []byte("oauth1 consumer "+ci.Key))
	if err != nil {
		t.Fatalf("the consumer key does not open with its binding: %v", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestOAuth1CallbackRefusals: a denied authorization, an answer naming
// another request token, one without a verifier, and an answer brought by
// someone else store nothing.
func TestOAuth1CallbackRefusals(t *testing.T) {
	f := newOAuth1Fixture(t, outgoing.ModePerUser)
	ctx := context.Background()
	finish := func(user string, caller outgoing.Caller, change func(q url.Values)) error {
		target, err := f.s.Start(ctx, f.link, user, gatewayIssuer, "")
		if err != nil {
			t.Fatal(err)
		}
		q := authorizeAt(t, target)
		change(q)
		_, _, err = f.s.Finish(ctx, f.link, q, gatewayIssuer, caller)
		return err
	}
	alice := outgoing.Caller{UserID: "alice"}
	f.jira.Approve("alice-in-jira", true)
	if err := finish("alice", alice, func(url.Values) {}); !strings.Contains(errString(err), "denied") {
		t.Errorf("denied: %v", err)
	}
	f.jira.Approve("alice-in-jira", false)
	for name, change := range map[string]func(url.Values){
		"another request token": func(q url.Values) { q.Set("oauth_token", "forged") },
		"no verifier":           func(q url.Values) { q.Del("oauth_verifier") },
		"a wrong verifier":      func(q url.Values) { q.Set("oauth_verifier", "guessed") },
	} {
		var ce *outgoing.CallbackError
		if err := finish("alice", alice, change); !errors.As(err, &ce) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var ce *outgoing.CallbackError
	if err := finish("alice", outgoing.Caller{UserID: "mallory"}, func(url.Values) {}); !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
		t.Errorf("brought by another user: %v", err)
	}
	if _, err := f.st.GetConnection(ctx, "jira", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused callback stored a connection: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestOAuth1UnknownConsumer: a product that has no incoming
// authentication for the gateway refuses the request token with
// consumer_key_unknown, which Start reports as a RemoteRefusal.
func TestOAuth1UnknownConsumer(t *testing.T) {
	f := newOAuth1Fixture(t, outgoing.ModeShared)
	other, err := outgoing.NewLink(outgoing.ConfigLink{Name: "jira", Mode: outgoing.ModeShared, OAuth1: &outgoing.OAuth1Config{ApplicationURL: f.jira.URL, ConsumerKey: "not-entered-in-jira"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := outgoing.NewService([]*outgoing.Link{other}, f.st, f.keys, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{})
	_, err = s.Start(context.Background(), other, "", gatewayIssuer, "")
	var refusal *outgoing.RemoteRefusal
	if !errors.As(err, &refusal) || refusal.Problem != oauth1.ProblemConsumerKeyUnknown {
		t.Fatalf("Start with a consumer key the product does not know: %v", err)
	}
}

// TestConsumerIdentityIsOnePerStore: gateways sharing a store that ask
// for the consumer identity at once get one and the same, kept across
// restarts; its private key opens only with the store's at-rest key.
func TestConsumerIdentityIsOnePerStore(t *testing.T) {
	keys, _ := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	st := badgertest.Open(t)
	const gateways = 4
	got := make([]*outgoing.Consumer, gateways)
	var wg sync.WaitGroup
	for i := range got {
		s := outgoing.NewService(nil, st, keys, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{})
		wg.Go(func() {
			c, err := s.Consumer(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = c
		})
	}
	wg.Wait()
	for _, c := range got[1:] {
		if c == nil || got[0] == nil || c.Key != got[0].Key || !c.PublicKey.Equal(got[0].PublicKey) {
			t.Fatal("gateways sharing a store got different consumer identities")
		}
	}
	if !strings.HasPrefix(got[0].Key, "applinks:") || got[0].PublicKey.N.BitLen() != 2048 {
		t.Errorf("consumer key %q, %d-bit key", got[0].Key, got[0].PublicKey.N.BitLen())
	}
	if pub, err := oauth1.ParsePublicKey([]byte(got[0].PublicKeyPEM())); err != nil || !pub.Equal(got[0].PublicKey) {
		t.Errorf("PEM public key: %v", err)
	}
	if pub, err := oauth1.ParsePublicKey([]byte(got[0].PublicKeyBase64())); err != nil || !pub.Equal(got[0].PublicKey) {
		t.Errorf("base64 public key: %v", err)
	}
	restarted := outgoing.NewService(nil, st, keys, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{})
	if c, err := restarted.Consumer(context.Background()); err != nil || c.Key != got[0].Key {
		t.Errorf("after a restart: %v", err)
	}
	other, _ := secret.FromPassphrase("another passphrase of at least thirty-two characters")
	if _, err := outgoing.NewService(nil, st, other, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{}).Consumer(context.Background()); err == nil {
		t.Error("the consumer key opened with another at-rest key")
	}
}

// TestOAuth1LinkSettings: what an OAuth 1.0a link may and may not have,
// and the URL its requests are signed for.
func TestOAuth1LinkSettings(t *testing.T) {
	for _, c := range []struct {
		name string
		link outgoing.ConfigLink
		want string
	}{
		{"https", outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com/jira"}}, ""},
		{"loopback http", outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "http://127.0.0.1:8080"}}, ""},
		{"http", outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "http://jira.example.com"}}, "https"},
		{"no URL", outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{}}, "application URL is required"},
		{"query", outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com/?x=1"}}, "without a query"},
		{"metadata address", outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://169.254.169.254"}}, "metadata"},
		{"client_id", outgoing.ConfigLink{Name: "j", ClientID: "x", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com"}}, "no provider, client_id"},
		{"scopes", outgoing.ConfigLink{Name: "j", Scopes: []string{"a"}, OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com"}}, "no provider, client_id"},
		{"mode", outgoing.ConfigLink{Name: "j", Mode: "all", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com"}}, "per_user or shared"},
		{"consumer key with a space", outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com", ConsumerKey: "a b"}}, "no spaces"},
	} {
		_, err := outgoing.NewLink(c.link, nil)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: NewLink: %v, want %q", c.name, err, c.want)
		}
		if err2 := c.link.Check(); (err == nil) != (err2 == nil) {
			t.Errorf("%s: Check %v, NewLink %v", c.name, err2, err)
		}
	}
	if _, err := outgoing.NewLink(outgoing.ConfigLink{Name: "j", OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com"}}, &metadataProvider{}); err == nil {
		t.Error("an oauth1 link with a provider module")
	}
	o := &outgoing.OAuth1Config{ApplicationURL: "https://Jira.example.com:8443/jira/"}
	r := httptest.NewRequest("POST", "http://gw.example.com/jira/rest/api/2/issue/caf%C3%A9?a=1&a=2", nil)
	if got := o.SignedURL(r); got != "https://Jira.example.com:8443/jira/rest/api/2/issue/caf%C3%A9?a=1&a=2" {
		t.Errorf("SignedURL = %s", got)
	}
	if ep := o.Endpoints(); ep.RequestTokenURL != "https://Jira.example.com:8443/jira/plugins/servlet/oauth/request-token" || ep.AccessTokenURL != "https://Jira.example.com:8443/jira/plugins/servlet/oauth/access-token" {
		t.Errorf("Endpoints = %+v", ep)
	}
}

// TestRuntimeOAuth1Link: an OAuth 1.0a link created at runtime is stored
// without a provider and read back; the runtime policy refuses loopback
// application URLs; it cannot become an OAuth 2.0 link by an edit.
func TestRuntimeOAuth1Link(t *testing.T) {
	ctx := context.Background()
	keys, _ := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	st := badgertest.Open(t)
	strict := outgoing.NewService(nil, st, keys, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{})
	in := outgoing.NewOutgoing{CreatedBy: "sam", ConfigLink: outgoing.ConfigLink{Name: "jira", Mode: outgoing.ModeShared, OAuth1: &outgoing.OAuth1Config{ApplicationURL: "http://127.0.0.1:8080"}}}
	if _, err := strict.Create(ctx, in); !errors.Is(err, outgoing.ErrRefused) {
		t.Fatalf("a loopback application URL created at runtime: %v", err)
	}
	in.OAuth1.ApplicationURL = "https://jira.example.com/{env.HOME}"
	if _, err := strict.Create(ctx, in); !errors.Is(err, outgoing.ErrPlaceholder) {
		t.Fatalf("a placeholder in a runtime application URL: %v", err)
	}
	in.OAuth1 = &outgoing.OAuth1Config{ApplicationURL: "https://jira.example.com", ConsumerKey: "gw"}
	if _, err := strict.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	ol, err := st.GetOutgoingLink(ctx, "jira")
	if err != nil || ol.Provider != nil || ol.OAuth1 == nil || ol.OAuth1.ConsumerKey != "gw" || ol.Mode != outgoing.ModeShared {
		t.Fatalf("stored: %+v %v", ol, err)
	}
	l, err := strict.Link(ctx, "jira")
	if err != nil || l.OAuth1 == nil || l.OAuth1.ApplicationURL != "https://jira.example.com" || l.Provider != nil {
		t.Fatalf("read back: %+v %v", l, err)
	}
	if _, err := strict.Update(ctx, "jira", outgoing.EditOutgoing{ClientID: "c", Mode: outgoing.ModeShared}, "sam"); err == nil {
		t.Error("an edit made an OAuth 1.0a link an OAuth 2.0 one")
	}
	l, err = strict.Update(ctx, "jira", outgoing.EditOutgoing{Mode: outgoing.ModePerUser, OAuth1: &outgoing.OAuth1Config{ApplicationURL: "https://jira2.example.com"}}, "sam")
	if err != nil || l.OAuth1.ApplicationURL != "https://jira2.example.com" || l.OAuth1.ConsumerKey != "" || l.Mode != outgoing.ModePerUser {
		t.Fatalf("Update: %+v %v", l, err)
	}
	if _, err := strict.Endpoint(ctx, l); err == nil {
		t.Error("an OAuth 1.0a link has OAuth 2.0 endpoints")
	}
}
