package links_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// publicKeyPEM returns a fresh RSA public key as openssl writes it.
func publicKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// TestConsumerDeclarationsAreChecked: each way a declared OAuth 1.0a
// consumer can be wrong is refused with a message naming it, and the
// right ones load.
func TestConsumerDeclarationsAreChecked(t *testing.T) {
	pub := publicKeyPEM(t)
	rsaConsumer := func(mod func(*links.ConfigLink)) links.ConfigLink {
		c := links.ConfigLink{Name: "jira", Scope: "WRITE", OAuth1: &links.OAuth1Config{ConsumerKey: "jira-key", PublicKey: pub}}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	for _, c := range []struct {
		name string
		link links.ConfigLink
		want string
	}{
		{"redirect_uri", rsaConsumer(func(c *links.ConfigLink) { c.RedirectURIs = []string{"https://a.example/cb"} }), "no redirect_uri"},
		{"client_secret", rsaConsumer(func(c *links.ConfigLink) { c.ClientSecret = "s" }), "no client_secret"},
		{"client_id", rsaConsumer(func(c *links.ConfigLink) { c.ClientID = "other" }), "consumer key"},
		{"public", rsaConsumer(func(c *links.ConfigLink) { c.Public = true }), "OAuth 2.0 settings"},
		{"no key", rsaConsumer(func(c *links.ConfigLink) { c.OAuth1.PublicKey = "" }), "public_key"},
		{"key and secret", rsaConsumer(func(c *links.ConfigLink) { c.OAuth1.SharedSecret = "s" }), "not both"},
		{"bad key", rsaConsumer(func(c *links.ConfigLink) {
			c.OAuth1.PublicKey = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
		}), "public key"},
		{"no consumer key", rsaConsumer(func(c *links.ConfigLink) { c.OAuth1.ConsumerKey = "" }), "consumer key"},
		{"URL consumer key", rsaConsumer(func(c *links.ConfigLink) { c.OAuth1.ConsumerKey = "https://jira.example.com/key" }), "https URL"},
		{"impersonation alone", rsaConsumer(func(c *links.ConfigLink) { c.OAuth1.Impersonation = true }), "two_legged"},
		{"two_legged without user", rsaConsumer(func(c *links.ConfigLink) { c.OAuth1.TwoLegged = true }), "two-legged OAuth (two_legged) needs"},
		{"bad callback", rsaConsumer(func(c *links.ConfigLink) { c.OAuth1.Callback = "ftp://jira.example.com/cb" }), "callback"},
		{"bad scope", rsaConsumer(func(c *links.ConfigLink) { c.Scope = "ROOT" }), "ROOT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.link.Check()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check: %v, want an error mentioning %q", err, c.want)
			}
		})
	}
	ok := rsaConsumer(func(c *links.ConfigLink) {
		c.OAuth1.TwoLegged, c.OAuth1.ExecuteAs, c.OAuth1.Impersonation = true, "svc", true
		c.OAuth1.Callback = "https://jira.example.com/plugins/servlet/applinks/oauth/login.dance/access"
	})
	hmac := links.ConfigLink{Name: "legacy", OAuth1: &links.OAuth1Config{ConsumerKey: "legacy-key", SharedSecret: "a shared secret"}}
	f := newFixture(t, ok, hmac)
	l, err := f.reg.Consumer(context.Background(), "jira-key")
	if err != nil {
		t.Fatalf("Consumer(jira-key): %v", err)
	}
	if l.Name != "jira" || l.ClientID != "jira-key" || l.Ceiling != scope.Write || l.OAuth1 == nil || !l.OAuth1.TwoLegged || l.OAuth1.ExecuteAs != "svc" || len(l.Secrets) != 0 {
		t.Fatalf("declared RSA consumer: %+v", l)
	}
	h, err := f.reg.Consumer(context.Background(), "legacy-key")
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := f.reg.ConsumerSecrets(h, t0)
	if err != nil || len(secrets) != 1 || secrets[0] != "a shared secret" {
		t.Fatalf("ConsumerSecrets of the HMAC consumer: %q, %v", secrets, err)
	}
	if h.Ceiling != scope.Read {
		t.Fatalf("default ceiling %s, want READ", h.Ceiling)
	}
}

