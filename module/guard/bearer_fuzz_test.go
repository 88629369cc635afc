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
	"github.com/applinks/caddy-applinks/module/users"
)

// FuzzBearerToken: whatever Authorization headers a client sends, the
// guard either refuses them with invalid_token or takes one access token of
// this gateway that the header spells in its one canonical form (Bearer, or
// Basic with the token as password in canonical base64), never a token that
// a stricter reader would see differently.
func FuzzBearerToken(f *testing.F) {
	acc := token.New(token.Access)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, h := range []string{
		"", "Bearer " + acc, "bearer " + acc, "BEARER    " + acc, "Bearer\t" + acc,
		"Bearer " + acc + " ", " Bearer " + acc, "Bearer " + acc + "\r\n",
		"Basic " + b64("u:"+acc), "basic " + b64(":"+acc), "Basic " + b64(acc+":"),
		"Basic " + b64("u:" + acc)[:20] + "\r\n" + b64("u:" + acc)[20:],
		"Basic " + strings.TrimRight(b64("u:"+acc), "="),
		"Token " + acc, "Bearer " + token.New(token.Refresh), "Bearer", "Basic ",
		"baſic " + b64("u:"+acc),
	} {
		f.Add(h, "", false)
	}
	f.Add("Bearer "+acc, "Bearer "+acc, true)
	f.Add("Bearer "+acc, "", true)
	f.Fuzz(func(t *testing.T, first, second string, two bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{first}
		if two {
			r.Header["Authorization"] = append(r.Header["Authorization"], second)
		}
		tok, present, err := bearerToken(r)
		if !present {
			if two || first != "" || err != nil || tok != "" {
				t.Fatalf("headers %q: present = false, token %q, error %v", r.Header["Authorization"], tok, err)
			}
			return
		}
		if err != nil {
			var rf *refusal
			if !errors.As(err, &rf) || rf.code != oautherror.InvalidToken || tok != "" {
				t.Fatalf("headers %q: token %q, error %v (%T), want an invalid_token refusal", r.Header["Authorization"], tok, err, err)
			}
			return
		}
		if two {
			t.Fatalf("headers %q: accepted %q from two Authorization headers", r.Header["Authorization"], tok)
		}
		if token.Kind(tok) != token.Access {
			t.Fatalf("header %q: accepted %q, which is not an access token", first, tok)
		}
		if len(first) > maxAuthorizationLen {
			t.Fatalf("header of %d bytes accepted", len(first))
		}
		if !canonicalAuthorization(first, tok) {
			t.Fatalf("header %q: accepted %q from a header not in canonical form", first, tok)
		}
		// What the guard accepts, the credential stripping recognises: the
		// token never reaches an upstream, and the guard behind the applinks
		// handler still reads the same token.
		stripped := users.StripCredentials(r)
		if v := stripped.Header.Values("Authorization"); len(v) != 0 {
			t.Fatalf("header %q: accepted %q but StripCredentials leaves %q for the upstream", first, tok, v)
		}
		if again, _, err := bearerToken(stripped); err != nil || again != tok {
			t.Fatalf("header %q: after stripping the guard reads %q, %v; want %q", first, again, err, tok)
		}
	})
}

// canonicalAuthorization is the strict reading: a case-insensitive scheme,
// one or more spaces, then either the token itself (Bearer) or the
// canonical padded standard base64 of "user:token" with a user name free of
// colons (Basic).
func canonicalAuthorization(h, tok string) bool {
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " ")
	switch {
	case scheme == "Bearer" || scheme == "bearer" || scheme == "BEARER" || strings.ToLower(scheme) == "bearer" && isASCII(scheme):
		return rest == tok
	case scheme == "Basic" || scheme == "basic" || scheme == "BASIC" || strings.ToLower(scheme) == "basic" && isASCII(scheme):
		raw, err := base64.StdEncoding.Strict().DecodeString(rest)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != rest {
			return false
		}
		user, password, ok := strings.Cut(string(raw), ":")
		return ok && password == tok && !strings.Contains(user, ":")
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
