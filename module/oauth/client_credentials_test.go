package oauth

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/token"
)

func basicHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// FuzzClientCredentials: whatever form body and Authorization header a
// client sends to the token endpoint, client authentication either refuses
// it with an OAuth error or reads one id and one secret from exactly one
// method, spelled canonically; credentials encoded the way RFC 6749 §2.3.1
// (and golang.org/x/oauth2) encode them round-trip.
func FuzzClientCredentials(f *testing.F) {
	sec := token.New(token.ClientSecret)
	f.Add("grant_type=refresh_token&client_id=app&client_secret="+sec, "")
	f.Add("grant_type=refresh_token", basicHeader("app", sec))
	f.Add("client_id=app", basicHeader("app", sec))
	f.Add("client_id=app", "")
	f.Add("client_id=other", basicHeader("app", sec))
	f.Add("client_secret=x", basicHeader("app", sec))
	f.Add("client_id=a&client_id=b&client_secret=x", "")
	f.Add("", "Basic "+base64.StdEncoding.EncodeToString([]byte("app"+sec)))
	f.Add("", "Basic "+base64.StdEncoding.EncodeToString([]byte("a%zz:"+sec)))
	f.Add("", "bAsIc "+base64.StdEncoding.EncodeToString([]byte("a:b")))
	f.Add("", "Bearer "+token.New(token.Access))
	f.Add("", "Basic YTpi\r\n")
	f.Add("client_id=%zz", "")
	f.Add("client_id=app;client_secret=x", "")
	f.Fuzz(func(t *testing.T, body, header string) {
		var authorization []string
		if header != "" {
			authorization = strings.Split(header, "\x00") // NUL separates several headers
		}
		form, perr := url.ParseQuery(body)
		if perr != nil {
			return // ParseForm refuses the body before client authentication
		}
		id, secret, basic, err := clientCredentials(authorization, form)
		if e := singleValued(form); e != nil {
			if e.Code != oautherror.InvalidRequest {
				t.Fatalf("repeated parameter refused with %q", e.Code)
			}
		}
		if err != nil {
			if err.Code != oautherror.InvalidRequest && err.Code != oautherror.InvalidClient {
				t.Fatalf("body %q, header %q: refused with %q", body, header, err.Code)
			}
			if err.Code == oautherror.InvalidClient && (err.Status != http.StatusUnauthorized || err.Challenge == "" && basic) {
				t.Fatalf("body %q, header %q: invalid_client with status %d, challenge %q", body, header, err.Status, err.Challenge)
			}
			if id != "" || secret != "" {
				t.Fatalf("refused but returned %q, %q", id, secret)
			}
		} else {
			// An empty secret is a public client's (token_endpoint_auth_method
			// none); the caller looks it up as one.
			if id == "" {
				t.Fatalf("body %q, header %q: accepted an empty id (secret %q)", body, header, secret)
			}
			if basic {
				if len(authorization) != 1 || authorization[0] != basicHeader(id, secret) && !canonicalBasic(authorization[0], id, secret) {
					t.Fatalf("header %q: accepted %q, %q from a non-canonical Basic header", authorization, id, secret)
				}
				if form.Get("client_secret") != "" || form.Get("client_id") != "" && form.Get("client_id") != id {
					t.Fatalf("body %q: Basic accepted beside a conflicting form", body)
				}
			} else {
				if id != form.Get("client_id") || secret != form.Get("client_secret") {
					t.Fatalf("body %q: read %q, %q", body, id, secret)
				}
				for _, v := range authorization {
					if len(v) >= 6 && strings.EqualFold(v[:6], "Basic ") {
						t.Fatalf("header %q: a Basic header was passed over", authorization)
					}
				}
			}
		}
		// Round trip: any non-empty id and secret, encoded as RFC 6749
		// §2.3.1 says, come back unchanged.
		if body != "" && header != "" {
			gotID, gotSecret, basic, err := clientCredentials([]string{basicHeader(body, header)}, nil)
			if err != nil || !basic || gotID != body || gotSecret != header {
				t.Fatalf("round trip of %q, %q: got %q, %q, basic %v, error %v", body, header, gotID, gotSecret, basic, err)
			}
		}
	})
}

// canonicalBasic reports whether h is a Basic header in canonical base64
// whose form-decoded parts are id and secret.
func canonicalBasic(h, id, secret string) bool {
	enc := h[len("Basic "):]
	raw, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != enc {
		return false
	}
	a, b, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	ua, err1 := url.QueryUnescape(a)
	ub, err2 := url.QueryUnescape(b)
	return err1 == nil && err2 == nil && ua == id && ub == secret
}

// TestClientCredentialsInSecondAuthorizationHeaderAreRefused: a client
// cannot send two Authorization headers to the token endpoint so that one
// reader authenticates it with the first and another with the second.
func TestClientCredentialsInSecondAuthorizationHeaderAreRefused(t *testing.T) {
	sec := token.New(token.ClientSecret)
	for name, h := range map[string][]string{
		"two Basic":         {basicHeader("app", sec), basicHeader("other", sec)},
		"Bearer then Basic": {"Bearer x", basicHeader("app", sec)},
	} {
		t.Run(name, func(t *testing.T) {
			id, _, _, err := clientCredentials(h, url.Values{})
			if err == nil || err.Code != oautherror.InvalidRequest {
				t.Fatalf("client %q authenticated (error %v), want invalid_request", id, err)
			}
		})
	}
}

// TestClientCredentialsInNonCanonicalBase64AreRefused: a client cannot
// authenticate through a Basic header whose base64 hides line breaks,
// spellings other readers of the header decode differently or refuse.
func TestClientCredentialsInNonCanonicalBase64AreRefused(t *testing.T) {
	sec := token.New(token.ClientSecret)
	enc := basicHeader("app", sec)[len("Basic "):]
	for name, h := range map[string]string{
		"CRLF inside": "Basic " + enc[:10] + "\r\n" + enc[10:],
		"no padding":  "Basic " + strings.TrimRight(enc, "="),
	} {
		t.Run(name, func(t *testing.T) {
			id, _, basic, err := clientCredentials([]string{h}, url.Values{})
			if err == nil || !basic || err.Code != oautherror.InvalidClient || err.Challenge == "" {
				t.Fatalf("client %q authenticated or refused wrongly (basic %v, error %v)", id, basic, err)
			}
		})
	}
}