// TestConsumerCredentialsAreNoOAuth2ClientCredentials: an OAuth 1.0a
// consumer's key and shared secret do not authenticate an OAuth 2.0
// client, with or without the secret, so that a consumer (or whoever
// holds its secret) cannot use the token, revocation or introspection
// endpoints as a client.
func TestConsumerCredentialsAreNoOAuth2ClientCredentials(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "legacy", OAuth1: &links.OAuth1Config{ConsumerKey: "legacy-key", SharedSecret: "a shared secret"}})
	ctx := context.Background()
	if _, err := f.reg.Authenticate(ctx, "legacy-key", "a shared secret"); !errors.Is(err, links.ErrBadClient) {
		t.Fatalf("Authenticate with the consumer's key and secret: %v, want ErrBadClient", err)
	}
	if _, err := f.reg.AuthenticatePublic(ctx, "legacy-key"); !errors.Is(err, links.ErrBadClient) {
		t.Fatalf("AuthenticatePublic with the consumer's key: %v, want ErrBadClient", err)
	}
	l, sec, err := f.reg.CreateConsumer(ctx, links.NewConsumer{Name: "runtime", ConsumerKey: "runtime-key", Ceiling: scope.Read})
	if err != nil {
		t.Fatal(err)
	}
	if sec == "" || len(l.Secrets) != 1 {
		t.Fatalf("a consumer created without a public key got no shared secret: %q %+v", sec, l.Secrets)
	}
	if _, err := f.reg.Authenticate(ctx, "runtime-key", sec); !errors.Is(err, links.ErrBadClient) {
		t.Fatalf("Authenticate with a runtime consumer's key and secret: %v, want ErrBadClient", err)
	}
	// An OAuth 2.0 client's id is no consumer key either.
	c, _ := f.create(t, "oauth2")
	if _, err := f.reg.Consumer(ctx, c.ClientID); !errors.Is(err, links.ErrUnknownConsumer) {
		t.Fatalf("Consumer(an OAuth 2.0 client id): %v, want ErrUnknownConsumer", err)
	}
}

// TestRuntimeConsumers: a consumer created at runtime is found by its key
// with its settings, its key cannot be taken twice (nor a declared
// link's), a disabled one is ErrConsumerDisabled, and editing it changes
// only its ceiling.
func TestRuntimeConsumers(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "declared", OAuth1: &links.OAuth1Config{ConsumerKey: "declared-key", SharedSecret: "x"}})
	ctx := context.Background()
	pub := publicKeyPEM(t)
	in := links.NewConsumer{Name: "jira", ConsumerKey: "jira-key", PublicKey: pub, Callback: "https://jira.example.com/cb", TwoLegged: true, ExecuteAs: "svc", Ceiling: scope.Write, CreatedBy: "admin"}
	l, sec, err := f.reg.CreateConsumer(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if sec != "" || len(l.Secrets) != 0 {
		t.Fatalf("an RSA consumer got a shared secret")
	}
	got, err := f.reg.Consumer(ctx, "jira-key")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != l.ID || got.OAuth1.PublicKey != pub || got.OAuth1.Callback != in.Callback || got.OAuth1.ExecuteAs != "svc" || got.Source != links.SourceRuntime {
		t.Fatalf("runtime consumer read back as %+v", got)
	}
	for _, dup := range []links.NewConsumer{
		{Name: "other", ConsumerKey: "jira-key", PublicKey: pub, Ceiling: scope.Read},
		{Name: "other", ConsumerKey: "declared-key", PublicKey: pub, Ceiling: scope.Read},
		{Name: "jira", ConsumerKey: "new-key", PublicKey: pub, Ceiling: scope.Read},
	} {
		if _, _, err := f.reg.CreateConsumer(ctx, dup); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("CreateConsumer(%s, %s): %v, want ErrAlreadyExists", dup.Name, dup.ConsumerKey, err)
		}
	}
	if _, _, err := f.reg.CreateConsumer(ctx, links.NewConsumer{Name: "x", ConsumerKey: "x", PublicKey: pub, Impersonation: true, Ceiling: scope.Read}); err == nil {
		t.Error("a consumer with impersonation but no two_legged was created")
	}
	if _, err := f.reg.Update(ctx, l.ID, links.Edit{Ceiling: scope.Read, RedirectURIs: []string{"https://a.example/cb"}}, "admin"); err == nil {
		t.Error("a redirect URL was given to an OAuth 1.0a consumer")
	}
	if _, err := f.reg.Update(ctx, l.ID, links.Edit{Ceiling: scope.Read}, "admin"); err == nil {
		t.Error("Update, the OAuth 2.0 edit, changed a consumer")
	}
	edited, err := f.reg.UpdateConsumer(ctx, l.ID, links.ConsumerEdit{PublicKey: pub, Ceiling: scope.Read}, "admin")
	if err != nil {
		t.Fatalf("UpdateConsumer of a consumer's ceiling: %v", err)
	}
	if edited.Ceiling != scope.Read || edited.OAuth1 == nil || edited.OAuth1.PublicKey != pub || edited.OAuth1.TwoLegged || edited.OAuth1.Callback != "" {
		t.Fatalf("edited consumer: %+v", edited.OAuth1)
	}
	if _, err := f.reg.RotateSecret(ctx, l.ID, 0, "admin"); err == nil {
		t.Error("an RSA consumer's secret was rotated")
	}
	if _, err := f.reg.SetDisabled(ctx, l.ID, true, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Consumer(ctx, "jira-key"); !errors.Is(err, links.ErrConsumerDisabled) {
		t.Fatalf("Consumer of a disabled consumer: %v, want ErrConsumerDisabled", err)
	}
	if k, err := f.reg.Kinds(ctx); err != nil || !k.OAuth1 {
		t.Fatalf("Kinds with a declared consumer: %+v %v", k, err)
	}
}

