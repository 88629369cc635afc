package provider_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	client "github.com/dghubble/oauth1"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/oauth1/provider"
	"github.com/applinks/caddy-applinks/module/ratelimit"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/users"
)

const (
	origin       = "https://gw.example.com"
	sharedSecret = "a shared secret of the legacy consumer"
)

// fixture is the service provider over real Badger, the real link
// registry (an RSA consumer "jira", an HMAC one "legacy") and a real user
// directory (alice, ADMIN), as the app builds it.
type fixture struct {
	svc    *provider.Service
	grants *grants.Service
	tokens *grants.Validator
	store  store.Store
	key    *rsa.PrivateKey
}

// keys are made once per test binary.
var keys = struct {
	once sync.Once
	rsa  *rsa.PrivateKey
	hash string
}{}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	keys.once.Do(func() {
		var err error
		if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		keys.hash = string(h)
	})
	der, err := x509.MarshalPKIXPublicKey(&keys.rsa.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	st := badgertest.Open(tb)
	sk, err := secret.FromPassphrase("the at-rest key of the provider's tests, 32+")
	if err != nil {
		tb.Fatal(err)
	}
	epoch := new(grants.Epoch)
	reg, err := links.New(st, sk, []links.ConfigLink{
		{Name: "jira", Scope: "WRITE", OAuth1: &links.OAuth1Config{ConsumerKey: "jira", PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}},
		{Name: "legacy", Scope: "WRITE", OAuth1: &links.OAuth1Config{ConsumerKey: "legacy", SharedSecret: sharedSecret}},
	}, time.Now, zap.NewNop(), epoch.Bump)
	if err != nil {
		tb.Fatal(err)
	}
	dir, err := users.NewDirectory(st, []users.ConfigUser{{Name: "alice", Password: keys.hash, Role: "ADMIN"}}, ratelimit.NewGate(1, 4, time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	gs := grants.New(st, dir, reg, epoch, grants.Config{AccessTTL: time.Hour, RefreshTTL: time.Hour, CodeTTL: time.Minute, OAuth1TTL: 24 * time.Hour}, time.Now, zap.NewNop())
	v := grants.NewValidator(gs, epoch, grants.DefaultCacheEntries, time.Now)
	return &fixture{svc: provider.New(st, reg, dir, gs, v, provider.Config{}, time.Now, zap.NewNop()), grants: gs, tokens: v, store: st, key: keys.rsa}
}

// sink records the Authorization header of a request and answers 200.
type sink struct{ auth string }

func (s *sink) RoundTrip(r *http.Request) (*http.Response, error) {
	s.auth = r.Header.Get("Authorization")
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
}

// sign returns the request cfg's client makes for method and path with
// tok, as the gateway receives it.
func sign(tb testing.TB, cfg *client.Config, tok *client.Token, method, path string) *http.Request {
	tb.Helper()
	s := &sink{}
	ctx := context.WithValue(context.Background(), client.HTTPClient, &http.Client{Transport: s})
	req, _ := http.NewRequest(method, origin+path, nil)
	resp, err := cfg.Client(ctx, tok).Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	in := httptest.NewRequest(method, path, nil)
	in.Header.Set("Authorization", s.auth)
	return in
}

// authorized has cfg's consumer obtain a request token and alice allow
// it, in process; it returns the request token, its secret and the
// verifier.
func (f *fixture) authorized(tb testing.TB, cfg *client.Config) (rt, rs, verifier string) {
	tb.Helper()
	ctx := context.Background()
	c, err := f.svc.IssueRequestToken(ctx, sign(tb, cfg, client.NewToken("", ""), http.MethodPost, "/plugins/servlet/oauth/request-token"), origin+"/plugins/servlet/oauth/request-token")
	if err != nil {
		tb.Fatal(err)
	}
	d, err := f.svc.Approve(ctx, c.Token, "alice", scope.Admin, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return c.Token, c.Secret, d.Verifier
}

func rsaConfig(k *rsa.PrivateKey) *client.Config {
	return &client.Config{ConsumerKey: "jira", CallbackURL: "oob", Signer: &client.RSASigner{PrivateKey: k}}
}

// TestConcurrentExchangesIssueOneToken: of many access-token requests
// for one authorized request token sent at once (each signed anew, so
// no nonce stops them), exactly one gets an access token, the others are
// token_used, and the token the winner got is revoked by the losers'
// reuse, as a reused authorization code revokes its grant; a consumer
// racing itself (or an attacker racing it) never holds two grants.
func TestConcurrentExchangesIssueOneToken(t *testing.T) {
	f := newFixture(t)
	rt, rs, verifier := f.authorized(t, rsaConfig(f.key))
	const n = 12
	reqs := make([]*http.Request, n)
	for i := range reqs {
		s := &sink{}
		cfg := rsaConfig(f.key)
		cfg.HTTPClient = &http.Client{Transport: s}
		cfg.Endpoint.AccessTokenURL = origin + "/plugins/servlet/oauth/access-token"
		_, _, _ = cfg.AccessToken(rt, rs, verifier)
		reqs[i] = httptest.NewRequest(http.MethodPost, "/plugins/servlet/oauth/access-token", nil)
		reqs[i].Header.Set("Authorization", s.auth)
	}
	var wg sync.WaitGroup
	creds := make([]provider.Credentials, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range reqs {
		wg.Go(func() {
			<-start
			creds[i], errs[i] = f.svc.IssueAccessToken(context.Background(), reqs[i], origin+"/plugins/servlet/oauth/access-token")
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		var p *oauth1.Problem
		switch {
		case err == nil:
			if won >= 0 {
				t.Fatalf("exchanges %d and %d both got an access token", won, i)
			}
			won = i
		case errors.As(err, &p) && p.Code == oauth1.ProblemTokenUsed:
		default:
			t.Fatalf("exchange %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no exchange got an access token")
	}
	req := sign(t, rsaConfig(f.key), client.NewToken(creds[won].Token, creds[won].Secret), http.MethodGet, "/rest/api/2/myself")
	if _, err := f.svc.Authenticate(context.Background(), req, origin+"/rest/api/2/myself"); err == nil {
		t.Fatal("the winner's token still works after the request token was reused")
	}
	gs, err := f.grants.List(context.Background(), store.GrantFilter{UserID: "alice"})
	if err != nil || len(gs) != 0 {
		t.Fatalf("alice's grants after the race: %d %v, want none", len(gs), err)
	}
}

// TestAuthenticateRefusesWithoutLookup: a token of another kind than an
// OAuth 1.0a access token, or with a wrong checksum, is token_rejected.
func TestAuthenticateRefusesWithoutLookup(t *testing.T) {
	f := newFixture(t)
	for _, tok := range []string{"ala_not-an-oauth1-token", "alo_" + url.QueryEscape("forged"), "alq_AAAA"} {
		req := sign(t, rsaConfig(f.key), client.NewToken(tok, ""), http.MethodGet, "/x")
		_, err := f.svc.Authenticate(context.Background(), req, origin+"/x")
		var p *oauth1.Problem
		if !errors.As(err, &p) || p.Code != oauth1.ProblemTokenRejected {
			t.Errorf("token %q: %v, want token_rejected", tok, err)
		}
	}
}
