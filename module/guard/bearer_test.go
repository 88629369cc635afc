package guard

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/token"
)

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestBearerToken(t *testing.T) {
	acc := token.New(token.Access)
	last := "A"
	if acc[token.Len-1] == 'A' {
		last = "B"
	}
	badSum := acc[:token.Len-1] + last
	tests := []struct {
		name    string
		header  []string // Authorization values; none when nil
		wantTok string   // "" means refused (or absent)
		present bool
	}{
		{"no header", nil, "", false},
		{"empty header", []string{""}, "", false},
		{"Bearer", []string{"Bearer " + acc}, acc, true},
		{"lower-case bearer", []string{"bearer " + acc}, acc, true},
		{"upper-case BEARER", []string{"BEARER " + acc}, acc, true},
		{"several spaces after the scheme", []string{"Bearer   " + acc}, acc, true},
		{"Basic with the token as password", []string{basic("alice", acc)}, acc, true},
		{"Basic with empty user", []string{basic("", acc)}, acc, true},
		{"lower-case basic", []string{"basic " + base64.StdEncoding.EncodeToString([]byte("u:"+acc))}, acc, true},

		{"other scheme", []string{"Token " + acc}, "", true},
		{"Digest", []string{`Digest username="a"`}, "", true},
		{"token without scheme", []string{acc}, "", true},
		{"scheme only", []string{"Bearer"}, "", true},
		{"empty bearer token", []string{"Bearer "}, "", true},
		{"tab after the scheme", []string{"Bearer\t" + acc}, "", true},
		{"two tokens", []string{"Bearer " + acc + " " + acc}, "", true},
		{"token then tab", []string{"Bearer " + acc + "\tx"}, "", true},
		{"trailing space", []string{"Bearer " + acc + " "}, "", true},
		{"header too long", []string{"Bearer " + acc + strings.Repeat("x", 1025-len("Bearer ")-len(acc))}, "", true},
		{"header too long with valid token first", []string{"Bearer " + acc + strings.Repeat(" ", 1100)}, "", true},
		{"refresh token", []string{"Bearer " + token.New(token.Refresh)}, "", true},
		{"client secret", []string{"Bearer " + token.New(token.ClientSecret)}, "", true},
		{"session token", []string{"Bearer " + token.New(token.Session)}, "", true},
		{"bad checksum", []string{"Bearer " + badSum}, "", true},
		{"wrong prefix", []string{"Bearer xla_" + acc[4:]}, "", true},
		{"truncated", []string{"Bearer " + acc[:token.Len-1]}, "", true},
		{"Basic without password", []string{basic("alice", "")}, "", true},
		{"Basic token as user name", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(acc))}, "", true},
		{"Basic token as user name with colon", []string{basic(acc, "")}, "", true},
		{"Basic not base64", []string{"Basic !!!" + acc}, "", true},
		{"Basic empty", []string{"Basic "}, "", true},
		{"Basic password with a space", []string{basic("u", acc+" x")}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.header {
				r.Header.Add("Authorization", v)
			}
			tok, present, err := bearerToken(r)
			if present != tt.present {
				t.Errorf("present = %v, want %v", present, tt.present)
			}
			if tok != tt.wantTok {
				t.Errorf("token = %q, want %q", tok, tt.wantTok)
			}
			switch {
			case tt.wantTok != "" || !tt.present:
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
			default:
				var rf *refusal
				if !errors.As(err, &rf) {
					t.Fatalf("error = %v (%T), want a *refusal", err, err)
				}
				if rf.code != oautherror.InvalidToken {
					t.Errorf("refusal code = %q, want %q", rf.code, oautherror.InvalidToken)
				}
				if rf.description == "" || strings.Contains(rf.description, acc[4:]) {
					t.Errorf("refusal description %q is empty or holds the token", rf.description)
				}
			}
		})
	}
}