// TestConsumerProblemsNameTheirField: each bad setting of a consumer to
// create is reported on its own field, all at once, and CreateConsumer
// refuses the first of them and stores nothing.
func TestConsumerProblemsNameTheirField(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := links.NewConsumer{Name: "bad", ConsumerKey: "a key", PublicKey: "not a key", Callback: "ftp://x", TwoLegged: true, Ceiling: scope.Read}
	got := map[string]string{}
	for _, p := range in.Problems() {
		if _, dup := got[p.Field]; dup {
			t.Errorf("two problems of %s", p.Field)
		}
		got[p.Field] = p.Error()
	}
	for field, want := range map[string]string{
		links.FieldConsumerKey: "without spaces", links.FieldPublicKey: "neither PEM", links.FieldCallback: "absolute http(s) URL", links.FieldExecuteAs: "needs the user its requests act as",
	} {
		if !strings.Contains(got[field], want) {
			t.Errorf("problem of %s: %q, want %q", field, got[field], want)
		}
	}
	if _, _, err := f.reg.CreateConsumer(ctx, in); err == nil {
		t.Fatal("a consumer with bad settings was created")
	}
	if all, err := f.reg.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("links after the refused consumer: %v %v", all, err)
	}
	if ps := (links.NewConsumer{Name: "ok", ConsumerKey: "k", Impersonation: true, Ceiling: scope.Read}).Problems(); len(ps) != 1 || ps[0].Field != links.FieldImpersonation {
		t.Fatalf("impersonation without two-legged: %v", ps)
	}
	if ps := (links.NewConsumer{Name: "ok", ConsumerKey: "k", ExecuteAs: "wendy", Ceiling: scope.Read}).Problems(); len(ps) != 1 || ps[0].Field != links.FieldExecuteAs {
		t.Fatalf("execute-as without two-legged: %v", ps)
	}
}

// TestConsumerKeyFree: a consumer key is taken when a declared or runtime
// link, consumer or OAuth 2.0 client, has it as its key or client id; the
// Problem names the consumer key's field and wraps ErrAlreadyExists.
func TestConsumerKeyFree(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "declared", OAuth1: &links.OAuth1Config{ConsumerKey: "declared-key", SharedSecret: "x"}})
	ctx := context.Background()
	if _, _, err := f.reg.CreateConsumer(ctx, links.NewConsumer{Name: "rt", ConsumerKey: "rt-key", Ceiling: scope.Read}); err != nil {
		t.Fatal(err)
	}
	c, _ := f.create(t, "oauth2")
	for _, key := range []string{"declared-key", "rt-key", c.ClientID} {
		err := f.reg.ConsumerKeyFree(ctx, key)
		var p *links.ConsumerProblem
		if !errors.Is(err, store.ErrAlreadyExists) || !errors.As(err, &p) || p.Field != links.FieldConsumerKey {
			t.Errorf("ConsumerKeyFree(%s): %v, want a consumer key problem wrapping ErrAlreadyExists", key, err)
		}
	}
	if err := f.reg.ConsumerKeyFree(ctx, "free-key"); err != nil {
		t.Errorf("ConsumerKeyFree of a free key: %v", err)
	}
}

