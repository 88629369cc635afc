package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/users"
)

// twoOPGateway runs the gateway with sign-in through two providers, Fake
// (trusted with e-mail addresses) and Other (trusted or not).
func twoOPGateway(t *testing.T, fake, other *fakeOP, otherTrusted string) *gateway {
	t.Helper()
	return startGateway(t, gatewayOptions{site: fakeOPSite, extraGlobal: fmt.Sprintf(`login oidc %s {
			name Fake
			client_id %[2]s
			client_secret %[3]s
			trusted_email on
		}
		login oidc %[4]s {
			name Other
			client_id %[2]s
			client_secret %[3]s
			trusted_email %[5]s
		}`, fake.issuer(), fakeOPClientID, fakeOPClientSecret, other.issuer(), otherTrusted)})
}

// startAt starts a sign-in with the named provider in b and returns the
// query of the provider's answer, which b is stopped at.
func startAt(t *testing.T, b *opBrowser, provider string) url.Values {
	t.Helper()
	b.stopAtCallback = true
	defer func() { b.stopAtCallback = false }()
	b.get(t, base+users.OIDCStartPath+"?provider="+url.QueryEscape(provider)+"&return_to=%2Fhello")
	cb, err := url.Parse(b.callback)
	if err != nil || !strings.HasPrefix(cb.Path, users.OIDCCallbackPath(provider)) || cb.Query().Get("code") == "" {
		t.Fatalf("the answer of %s came to %q", provider, b.callback)
	}
	return cb.Query()
}

// TestOIDCMixUpAnswerAtAnotherProvidersCallbackIsRefused: a sign-in
// started with one provider (the attacker's) whose answer carries the
// honest provider's code to the honest provider's callback is refused,
// and the code is never sent to the attacker's token endpoint (RFC 9700
// §4.4 mix-up).
func TestOIDCMixUpAnswerAtAnotherProvidersCallbackIsRefused(t *testing.T) {
	honest, attacker := newFakeOP(t), newFakeOP(t)
	twoOPGateway(t, honest, attacker, "on")

	// Each provider's authorization request names its own callback.
	victim := newOPBrowser(t)
	startAt(t, victim, "Other")
	attacker.mu.Lock()
	ar := attacker.authRequests[len(attacker.authRequests)-1]
	attacker.mu.Unlock()
	if ar.Get("redirect_uri") != base+users.OIDCCallbackPath("Other") {
		t.Fatalf("Other's redirect_uri %q", ar.Get("redirect_uri"))
	}
	state := startAt(t, victim, "Other").Get("state")
	// The honest provider's code, issued for its own callback.
	answer := startAt(t, newOPBrowser(t), "Fake")
	answer.Set("state", state)
	status, body, at := victim.get(t, base+users.OIDCCallbackPath("Fake")+"?"+answer.Encode())
	wantFailed(t, status, body, at, http.StatusBadRequest, "callback of another provider")
	victim.wantSignedOut(t)
	honest.mu.Lock()
	attacker.mu.Lock()
	redeemed := len(honest.tokenAuth) + len(attacker.tokenAuth)
	attacker.mu.Unlock()
	honest.mu.Unlock()
	if redeemed != 0 {
		t.Fatalf("%d codes were redeemed", redeemed)
	}

	// The answer of the provider started with, at its own callback, signs in.
	b := newOPBrowser(t)
	q := startAt(t, b, "Other")
	if status, body, at := b.get(t, base+users.OIDCCallbackPath("Other")+"?"+q.Encode()); status != http.StatusOK || at != base+"/hello" || body != attacker.sub()+"@127.0.0.1 READ" {
		t.Fatalf("sign-in with Other ended at %s with %d %q", at, status, body)
	}
	// The old shared callback only says that the redirect URI changed.
	status, body, _ = newOPBrowser(t).get(t, base+users.OIDCLegacyCallbackPath+"?"+q.Encode())
	if status != http.StatusNotFound || !strings.Contains(body, "Register it at the provider") {
		t.Fatalf("old callback: %d %s", status, body)
	}
	honest.checkNoProblems(t)
	attacker.checkNoProblems(t)
}

