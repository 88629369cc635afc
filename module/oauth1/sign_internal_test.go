package oauth1

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"strings"
	"testing"

	client "github.com/dghubble/oauth1"
)

// fixedNoncer gives dghubble/oauth1 the nonce of the test.
type fixedNoncer string

func (n fixedNoncer) Nonce() string { return string(n) }

// capture is a transport that keeps the request it is given.
type capture struct {
	req  *http.Request
	body string
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.req = r
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		c.body = string(b)
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
}

// dghubbleSigned returns the protocol parameters dghubble/oauth1 signs a
// request with, as the Authorization header it sent carries them.
func dghubbleSigned(t *testing.T, key *rsa.PrivateKey, method, uri, contentType, body string) map[string]string {
	t.Helper()
	cap := &capture{}
	cfg := &client.Config{ConsumerKey: "applinks:test", Signer: &client.RSASigner{PrivateKey: key}, Noncer: fixedNoncer("fixed-nonce")}
	ctx := context.WithValue(context.Background(), client.HTTPClient, &http.Client{Transport: cap})
	req, err := http.NewRequest(method, uri, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := cfg.Client(ctx, client.NewToken("access-token", "unused")).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return headerMap(t, cap.req.Header)
}

// headerMap reads the OAuth parameters of h's Authorization header.
func headerMap(t *testing.T, h http.Header) map[string]string {
	t.Helper()
	pairs, signed, err := headerParams(h.Values("Authorization"))
	if err != nil || !signed {
		t.Fatalf("Authorization %q: signed %v, %v", h.Get("Authorization"), signed, err)
	}
	m := map[string]string{}
	for _, p := range pairs {
		m[p.name] = p.value
	}
	return m
}

// TestSignAgreesWithDghubble: for requests without repeated parameter
// names, Sign builds the base string dghubble/oauth1 builds: given the
// same nonce and timestamp, both send the same protocol parameters and the
// same RSA-SHA1 signature (PKCS #1 v1.5 signatures are deterministic), and
// the form body reaches the server unchanged.
func TestSignAgreesWithDghubble(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct{ method, uri, contentType, body string }{
		{"GET", "https://jira.example.com/rest/api/2/search?jql=project%20%3D%20ABC&maxResults=5", "", ""},
		{"GET", "http://127.0.0.1:8080/jira/rest/api/2/issue/ABC-1?expand=names%2Crenderedfields&x=a+b", "", ""},
		{"GET", "https://Jira.Example.com:443/caf%C3%A9/%7Euser", "", ""},
		{"POST", "https://jira.example.com/rest/api/2/issue/ABC-1/comment?notify=true", form, "body=a+b+%26+c&visibility=role&empty="},
		{"DELETE", "https://jira.example.com:8443/rest/api/2/issue/ABC-1", "", ""},
		{"PUT", "https://confluence.example.com/wiki/rest/api/content/1", "application/json", `{"a":"b=c&d"}`},
	} {
		want := dghubbleSigned(t, key, c.method, c.uri, c.contentType, c.body)
		req, _ := http.NewRequest(c.method, c.uri, strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		creds := Credentials{ConsumerKey: "applinks:test", Key: key, Token: "access-token"}
		if err := sign(req, c.uri, creds, want["oauth_timestamp"], want["oauth_nonce"], 1<<20); err != nil {
			t.Fatalf("%s %s: %v", c.method, c.uri, err)
		}
		got := headerMap(t, req.Header)
		if len(got) != len(want) {
			t.Errorf("%s %s: parameters %v, dghubble's %v", c.method, c.uri, got, want)
		}
		for name, v := range want {
			if got[name] != v {
				t.Errorf("%s %s: %s is %q, dghubble's %q", c.method, c.uri, name, got[name], v)
			}
		}
		if b, _ := io.ReadAll(req.Body); string(b) != c.body {
			t.Errorf("%s %s: the body became %q, want %q", c.method, c.uri, b, c.body)
		}
	}
}