// TestUpdateConsumer: a runtime consumer's public key, callback,
// two-legged settings and ceiling change, checked as for a new one; its
// signature method stays; a declared consumer and an OAuth 2.0 link are
// refused, and a refused edit changes nothing.
func TestUpdateConsumer(t *testing.T) {
	f := newFixture(t, links.ConfigLink{Name: "declared", OAuth1: &links.OAuth1Config{ConsumerKey: "declared-key", SharedSecret: "x"}})
	ctx := context.Background()
	pub, pub2 := publicKeyPEM(t), publicKeyPEM(t)
	rsaLink, _, err := f.reg.CreateConsumer(ctx, links.NewConsumer{Name: "jira", ConsumerKey: "jira-key", PublicKey: pub, Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	hmacLink, sec, err := f.reg.CreateConsumer(ctx, links.NewConsumer{Name: "script", ConsumerKey: "script-key", Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	edit := links.ConsumerEdit{PublicKey: pub2, Callback: "https://jira.example.com/cb", TwoLegged: true, ExecuteAs: "svc", Impersonation: true, Ceiling: scope.Read}
	got, err := f.reg.UpdateConsumer(ctx, rsaLink.ID, edit, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if c := got.OAuth1; c.PublicKey != pub2 || c.Callback != edit.Callback || !c.TwoLegged || c.ExecuteAs != "svc" || !c.Impersonation || got.Ceiling != scope.Read || got.ClientID != "jira-key" {
		t.Fatalf("edited RSA consumer: %+v %v", c, got.Ceiling)
	}
	if again, err := f.reg.Consumer(ctx, "jira-key"); err != nil || again.OAuth1.PublicKey != pub2 || again.Ceiling != scope.Read {
		t.Fatalf("the edit read back: %+v %v", again.OAuth1, err)
	}
	if _, err := f.reg.UpdateConsumer(ctx, hmacLink.ID, links.ConsumerEdit{Ceiling: scope.Admin, TwoLegged: true, ExecuteAs: "svc"}, "admin"); err != nil {
		t.Fatal(err)
	}
	h, _ := f.reg.Get(ctx, hmacLink.ID)
	if secrets, err := f.reg.ConsumerSecrets(h, f.clock.Now()); err != nil || len(secrets) != 1 || secrets[0] != sec || h.Ceiling != scope.Admin {
		t.Fatalf("the HMAC consumer's secret after an edit: %v %v", secrets, err)
	}
	for _, c := range []struct {
		name, id, field string
		in              links.ConsumerEdit
	}{
		{"RSA without its key", rsaLink.ID, links.FieldPublicKey, links.ConsumerEdit{Ceiling: scope.Read}},
		{"HMAC given a key", hmacLink.ID, links.FieldPublicKey, links.ConsumerEdit{PublicKey: pub, Ceiling: scope.Read}},
		{"bad key", rsaLink.ID, links.FieldPublicKey, links.ConsumerEdit{PublicKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", Ceiling: scope.Read}},
		{"bad callback", rsaLink.ID, links.FieldCallback, links.ConsumerEdit{PublicKey: pub, Callback: "jira.example.com/cb", Ceiling: scope.Read}},
		{"two-legged without a user", rsaLink.ID, links.FieldExecuteAs, links.ConsumerEdit{PublicKey: pub, TwoLegged: true, Ceiling: scope.Read}},
	} {
		_, err := f.reg.UpdateConsumer(ctx, c.id, c.in, "admin")
		var p *links.ConsumerProblem
		if !errors.As(err, &p) || p.Field != c.field {
			t.Errorf("%s: %v, want a problem of %s", c.name, err, c.field)
		}
	}
	if after, _ := f.reg.Get(ctx, rsaLink.ID); after.OAuth1.PublicKey != pub2 || after.OAuth1.Callback != edit.Callback || after.Ceiling != scope.Read {
		t.Fatalf("refused edits changed the consumer: %+v", after.OAuth1)
	}
	if _, err := f.reg.UpdateConsumer(ctx, "cfg-declared", links.ConsumerEdit{Ceiling: scope.Read}, "admin"); !errors.Is(err, links.ErrReadOnly) {
		t.Errorf("UpdateConsumer of a declared consumer: %v, want ErrReadOnly", err)
	}
	c, _ := f.create(t, "oauth2")
	if _, err := f.reg.UpdateConsumer(ctx, c.ID, links.ConsumerEdit{Ceiling: scope.Read}, "admin"); err == nil {
		t.Error("UpdateConsumer changed an OAuth 2.0 link")
	}
	if _, err := f.reg.UpdateConsumer(ctx, "nope", links.ConsumerEdit{Ceiling: scope.Read}, "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateConsumer of no link: %v, want ErrNotFound", err)
	}
}