// TestOIDCMixUpAnswerFromAnotherIssuerIsRefused: an authorization response
// whose iss names another issuer than the provider's is refused before
// its code is redeemed (RFC 9207); the provider's own iss is accepted.
func TestOIDCMixUpAnswerFromAnotherIssuerIsRefused(t *testing.T) {
	f := newFakeOP(t)
	fakeOPGateway(t, f.issuer(), "READ", "")
	f.behave(func(o *fakeOPBehaviour) { o.iss = "https://evil.example" })
	b := newOPBrowser(t)
	status, body, at := b.signIn(t, "/hello")
	wantFailed(t, status, body, at, http.StatusBadRequest, "mix-up")
	b.wantSignedOut(t)
	f.mu.Lock()
	redeemed := len(f.tokenAuth)
	f.mu.Unlock()
	if redeemed != 0 {
		t.Fatalf("the code was redeemed %d times", redeemed)
	}
	f.behave(func(o *fakeOPBehaviour) { o.iss = f.issuer() })
	newOPBrowser(t).wantSignedIn(t, f.sub()+"@127.0.0.1", "READ")
	f.checkNoProblems(t)
}

// TestOIDCMixUpAnswerWithoutPromisedIssIsRefused: when the provider's
// metadata says it sends iss (RFC 9207 §3), an answer without it is
// refused.
func TestOIDCMixUpAnswerWithoutPromisedIssIsRefused(t *testing.T) {
	f := newFakeOP(t)
	f.mu.Lock()
	f.advertiseIss = true
	f.mu.Unlock()
	fakeOPGateway(t, f.issuer(), "READ", "")
	b := newOPBrowser(t)
	status, body, at := b.signIn(t, "/hello")
	wantFailed(t, status, body, at, http.StatusBadRequest, "no iss")
	b.wantSignedOut(t)
	f.behave(func(o *fakeOPBehaviour) { o.iss = f.issuer() })
	newOPBrowser(t).wantSignedIn(t, f.sub()+"@127.0.0.1", "READ")
	f.checkNoProblems(t)
}

// TestOIDCProviderCannotTakeOverAnotherProvidersUser: with two providers
// trusted with e-mail addresses, the second asserting the verified address
// of the first one's user is refused instead of signing in as that user.
func TestOIDCProviderCannotTakeOverAnotherProvidersUser(t *testing.T) {
	fake, other := newFakeOP(t), newFakeOP(t)
	twoOPGateway(t, fake, other, "on")
	carol := map[string]any{"email": "carol@example.com", "email_verified": true}
	fake.behave(func(o *fakeOPBehaviour) { o.claims = carol })
	newOPBrowser(t).wantSignedIn(t, "carol@example.com", "READ")

	other.behave(func(o *fakeOPBehaviour) { o.claims = carol })
	b := newOPBrowser(t)
	b.stopAtCallback = true
	b.get(t, base+users.OIDCStartPath+"?provider=Other&return_to=%2Fhello")
	b.stopAtCallback = false
	status, body, at := b.get(t, b.callback)
	wantFailed(t, status, body, at, http.StatusForbidden, "belongs to another sign-in method")
	b.wantSignedOut(t)
}

// TestOIDCUntrustedProviderEmailDoesNotNameUser: a provider not trusted
// with e-mail addresses (trusted_email off) that asserts the verified
// address of another provider's user signs in an account of its own, named
// <sub>@<issuer host>, never that user.
func TestOIDCUntrustedProviderEmailDoesNotNameUser(t *testing.T) {
	fake, other := newFakeOP(t), newFakeOP(t)
	twoOPGateway(t, fake, other, "off")
	carol := map[string]any{"email": "carol@example.com", "email_verified": true}
	fake.behave(func(o *fakeOPBehaviour) { o.claims = carol })
	newOPBrowser(t).wantSignedIn(t, "carol@example.com", "READ")

	other.behave(func(o *fakeOPBehaviour) { o.claims = carol })
	b := newOPBrowser(t)
	q := startAt(t, b, "Other")
	status, body, at := b.get(t, base+users.OIDCCallbackPath("Other")+"?"+q.Encode())
	if want := other.sub() + "@127.0.0.1 READ"; status != http.StatusOK || at != base+"/hello" || body != want {
		t.Fatalf("sign-in with Other ended at %s with %d %q, want %q", at, status, body, want)
	}
	fake.checkNoProblems(t)
	other.checkNoProblems(t)
}
