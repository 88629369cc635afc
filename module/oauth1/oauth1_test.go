package oauth1_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	client "github.com/dghubble/oauth1"

	"github.com/applinks/caddy-applinks/module/oauth1"
)

// verifier is a service provider answering 200 with the body it passed
// on when a request verifies, and the problem otherwise.
type verifier struct {
	pub            *rsa.PublicKey
	consumerSecret string
	tokenSecret    string
	// uri, when set, is the URL the server believes the client used.
	uri string
}

func (v *verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	uri := v.uri
	if uri == "" {
		uri = "http://" + r.Host + r.RequestURI
	}
	q, err := oauth1.Parse(r, uri, 1<<10)
	if err == nil {
		if v.pub != nil {
			err = q.VerifyRSA(v.pub)
		} else {
			err = q.VerifyHMAC(v.consumerSecret, v.tokenSecret)
		}
	}
	if err == nil {
		err = q.CheckTimestamp(time.Now(), 5*time.Minute)
	}
	var p *oauth1.Problem
	switch {
	case errors.As(err, &p):
		p.Write(w, "test")
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Consumer", q.ConsumerKey)
	w.Header().Set("X-Token", q.Token)
	w.Header().Set("X-Requestor", q.Params.Get("xoauth_requestor_id"))
	_, _ = w.Write(body)
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaClient(k *rsa.PrivateKey, token string) *http.Client {
	cfg := &client.Config{ConsumerKey: "jira", Signer: &client.RSASigner{PrivateKey: k}}
	return cfg.Client(context.Background(), client.NewToken(token, ""))
}

// send makes the request and returns the status, body and header.
func send(t *testing.T, c *http.Client, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestRFC5849BaseStringExample: the base string of RFC 5849 §3.4.1.1's
// example request, duplicate names and a form body included, is the one
// the RFC prints, so the signature an HMAC-SHA1 client makes over it
// verifies and any other does not.
func TestRFC5849BaseStringExample(t *testing.T) {
	const want = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
	signer := &client.HMACSigner{ConsumerSecret: "j49sk3j29djd"}
	sig, err := signer.Sign("dh893hdasih9", want)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", strings.NewReader("c2&a3=2+q"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", `OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="`+url.QueryEscape(sig)+`"`)
	q, err := oauth1.Parse(req, "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.VerifyHMAC("j49sk3j29djd", "dh893hdasih9"); err != nil {
		t.Fatalf("the RFC's request does not verify: %v", err)
	}
	if err := q.VerifyHMAC("j49sk3j29djd", "other"); err == nil {
		t.Fatal("a signature with another token secret verified")
	}
	if q.ConsumerKey != "9djdj82h48djs9d2" || q.Token != "kkk9d7dh3k39sjv7" || q.Timestamp != 137131201 || q.Nonce != "7d8f3e4a" {
		t.Fatalf("parameters read wrongly: %+v", q)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "c2&a3=2+q" {
		t.Fatalf("the form body was not put back unchanged: %q", b)
	}
}

// TestRSASHA1RequestsOfARealClientVerify: GETs with queries, a form POST
// and odd paths signed by dghubble/oauth1 verify, and the parameters come
// through.
func TestRSASHA1RequestsOfARealClientVerify(t *testing.T) {
	k := rsaKey(t)
	srv := httptest.NewServer(&verifier{pub: &k.PublicKey})
	defer srv.Close()
	c := rsaClient(k, "access-1")
	for _, path := range []string{"/rest/api/2/issue/ABC-1?expand=names%2Crenderedfields&x=a+b", "/a%20b/caf%C3%A9?xoauth_requestor_id=alice", "/", "/q?empty=&u=%E2%9C%93"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		status, body, h := send(t, c, req)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s %s", path, status, h.Get("WWW-Authenticate"), body)
		}
		if h.Get("X-Consumer") != "jira" || h.Get("X-Token") != "access-1" {
			t.Fatalf("GET %s: consumer %q token %q", path, h.Get("X-Consumer"), h.Get("X-Token"))
		}
	}
	form := url.Values{"summary": {"a b & c"}, "n": {"1"}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/rest/api/2/issue?xoauth_requestor_id=bob", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, body, h := send(t, c, req)
	if status != http.StatusOK || body != form {
		t.Fatalf("form POST: %d %q (want the form passed on unchanged)", status, body)
	}
	if h.Get("X-Requestor") != "bob" {
		t.Fatalf("xoauth_requestor_id = %q", h.Get("X-Requestor"))
	}
}

// TestHMACSHA1WithTokenSecretVerifies: a client with a shared consumer
// secret and a token secret is verified with both.
func TestHMACSHA1WithTokenSecretVerifies(t *testing.T) {
	srv := httptest.NewServer(&verifier{consumerSecret: "s3cret", tokenSecret: "tok-secret"})
	defer srv.Close()
	cfg := client.NewConfig("legacy", "s3cret")
	good := cfg.Client(context.Background(), client.NewToken("t1", "tok-secret"))
	bad := cfg.Client(context.Background(), client.NewToken("t1", "guessed"))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x?y=1", nil)
	if status, body, _ := send(t, good, req); status != http.StatusOK {
		t.Fatalf("HMAC-SHA1: %d %s", status, body)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/x?y=1", nil)
	if status, _, h := send(t, bad, req); status != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `oauth_problem="signature_invalid"`) {
		t.Fatalf("a wrong token secret: %d %s", status, h.Get("WWW-Authenticate"))
	}
}

// recorder keeps the Authorization header a client sent and answers 200.
type recorder struct{ auth string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.auth = req.Header.Get("Authorization")
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// signed returns the Authorization header a real client makes for a GET
// of uri.
func signed(t *testing.T, k *rsa.PrivateKey, method, uri string) string {
	t.Helper()
	rec := &recorder{}
	cfg := &client.Config{ConsumerKey: "jira", Signer: &client.RSASigner{PrivateKey: k}}
	c := cfg.Client(context.WithValue(context.Background(), client.HTTPClient, &http.Client{Transport: rec}), client.NewToken("access-1", ""))
	req, _ := http.NewRequest(method, uri, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return rec.auth
}

// TestSignedRequestReplayedElsewhereIsRefused: a signature made for one
// request does not pass for another method, path, query, host, scheme or
// port: the attacker who captured one signed request cannot point it at
// another resource.
func TestSignedRequestReplayedElsewhereIsRefused(t *testing.T) {
	k := rsaKey(t)
	const uri = "https://jira.example.com/rest/api/2/issue/ABC-1?fields=summary"
	auth := signed(t, k, http.MethodGet, uri)
	check := func(method, target string) error {
		req := httptest.NewRequest(method, "/", nil)
		req.Header.Set("Authorization", auth)
		q, err := oauth1.Parse(req, target, 1<<10)
		if err != nil {
			return err
		}
		return q.VerifyRSA(&k.PublicKey)
	}
	if err := check(http.MethodGet, uri); err != nil {
		t.Fatalf("the signed request itself: %v", err)
	}
	if err := check(http.MethodGet, "HTTPS://JIRA.example.com:443/rest/api/2/issue/ABC-1?fields=summary"); err != nil {
		t.Fatalf("the same URL with upper-case scheme and host and the default port: %v", err)
	}
	for _, c := range []struct{ method, uri string }{
		{http.MethodDelete, uri},
		{http.MethodGet, "https://jira.example.com/rest/api/2/issue/ABC-2?fields=summary"},
		{http.MethodGet, "https://jira.example.com/rest/api/2/issue/ABC-1?fields=summary,secret"},
		{http.MethodGet, "https://jira.example.com/rest/api/2/issue/ABC-1?fields=summary&admin=1"},
		{http.MethodGet, "https://evil.example.com/rest/api/2/issue/ABC-1?fields=summary"},
		{http.MethodGet, "http://jira.example.com/rest/api/2/issue/ABC-1?fields=summary"},
		{http.MethodGet, "https://jira.example.com:8443/rest/api/2/issue/ABC-1?fields=summary"},
	} {
		err := check(c.method, c.uri)
		var p *oauth1.Problem
		if !errors.As(err, &p) || p.Code != oauth1.ProblemSignatureInvalid || p.HTTPStatus() != http.StatusUnauthorized {
			t.Errorf("%s %s: %v, want signature_invalid", c.method, c.uri, err)
		}
	}
}

// TestMalformedProtocolParametersAreRefused: each way a request can get
// its protocol parameters wrong is a Problem with the extension's code.
func TestMalformedProtocolParametersAreRefused(t *testing.T) {
	const ok = `oauth_consumer_key="jira", oauth_signature_method="RSA-SHA1", oauth_signature="c2ln", oauth_timestamp="1700000000", oauth_nonce="n1"`
	cases := []struct {
		name, header, query, code string
	}{
		{"no signature", `OAuth oauth_consumer_key="jira", oauth_signature_method="RSA-SHA1", oauth_timestamp="1", oauth_nonce="n"`, "", oauth1.ProblemParameterAbsent},
		{"no nonce or timestamp", `OAuth oauth_consumer_key="jira", oauth_signature_method="RSA-SHA1", oauth_signature="x"`, "", oauth1.ProblemParameterAbsent},
		{"PLAINTEXT", `OAuth oauth_consumer_key="jira", oauth_signature_method="PLAINTEXT", oauth_signature="a%26b", oauth_timestamp="1", oauth_nonce="n"`, "", oauth1.ProblemSignatureMethodRejected},
		{"HMAC-SHA256", `OAuth oauth_consumer_key="jira", oauth_signature_method="HMAC-SHA256", oauth_signature="x", oauth_timestamp="1", oauth_nonce="n"`, "", oauth1.ProblemSignatureMethodRejected},
		{"version 2.0", "OAuth " + ok + `, oauth_version="2.0"`, "", oauth1.ProblemVersionRejected},
		{"parameter in header and query", "OAuth " + ok, "oauth_nonce=n2", oauth1.ProblemParameterRejected},
		{"parameter twice in header", "OAuth " + ok + `, oauth_nonce="n3"`, "", oauth1.ProblemParameterRejected},
		{"timestamp not a number", `OAuth oauth_consumer_key="jira", oauth_signature_method="RSA-SHA1", oauth_signature="x", oauth_timestamp="1e9", oauth_nonce="n"`, "", oauth1.ProblemParameterRejected},
		{"negative timestamp", `OAuth oauth_consumer_key="jira", oauth_signature_method="RSA-SHA1", oauth_signature="x", oauth_timestamp="-5", oauth_nonce="n"`, "", oauth1.ProblemParameterRejected},
		{"huge nonce", `OAuth oauth_consumer_key="jira", oauth_signature_method="RSA-SHA1", oauth_signature="x", oauth_timestamp="5", oauth_nonce="` + strings.Repeat("n", 300) + `"`, "", oauth1.ProblemParameterRejected},
		{"unquoted value", `OAuth oauth_consumer_key=jira`, "", oauth1.ProblemParameterRejected},
		{"unterminated quote", `OAuth oauth_consumer_key="jira`, "", oauth1.ProblemParameterRejected},
		{"no comma", `OAuth oauth_consumer_key="jira" oauth_nonce="n"`, "", oauth1.ProblemParameterRejected},
		{"trailing comma", `OAuth oauth_consumer_key="jira",`, "", oauth1.ProblemParameterRejected},
		{"bad escape", `OAuth oauth_consumer_key="ji%ZZ"`, "", oauth1.ProblemParameterRejected},
		{"bad escape in query", "OAuth " + ok, "q=%G0", oauth1.ProblemParameterRejected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", c.header)
			_, err := oauth1.Parse(req, "https://gw.example.com/x?"+c.query, 1<<10)
			var p *oauth1.Problem
			if !errors.As(err, &p) || p.Code != c.code {
				t.Fatalf("got %v, want oauth_problem=%s", err, c.code)
			}
			if p.HTTPStatus() != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 for a malformed request", p.HTTPStatus())
			}
		})
	}
	t.Run("two OAuth headers", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Add("Authorization", "OAuth "+ok)
		req.Header.Add("Authorization", "OAuth "+ok)
		var p *oauth1.Problem
		if _, err := oauth1.Parse(req, "https://gw.example.com/", 1<<10); !errors.As(err, &p) || p.Code != oauth1.ProblemParameterRejected {
			t.Fatalf("got %v, want parameter_rejected", err)
		}
	})
	t.Run("absent parameters are named", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", `OAuth oauth_consumer_key="jira"`)
		_, err := oauth1.Parse(req, "https://gw.example.com/", 1<<10)
		var p *oauth1.Problem
		if !errors.As(err, &p) || p.Params.Get("oauth_parameters_absent") != "oauth_signature_method&oauth_signature&oauth_timestamp&oauth_nonce" {
			t.Fatalf("got %#v", err)
		}
	})
}

// TestUnsignedRequestsAreNotSigned: a request with no OAuth parameters, or
// another scheme's Authorization, is ErrNotSigned for the caller to treat
// as it treats a request without credentials.
func TestUnsignedRequestsAreNotSigned(t *testing.T) {
	for _, h := range []string{"", "Bearer abc", "Basic YTpi", "OAuthX a=\"b\""} {
		req := httptest.NewRequest(http.MethodPost, "/?a=b", strings.NewReader("x=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		if _, err := oauth1.Parse(req, "https://gw.example.com/?a=b", 1<<10); !errors.Is(err, oauth1.ErrNotSigned) {
			t.Errorf("Authorization %q: %v, want ErrNotSigned", h, err)
		}
		if b, _ := io.ReadAll(req.Body); string(b) != "x=1" {
			t.Errorf("Authorization %q: body %q was not put back", h, b)
		}
	}
}

// TestParametersInQueryOrFormAreAccepted: RFC 5849 §3.5.2 and §3.5.3 let
// a client send the protocol parameters in the form body or the query;
// the signature verifies the same way.
func TestParametersInQueryOrFormAreAccepted(t *testing.T) {
	k := rsaKey(t)
	const uri = "https://gw.example.com/rest/x"
	// Sign with the parameters in the header, then move them.
	auth := signed(t, k, http.MethodPost, uri)
	params := url.Values{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, "OAuth "), ", ") {
		name, v, _ := strings.Cut(kv, "=")
		v, _ = url.PathUnescape(strings.Trim(v, `"`))
		params.Set(name, v)
	}
	inForm := httptest.NewRequest(http.MethodPost, "/rest/x", strings.NewReader(params.Encode()))
	inForm.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	q, err := oauth1.Parse(inForm, uri, 1<<12)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.VerifyRSA(&k.PublicKey); err != nil {
		t.Fatalf("parameters in the form body: %v", err)
	}
	inQuery := httptest.NewRequest(http.MethodPost, "/rest/x?"+params.Encode(), nil)
	q, err = oauth1.Parse(inQuery, uri+"?"+params.Encode(), 1<<12)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.VerifyRSA(&k.PublicKey); err != nil {
		t.Fatalf("parameters in the query: %v", err)
	}
}

// TestOversizedFormBodyIsRefused: a form body is read only up to the
// bound the caller gives.
func TestOversizedFormBodyIsRefused(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("a="+strings.Repeat("x", 2000)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := oauth1.Parse(req, "https://gw.example.com/", 1<<10); !errors.Is(err, oauth1.ErrFormTooLarge) {
		t.Fatalf("got %v, want ErrFormTooLarge", err)
	}
}

// TestTimestampOutsideTheWindowIsRefused: timestamp_refused names the
// range the server accepts.
func TestTimestampOutsideTheWindowIsRefused(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		ts string
		ok bool
	}{{"1700000000", true}, {"1700000300", true}, {"1699999700", true}, {"1700000301", false}, {"1699999699", false}, {"1", false}} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", `OAuth oauth_consumer_key="jira", oauth_signature_method="RSA-SHA1", oauth_signature="x", oauth_timestamp="`+c.ts+`", oauth_nonce="n"`)
		q, err := oauth1.Parse(req, "https://gw.example.com/", 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		err = q.CheckTimestamp(now, 5*time.Minute)
		var p *oauth1.Problem
		if c.ok != (err == nil) || (!c.ok && (!errors.As(err, &p) || p.Code != oauth1.ProblemTimestampRefused || p.Params.Get("oauth_acceptable_timestamps") != "1699999700-1700000300")) {
			t.Errorf("timestamp %s: %v", c.ts, err)
		}
	}
}

// TestProblemAnswerHasAtlassianShape: a refusal is a 401 with
// `WWW-Authenticate: OAuth realm="…", oauth_problem="…"` and the problem
// as a form body, never cached.
func TestProblemAnswerHasAtlassianShape(t *testing.T) {
	rec := httptest.NewRecorder()
	(&oauth1.Problem{Code: oauth1.ProblemTokenRejected, Advice: "connect again"}).Write(rec, "https://gw.example.com")
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", rec.Code)
	}
	if got, want := rec.Header().Get("WWW-Authenticate"), `OAuth realm="https%3A%2F%2Fgw.example.com", oauth_problem="token_rejected", oauth_problem_advice="connect%20again"`; got != want {
		t.Fatalf("challenge %s, want %s", got, want)
	}
	body, _ := url.ParseQuery(rec.Body.String())
	if body.Get("oauth_problem") != "token_rejected" || body.Get("oauth_problem_advice") != "connect again" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("body %q, headers %v", rec.Body.String(), rec.Header())
	}
}

// TestConsumerPublicKeyFormats: the forms an administrator pastes a
// consumer's key in are read; a key that is no RSA key is refused with a
// sentence saying so.
func TestConsumerPublicKeyFormats(t *testing.T) {
	k := rsaKey(t)
	pkix, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix0(), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	b64 := base64.StdEncoding.EncodeToString(pkix)
	wrapped := b64[:40] + "\n" + b64[40:]
	for name, text := range map[string][]byte{"PEM PUBLIC KEY": pemPKIX, "PEM RSA PUBLIC KEY": pemPKCS1, "certificate": cert, "bare base64": []byte(b64), "wrapped base64": []byte(wrapped)} {
		pub, err := oauth1.ParsePublicKey(text)
		if err != nil || !pub.Equal(&k.PublicKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	privDER := x509.MarshalPKCS1PrivateKey(k)
	for name, text := range map[string][]byte{
		"EC key":      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}),
		"private key": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: privDER}),
		"garbage":     []byte("not a key!"),
	} {
		if _, err := oauth1.ParsePublicKey(text); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
}

func pkix0() pkix.Name { return pkix.Name{CommonName: "jira"} }
