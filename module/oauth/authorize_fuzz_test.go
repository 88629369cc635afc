package oauth

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// fuzzLinks are the links the authorize fuzz target asks for: one redirect
// URI or two, PKCE required or not, ceilings WRITE and ADMIN.
func fuzzLinks() []links.Link {
	one := links.Link{Link: store.Link{ID: "l1", ClientID: "app", RedirectURIs: []string{"https://app.example.com/cb"}}, Ceiling: scope.Write}
	two := links.Link{Link: store.Link{ID: "l2", ClientID: "ci", RedirectURIs: []string{"https://ci.example.com/cb", "http://127.0.0.1:8080/cb"}, RequirePKCE: true}, Ceiling: scope.Admin}
	return []links.Link{one, two}
}

// FuzzAuthorizeQuery: whatever query a client or an attacker puts on the
// authorization endpoint, the request either shows an error page (no
// redirect), sends an error to a registered redirect URI, or is accepted
// with response_type=code exactly, a registered redirect URI, a scope no
// higher than the link's ceiling spelled with RFC 6749 scope tokens, a
// well-formed PKCE challenge (S256 where the link requires PKCE), and
// parameters that, carried through sign-in and consent, parse to the same
// request.
func FuzzAuthorizeQuery(f *testing.F) {
	ch := strings.Repeat("a", 43)
	for _, q := range []string{
		"response_type=code&client_id=app",
		"response_type=code&client_id=app&redirect_uri=https://app.example.com/cb&scope=READ+openid&state=s&nonce=n",
		"response_type=code&redirect_uri=https://evil.example/cb",
		"response_type=code&redirect_uri=https://app.example.com/cb&redirect_uri=https://evil.example/cb",
		"response_type=code&scope=ADMIN",
		"response_type=code&scope=READ%09ADMIN",
		"response_type=code&scope=READ%C2%A0WRITE",
		"response_type=code+token",
		"response_type=code&response_type=token",
		"response_type=code&code_challenge=" + ch + "&code_challenge_method=S256",
		"response_type=code&code_challenge=" + ch + "&code_challenge_method=s256",
		"response_type=code&code_challenge=" + ch + "&code_challenge_method=plain",
		"response_type=code&code_challenge_method=S256",
		"response_type=code&code_challenge=short",
		"response_type=code&scope=openid+openid+profile+email&state=%00",
		"response_type=code&scope=offline_access",
	} {
		f.Add(q, false)
		f.Add(q+"&redirect_uri=http://127.0.0.1:8080/cb", true)
	}
	f.Fuzz(func(t *testing.T, query string, second bool) {
		in, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		link := fuzzLinks()[0]
		if second {
			link = fuzzLinks()[1]
		}
		req, perr, rerr := parseAuthParams(link, in)
		switch {
		case perr != nil:
			if req != nil || rerr != nil {
				t.Fatalf("query %q: an error page with a request or a redirect error", query)
			}
			return
		case req == nil:
			t.Fatalf("query %q: no request and no error page", query)
		}
		if !slices.Contains(link.RedirectURIs, req.target) {
			t.Fatalf("query %q: answers at %q, which is not registered", query, req.target)
		}
		if len(in["redirect_uri"]) > 1 || len(in["client_id"]) > 1 {
			t.Fatalf("query %q: a repeated client_id or redirect_uri did not give an error page", query)
		}
		if rerr != nil {
			return
		}
		for _, k := range authParams {
			if len(in[k]) > 1 {
				t.Fatalf("query %q: accepted a repeated %s", query, k)
			}
		}
		if in.Get("response_type") != "code" {
			t.Fatalf("query %q: accepted response_type %q", query, in.Get("response_type"))
		}
		if req.scope == scope.None || req.scope > link.Ceiling {
			t.Fatalf("query %q: scope %v for ceiling %v", query, req.scope, link.Ceiling)
		}
		if want, ok := strictScope(in.Get("scope"), link.Ceiling); !ok || want != req.scope {
			t.Fatalf("query %q: scope %v, but a strict reader of %q gives %v (ok %v)", query, req.scope, in.Get("scope"), want, ok)
		}
		for i, o := range req.oidc {
			if !slices.Contains(oidcScopes, o) || slices.Contains(req.oidc[:i], o) {
				t.Fatalf("query %q: OpenID scopes %q", query, req.oidc)
			}
		}
		switch {
		case req.challenge == "" && req.method != "",
			req.challenge != "" && !grants.ValidVerifierSyntax(req.challenge),
			req.challenge != "" && req.method != grants.MethodS256 && req.method != grants.MethodPlain,
			link.RequirePKCE && (req.challenge == "" || req.method != grants.MethodS256):
			t.Fatalf("query %q: challenge %q, method %q, PKCE required %v", query, req.challenge, req.method, link.RequirePKCE)
		}
		// The consent step parses the carried parameters again.
		carried, err := url.ParseQuery(req.params.Encode())
		if err != nil {
			t.Fatalf("carried parameters %q do not parse: %v", req.params.Encode(), err)
		}
		again, perr, rerr := parseAuthParams(link, carried)
		if perr != nil || rerr != nil {
			t.Fatalf("query %q: carried as %q it is refused: %v %v", query, req.params.Encode(), perr, rerr)
		}
		if !reflect.DeepEqual(again, req) {
			t.Fatalf("query %q: carried as %q it parses to %+v, not %+v", query, req.params.Encode(), again, req)
		}
	})
}

// strictScope reads a scope parameter as RFC 6749 §3.3 defines it: tokens
// of %x21 / %x23-5B / %x5D-7E separated by single spaces. It returns the
// scope granted (the ceiling when none is named) and false when the
// parameter is not of that form.
func strictScope(list string, ceiling scope.Scope) (scope.Scope, bool) {
	if list == "" {
		return ceiling, true
	}
	best := scope.None
	for _, tok := range strings.Split(list, " ") {
		if tok == "" {
			continue // tolerate repeated spaces
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return scope.None, false
			}
		}
		if s, err := scope.Parse(tok); err == nil {
			best = max(best, s)
		} else if !slices.Contains(oidcScopes, tok) {
			return scope.None, false
		}
	}
	if best == scope.None {
		return ceiling, true
	}
	return best, true
}

// TestAuthorizeScopeJoinedByOtherWhitespaceIsRefused: an authorization
// request cannot name a scope by joining tokens with a tab or a no-break
// space; it is refused as invalid_scope instead of read as two scopes.
func TestAuthorizeScopeJoinedByOtherWhitespaceIsRefused(t *testing.T) {
	link := fuzzLinks()[0]
	for _, s := range []string{"READ\tWRITE", "READ\u00a0WRITE", "openid\nREAD"} {
		req, perr, rerr := parseAuthParams(link, url.Values{"response_type": {"code"}, "scope": {s}})
		if perr != nil || rerr == nil || rerr.Code != "invalid_scope" {
			t.Errorf("scope %q: request %+v, page %v, error %v; want invalid_scope", s, req, perr, rerr)
		}
	}
}

// TestAuthorizeWithRepeatedRedirectURIShowsAPage: a request with two
// redirect_uri parameters is never answered at either of them.
func TestAuthorizeWithRepeatedRedirectURIShowsAPage(t *testing.T) {
	link := fuzzLinks()[0]
	_, perr, rerr := parseAuthParams(link, url.Values{"response_type": {"code"}, "redirect_uri": {"https://app.example.com/cb", "https://evil.example/cb"}})
	if perr == nil || rerr != nil {
		t.Fatalf("page %v, redirect error %v; want an error page", perr, rerr)
	}
}
