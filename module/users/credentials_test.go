package users_test

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/applinks/caddy-applinks/module/token"
	"github.com/applinks/caddy-applinks/module/users"
)

// TestStripCredentialsTakesEveryGatewayCookie: no spelling of a gateway
// cookie (prefix, case, several Cookie headers) and no gateway token in
// Authorization slips past StripCredentials to the next handler, while
// other cookies and foreign Authorization values are left as sent, and
// the gateway's later handlers still read what was taken.
func TestStripCredentialsTakesEveryGatewayCookie(t *testing.T) {
	access := token.New(token.Access)
	session := token.New(token.Session)
	oauth1 := token.New(token.OAuth1Access)
	for _, tc := range []struct {
		name           string
		cookies        []string
		authorization  string
		wantCookie     string
		wantAuthorized string
	}{
		{"bare session", []string{"applinks_session=" + session}, "", "", ""},
		{"host prefixed among others", []string{"a=1; __Host-applinks_session=" + session + "; b=2"}, "", "a=1; b=2", ""},
		{"secure prefix and odd case", []string{"__SECURE-Applinks_Login=x;theme=dark", "APPLINKS_OIDC=y"}, "", "theme=dark", ""},
		{"lookalike kept", []string{"my_applinks_session=z; applinks=1"}, "", "my_applinks_session=z; applinks=1", ""},
		{"gateway bearer", nil, "Bearer " + access, "", ""},
		{"gateway token as Basic password", nil, "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+access)), "", ""},
		{"gateway OAuth 1.0a token", nil, `OAuth oauth_consumer_key="jira", oauth_token="` + oauth1 + `", oauth_signature="c2ln"`, "", ""},
		{"foreign OAuth 1.0a header kept", nil, `OAuth oauth_consumer_key="jira", oauth_token="abc", oauth_signature="c2ln"`, "", `OAuth oauth_consumer_key="jira", oauth_token="abc", oauth_signature="c2ln"`},
		{"foreign bearer kept", nil, "Bearer ghp_abc", "", "Bearer ghp_abc"},
		{"foreign basic kept", []string{"k=v"}, "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p")), "k=v", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			for _, c := range tc.cookies {
				r.Header.Add("Cookie", c)
			}
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			r = users.StripCredentials(r)
			if got := r.Header.Get("Cookie"); got != tc.wantCookie || len(r.Header.Values("Cookie")) > 1 {
				t.Errorf("Cookie %q, want %q", r.Header.Values("Cookie"), tc.wantCookie)
			}
			if got := r.Header.Get("Authorization"); got != tc.wantAuthorized {
				t.Errorf("Authorization %q, want %q", got, tc.wantAuthorized)
			}
			if tc.authorization != "" && (len(users.Authorization(r)) != 1 || users.Authorization(r)[0] != tc.authorization) {
				t.Errorf("the gateway's handlers read Authorization %q, want %q", users.Authorization(r), tc.authorization)
			}
		})
	}

	// A second strip (require_token after the applinks handler) keeps the
	// session readable.
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Cookie", "applinks_session="+session+"; x=1")
	r = users.StripCredentials(users.StripCredentials(r))
	if v, ok := (users.Cookies{}).Value(r, users.SessionCookie); !ok || v != session {
		t.Fatalf("session after stripping: %q %v", v, ok)
	}
}

// TestIsHTTPSIgnoresForwardedProtoFromClients: a client cannot make the
// gateway take plain HTTP for HTTPS (or the reverse) by sending
// X-Forwarded-Proto itself; TLS or an https issuer decide.
func TestIsHTTPSIgnoresForwardedProtoFromClients(t *testing.T) {
	plain := httptest.NewRequest(http.MethodGet, "http://gw/x", nil)
	forged := httptest.NewRequest(http.MethodGet, "http://gw/x", nil)
	forged.Header.Set("X-Forwarded-Proto", "https")
	overTLS := httptest.NewRequest(http.MethodGet, "https://gw/x", nil)
	overTLS.TLS = &tls.ConnectionState{}
	for _, tc := range []struct {
		name   string
		r      *http.Request
		issuer string
		want   bool
	}{
		{"plain", plain, "", false},
		{"forged header", forged, "", false},
		{"TLS", overTLS, "", true},
		{"https issuer", plain, "https://gw.example", true},
		{"http issuer", plain, "http://127.0.0.1:8080", false},
	} {
		if got := users.IsHTTPS(tc.r, tc.issuer); got != tc.want {
			t.Errorf("%s: IsHTTPS = %v, want %v", tc.name, got, tc.want)
		}
	}
	if name := (users.Cookies{Issuer: "https://gw.example"}).Name(plain, users.SessionCookie); name != "__Host-applinks_session" {
		t.Errorf("cookie name on HTTPS: %q", name)
	}
}