func TestBearerTokenLengthLimit(t *testing.T) {
	acc := token.New(token.Access)
	// Pad with spaces between scheme and token: they are skipped, so only
	// the length limit decides.
	pad := func(total int) string {
		return "Bearer " + strings.Repeat(" ", total-len("Bearer ")-len(acc)) + acc
	}
	tests := []struct {
		length int
		ok     bool
	}{
		{maxAuthorizationLen - 1, true},
		{maxAuthorizationLen, true},
		{maxAuthorizationLen + 1, false},
		{4096, false},
	}
	for _, tt := range tests {
		h := pad(tt.length)
		if len(h) != tt.length {
			t.Fatalf("test setup: header of %d bytes, want %d", len(h), tt.length)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", h)
		tok, present, err := bearerToken(r)
		if !present {
			t.Errorf("%d bytes: present = false", tt.length)
		}
		if got := err == nil && tok == acc; got != tt.ok {
			t.Errorf("%d bytes: token %q, error %v; want accepted %v", tt.length, tok, err, tt.ok)
		}
	}
}

// TestBearerTokenSeveralHeaders: a request with two Authorization headers
// is refused rather than judged by the first.
func TestBearerTokenSeveralHeaders(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("Authorization", "Bearer "+token.New(token.Access))
	r.Header.Add("Authorization", "Bearer "+token.New(token.Access))
	if _, present, err := bearerToken(r); !present || err == nil {
		t.Fatalf("present=%v err=%v, want a refusal", present, err)
	}
}

// TestBasicCredentialsInNonCanonicalBase64AreRefused: a client cannot make
// the guard accept a token through a Basic header whose base64 hides line
// breaks or non-zero padding bits, spellings other readers of the header
// decode differently or refuse.
func TestBasicCredentialsInNonCanonicalBase64AreRefused(t *testing.T) {
	acc := token.New(token.Access)
	enc := base64.StdEncoding.EncodeToString([]byte("us:" + acc))
	// "us:" + 52 bytes is 55 bytes: one byte left over, so the encoding
	// ends in "==" after a character carrying 4 padding bits.
	if !strings.HasSuffix(enc, "==") {
		t.Fatalf("test setup: %q does not end in ==", enc)
	}
	tail := enc[len(enc)-3]
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	padBits := enc[:len(enc)-3] + string(alphabet[strings.IndexByte(alphabet, tail)|1]) + "=="
	for name, h := range map[string]string{
		"CRLF inside":          "Basic " + enc[:20] + "\r\n" + enc[20:],
		"LF inside":            "Basic " + enc[:20] + "\n" + enc[20:],
		"non-zero padding bit": "Basic " + padBits,
	} {
		t.Run(name, func(t *testing.T) {
			if raw, err := base64.StdEncoding.DecodeString(h[len("Basic "):]); err != nil || !strings.HasSuffix(string(raw), acc) {
				t.Fatalf("test setup: the lenient decoder reads %q, %v", raw, err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", h)
			tok, present, err := bearerToken(r)
			if !present || err == nil || tok != "" {
				t.Fatalf("token %q, present %v, error %v; want a refusal", tok, present, err)
			}
		})
	}
}

// TestAuthorizationSchemeSpelledWithUnicodeFoldingIsRefused: a client
// cannot get a token accepted under a scheme such as "Baſic" (U+017F),
// which Unicode case folding equates with "Basic" but no other reader of
// the header does.
func TestAuthorizationSchemeSpelledWithUnicodeFoldingIsRefused(t *testing.T) {
	acc := token.New(token.Access)
	for _, h := range []string{
		"Baſic " + base64.StdEncoding.EncodeToString([]byte("u:"+acc)),
		"baſic " + base64.StdEncoding.EncodeToString([]byte("u:"+acc)),
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", h)
		if tok, _, err := bearerToken(r); err == nil || tok != "" {
			t.Errorf("header %q: accepted %q", h, tok)
		}
	}
}
