package integration

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/store"
)

// subjects are what a link learns as a user's sub: from the ID token, the
// UserInfo endpoint, introspection and the ID token of a refresh.
type subjects struct {
	idToken, userInfo, introspection, refreshed string
}

// subjectsOf runs the flow with openid for user (whose password is
// password) and collects every sub the link is told.
func subjectsOf(t *testing.T, user string) subjects {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.ES256}})
	conf := oauthConfig(oauth2.AuthStyleInHeader)
	conf.Scopes = []string{"WRITE", "openid", "profile"}
	pkce := oauth2.GenerateVerifier()
	loc := authorize(t, browser(t), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(pkce)), user, "allow")
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	var out subjects
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verifying the ID token: %v", err)
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil || claims.PreferredUsername != user {
		t.Errorf("preferred_username = %q (%v), want %q", claims.PreferredUsername, err, user)
	}
	out.idToken = idt.Subject
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	out.userInfo = info.Subject
	in := introspect(t, tok.AccessToken)
	out.introspection, _ = in["sub"].(string)
	if in["username"] != user {
		t.Errorf("introspection username = %v, want %s", in["username"], user)
	}
	tok.Expiry = tok.Expiry.Add(-2 * 3600e9)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	rawFresh, _ := fresh.Extra("id_token").(string)
	idt2, err := verifier.Verify(ctx, rawFresh)
	if err != nil {
		t.Fatalf("verifying the refreshed ID token: %v", err)
	}
	out.refreshed = idt2.Subject
	return out
}

// one returns the sub every answer agreed on, failing when they differ or
// when it gives the user's name away.
func (s subjects) one(t *testing.T, user string) string {
	t.Helper()
	if s.idToken == "" || s.userInfo != s.idToken || s.introspection != s.idToken || s.refreshed != s.idToken {
		t.Fatalf("the link was told different subjects for %s: %+v", user, s)
	}
	if strings.Contains(strings.ToLower(s.idToken), strings.ToLower(user)) {
		t.Fatalf("the subject %q of %s is made of the user name", s.idToken, user)
	}
	return s.idToken
}

// TestRecreatedUserDoesNotInheritSubject: a user deleted and created again
// under the same name is another person to the linked applications: they
// get another sub, so no application mistakes them for the first.
func TestRecreatedUserDoesNotInheritSubject(t *testing.T) {
	startGateway(t, gatewayOptions{})
	putUser(t, "zoe", map[string]any{"password": password, "role": "WRITE"})
	first := subjectsOf(t, "zoe").one(t, "zoe")
	if again := subjectsOf(t, "zoe").one(t, "zoe"); again != first {
		t.Fatalf("zoe's subject changed between two sign-ins: %s, then %s", first, again)
	}
	putUser(t, "zoe", map[string]any{"password": "a-new-password-2", "role": "WRITE", "disabled": false})
	putUser(t, "zoe", map[string]any{"password": password, "role": "WRITE"})
	if kept := subjectsOf(t, "zoe").one(t, "zoe"); kept != first {
		t.Fatalf("changing zoe's password changed her subject: %s, then %s", first, kept)
	}
	if status, _, _ := adminCall(t, "DELETE", "/applinks/users/zoe", nil); status != http.StatusNoContent {
		t.Fatalf("delete zoe: %d", status)
	}
	putUser(t, "zoe", map[string]any{"password": password, "role": "WRITE"})
	if second := subjectsOf(t, "zoe").one(t, "zoe"); second == first {
		t.Fatalf("a new user named zoe inherited the deleted zoe's subject %s", first)
	}
}

// TestDeclaredUserSubjectIsStable: a user declared in the Caddyfile keeps
// one opaque sub across sign-ins and restarts, and two users never share
// one.
func TestDeclaredUserSubjectIsStable(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{dir: dir})
	alice := subjectsOf(t, "alice").one(t, "alice")
	wendy := subjectsOf(t, "wendy").one(t, "wendy")
	if alice == wendy {
		t.Fatalf("alice and wendy share the subject %s", alice)
	}
	g.unload()
	startGateway(t, gatewayOptions{dir: dir})
	if after := subjectsOf(t, "alice").one(t, "alice"); after != alice {
		t.Fatalf("alice's subject changed across a restart: %s, then %s", alice, after)
	}
}

// TestRecycledProviderEmailGetsNewSubject: when a provider account is
// deleted here and its e-mail address later signs in as another account
// of the provider, the newcomer is a new user with a new sub, not the
// previous owner of the address.
func TestRecycledProviderEmailGetsNewSubject(t *testing.T) {
	f := newFakeOP(t)
	g := fakeOPGateway(t, f.issuer(), "READ", "")
	ctx := context.Background()
	const email = "carol@example.com"
	claims := map[string]any{"email": email, "email_verified": true}
	f.behave(func(o *fakeOPBehaviour) { o.claims = claims })
	newOPBrowser(t).wantSignedIn(t, email, "READ")
	var stored store.Subject
	g.inStore(func(st store.Store) {
		var err error
		if stored, err = st.GetSubject(ctx, email); err != nil {
			t.Fatalf("the provider's new user got no subject at sign-in: %v", err)
		}
	})
	first, err := g.app().Users().Subject(ctx, email, time.Now())
	if err != nil || first != stored.Subject || strings.Contains(first, "carol") || first == f.sub() {
		t.Fatalf("subject of %s: %q (%v), stored %q", email, first, err, stored.Subject)
	}

	if status, _, _ := adminCall(t, "DELETE", "/applinks/users/"+url.PathEscape(email), nil); status != http.StatusNoContent {
		t.Fatalf("delete %s: %d", email, status)
	}
	f.reset() // another account of the provider, with the same address
	f.behave(func(o *fakeOPBehaviour) { o.claims = claims })
	newOPBrowser(t).wantSignedIn(t, email, "READ")
	second, err := g.app().Users().Subject(ctx, email, time.Now())
	if err != nil || second == first {
		t.Fatalf("the new owner of %s was given the previous owner's subject %q (%v)", email, first, err)
	}
	f.checkNoProblems(t)
}

// TestCodeOfDeletedUserDoesNotPassToRecreatedUser: an authorization code
// (or a grant that escaped the deletion) that a deleted user left behind
// must not give tokens for a new user created later under the same name.
func TestCodeOfDeletedUserDoesNotPassToRecreatedUser(t *testing.T) {
	startGateway(t, gatewayOptions{})
	putUser(t, "yara", map[string]any{"password": password, "role": "WRITE"})
	ctx := context.Background()
	conf := oauthConfig(oauth2.AuthStyleInHeader)
	conf.Scopes = []string{"WRITE"}
	pkce := oauth2.GenerateVerifier()
	loc := authorize(t, browser(t), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(pkce)), "yara", "allow")
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code at %s", loc)
	}
	if status, _, _ := adminCall(t, "DELETE", "/applinks/users/yara", nil); status != http.StatusNoContent {
		t.Fatalf("delete yara: %d", status)
	}
	putUser(t, "yara", map[string]any{"password": password, "role": "WRITE"})
	_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("the deleted yara's code was exchanged for the new yara: %v", err)
	}
	// The new yara's own authorization works.
	pkce = oauth2.GenerateVerifier()
	loc = authorize(t, browser(t), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(pkce)), "yara", "allow")
	if _, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce)); err != nil {
		t.Fatalf("the new yara's own code: %v", err)
	}
}
