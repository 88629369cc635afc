package grants_test

import (
	"context"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/scope"
)

// RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestNormalizeMethod(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"", grants.MethodPlain, true},
		{"plain", grants.MethodPlain, true},
		{"PLAIN", grants.MethodPlain, true},
		{"S256", grants.MethodS256, true},
		{"s256", grants.MethodS256, true},
		{"sha256", grants.MethodS256, true},
		{"SHA256", grants.MethodS256, true},
		{"Sha256", grants.MethodS256, true},
		{"MD5", "", false},
		{"S512", "", false},
		{"sha-256", "", false},
		{" S256", "", false},
		{"none", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := grants.NormalizeMethod(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("NormalizeMethod(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestValidVerifierSyntax(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want bool
	}{
		{"RFC 7636 example", rfcVerifier, true},
		{"42 characters", strings.Repeat("a", 42), false},
		{"43 characters", strings.Repeat("a", 43), true},
		{"128 characters", strings.Repeat("Z", 128), true},
		{"129 characters", strings.Repeat("Z", 129), false},
		{"empty", "", false},
		{"all unreserved characters", "abcxyzABCXYZ0123456789-._~" + strings.Repeat("0", 17), true},
		{"plus", strings.Repeat("a", 42) + "+", false},
		{"slash", strings.Repeat("a", 42) + "/", false},
		{"padding", strings.Repeat("a", 42) + "=", false},
		{"space", strings.Repeat("a", 21) + " " + strings.Repeat("a", 21), false},
		{"percent", strings.Repeat("a", 42) + "%", false},
		{"NUL", strings.Repeat("a", 42) + "\x00", false},
		{"non-ASCII", strings.Repeat("a", 41) + "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grants.ValidVerifierSyntax(tt.v); got != tt.want {
				t.Fatalf("ValidVerifierSyntax(%q) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

func TestVerifyPKCE(t *testing.T) {
	plain := strings.Repeat("p", 50)
	short := strings.Repeat("s", 42)
	tests := []struct {
		name                        string
		challenge, method, verifier string
		want                        bool
	}{
		{"S256 RFC 7636 Appendix B", rfcChallenge, grants.MethodS256, rfcVerifier, true},
		{"S256 wrong verifier", rfcChallenge, grants.MethodS256, rfcVerifier[:42] + "l", false},
		{"S256 verifier sent as the challenge", rfcChallenge, grants.MethodS256, rfcChallenge, false},
		{"S256 challenge case differs", strings.ToLower(rfcChallenge), grants.MethodS256, rfcVerifier, false},
		{"S256 empty verifier", rfcChallenge, grants.MethodS256, "", false},
		{"S256 challenge with padding", rfcChallenge + "=", grants.MethodS256, rfcVerifier, false},
		{"plain equal", plain, grants.MethodPlain, plain, true},
		{"plain different", plain, grants.MethodPlain, plain[:49] + "q", false},
		{"plain prefix", plain, grants.MethodPlain, plain[:49], false},
		{"plain with the S256 challenge", rfcChallenge, grants.MethodPlain, rfcVerifier, false},
		{"plain too short on both sides", short, grants.MethodPlain, short, false},
		{"plain bad characters on both sides", plain + "+", grants.MethodPlain, plain + "+", false},
		{"empty challenge and verifier", "", grants.MethodPlain, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grants.VerifyPKCE(tt.challenge, tt.method, tt.verifier); got != tt.want {
				t.Fatalf("VerifyPKCE(%q, %q, %q) = %v, want %v", tt.challenge, tt.method, tt.verifier, got, tt.want)
			}
		})
	}
}

// TestCodeWithoutS256IsRefusedForLinkRequiringPKCE: a code issued with a
// plain challenge or none (before the link came to require PKCE, or by
// any path around the authorization endpoint's check) cannot be redeemed
// by a link that requires PKCE.
func TestCodeWithoutS256IsRefusedForLinkRequiringPKCE(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	strict := f.client
	strict.RequirePKCE = true
	for _, tc := range []struct{ challenge, method, verifier string }{
		{"", "", ""},
		{rfcVerifier, grants.MethodPlain, rfcVerifier},
	} {
		code, err := f.service.IssueCode(ctx, grants.CodeRequest{Client: f.client, UserID: "u", RedirectURI: "https://x/cb", Scope: scope.Write, CodeChallenge: tc.challenge, CodeChallengeMethod: tc.method})
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.service.Exchange(ctx, strict, code, "https://x/cb", tc.verifier, "")
		wantInvalidGrant(t, "a code with challenge method "+tc.method+" for a link requiring PKCE", err)
		if out.AccessToken != "" {
			t.Fatal("tokens issued")
		}
	}
	code, err := f.service.IssueCode(ctx, grants.CodeRequest{Client: f.client, UserID: "u", RedirectURI: "https://x/cb", Scope: scope.Write, CodeChallenge: rfcChallenge, CodeChallengeMethod: grants.MethodS256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.service.Exchange(ctx, strict, code, "https://x/cb", rfcVerifier, ""); err != nil {
		t.Fatalf("an S256 code for a link requiring PKCE: %v", err)
	}
}
