// Package fakejira is a fake Atlassian product (Jira, Confluence,
// Bitbucket Data Center) as an OAuth 1.0a service provider, for tests of
// the gateway as its consumer. It answers as Jira does: request-token with
// oauth_callback_confirmed, an authorize page that sends the person back
// to the callback with oauth_token and oauth_verifier (the verifier
// "denied" when access is denied), access-token with Jira's extra
// parameters, and a REST resource under /rest/ that verifies the RSA-SHA1
// signature of every request with module/oauth1's verifier against the
// public key its administrator entered for the consumer, refusing with
// `WWW-Authenticate: OAuth realm="…", oauth_problem="…"`.
//
// As Tomcat without a proxy configuration, it judges a signature against
// the URL it sees: http://<Host header><request URI>.
package fakejira

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/oauth1"
)

// Lifetimes of Jira's tokens.
const (
	requestTokenTTL = 10 * time.Minute
	// accessTokenTTL is Jira's default oauth_expires_in: five years.
	accessTokenTTL = 5 * 365 * 24 * time.Hour
	window         = 5 * time.Minute
	maxForm        = 1 << 20
)

// Server is the fake product. Its zero value is not usable: see New.
type Server struct {
	// URL is its base URL, e.g. http://127.0.0.1:41234.
	URL string

	srv *httptest.Server
	mu  sync.Mutex
	// consumers are the incoming authentications its administrator
	// entered: consumer key → public key.
	consumers map[string]*rsa.PublicKey
	tokens    map[string]*tok
	nonces    map[string]bool
	approver  string
	deny      bool
	requests  []Request
	// Refused counts requests refused, by oauth_problem.
	refused map[string]int
}

// tok is a request or access token.
type tok struct {
	access   bool
	consumer string
	secret   string
	callback string
	verifier string
	user     string // who authorized it
	used     bool
	revoked  bool
	expires  time.Time
}

// Request is a signed request the REST resource accepted.
type Request struct {
	Method, Path, RawQuery string
	// Form is the form body's parameters, repeated names kept.
	Form     url.Values
	Consumer string
	Token    string
	// User is the product's user the token acts for.
	User string
}

// New starts the fake product on a loopback port; it stops when the test
// ends.
func New(t testing.TB) *Server {
	s := &Server{consumers: map[string]*rsa.PublicKey{}, tokens: map[string]*tok{}, nonces: map[string]bool{}, approver: "jira-user", refused: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /plugins/servlet/oauth/request-token", s.requestToken)
	mux.HandleFunc("GET /plugins/servlet/oauth/authorize", s.authorize)
	mux.HandleFunc("POST /plugins/servlet/oauth/access-token", s.accessToken)
	mux.HandleFunc("/rest/", s.rest)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Trust is the product's administrator entering a consumer as incoming
// authentication: its key and RSA public key.
func (s *Server) Trust(consumerKey string, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consumers[consumerKey] = pub
}

// TrustConsumerInfo is the product's application link wizard reading a
// consumer's identity from its consumer-info URL (Atlassian's XML) and
// trusting it; it returns the consumer key.
func (s *Server) TrustConsumerInfo(consumerInfoURL string) (string, error) {
	resp, err := http.Get(consumerInfoURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("consumer-info: %s", resp.Status)
	}
	var info struct {
		Key       string `xml:"key"`
		PublicKey string `xml:"publicKey"`
	}
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info); err != nil {
		return "", fmt.Errorf("consumer-info: %w", err)
	}
	pub, err := oauth1.ParsePublicKey([]byte(info.PublicKey))
	if err != nil {
		return "", fmt.Errorf("consumer-info: %w", err)
	}
	if info.Key == "" {
		return "", errors.New("consumer-info: no key")
	}
	s.Trust(info.Key, pub)
	return info.Key, nil
}

// Approve sets who approves at the authorize page from now on (default
// jira-user), and whether they deny access instead.
func (s *Server) Approve(user string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approver, s.deny = user, deny
}

// Revoke revokes every access token the product's user authorized, as
// the user does on their profile page in Jira.
func (s *Server) Revoke(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.access && t.user == user {
			t.revoked = true
		}
	}
}

// Requests returns the requests the REST resource accepted, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Refused returns how many requests were refused with problem.
func (s *Server) Refused(problem string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[problem]
}

// verify checks a signed request as Jira does: known consumer, RSA-SHA1
// signature over the URL it sees, timestamp within five minutes, a fresh
// nonce. It answers the problem itself and returns nil when it refused.
// Called with s.mu held.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) *oauth1.Request {
	q, err := oauth1.Parse(r, "http://"+r.Host+r.RequestURI, maxForm)
	var p *oauth1.Problem
	if errors.Is(err, oauth1.ErrNotSigned) {
		p = &oauth1.Problem{Code: oauth1.ProblemPermissionUnknown, Advice: "anonymous access is not allowed", Status: http.StatusUnauthorized}
	} else if err != nil && !errors.As(err, &p) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil
	}
	if p == nil {
		pub, ok := s.consumers[q.ConsumerKey]
		switch {
		case !ok:
			p = &oauth1.Problem{Code: oauth1.ProblemConsumerKeyUnknown}
		default:
			err = q.VerifyRSA(pub)
			if err == nil {
				err = q.CheckTimestamp(time.Now(), window)
			}
			if err == nil && s.nonces[q.ConsumerKey+"\x00"+q.Nonce] {
				err = &oauth1.Problem{Code: oauth1.ProblemNonceUsed}
			}
			errors.As(err, &p)
		}
	}
	if p != nil {
		s.refused[p.Code]++
		p.Write(w, s.URL)
		return nil
	}
	s.nonces[q.ConsumerKey+"\x00"+q.Nonce] = true
	return q
}

// refuse answers problem for the request and counts it.
func (s *Server) refuse(w http.ResponseWriter, problem string) {
	s.refused[problem]++
	(&oauth1.Problem{Code: problem}).Write(w, s.URL)
}

func (s *Server) requestToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.verify(w, r)
	if q == nil {
		return
	}
	if q.Callback == "" {
		s.refuse(w, oauth1.ProblemParameterAbsent)
		return
	}
	token, secret := rand.Text(), rand.Text()
	s.tokens[token] = &tok{consumer: q.ConsumerKey, secret: secret, callback: q.Callback, expires: time.Now().Add(requestTokenTTL)}
	form(w, url.Values{"oauth_token": {token}, "oauth_token_secret": {secret}, "oauth_callback_confirmed": {"true"}})
}

// authorize is the authorize page after the person signed in to the
// product and chose Allow (or Deny): it sends them back to the consumer's
// callback, its query kept, with oauth_token and oauth_verifier.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := r.URL.Query().Get("oauth_token")
	t, ok := s.tokens[token]
	if !ok || t.access || t.used || time.Now().After(t.expires) {
		http.Error(w, "The request token is invalid or has expired (oauth_problem=token_rejected).", http.StatusBadRequest)
		return
	}
	verifier := "denied"
	if !s.deny {
		verifier = rand.Text()
		t.user = s.approver
	}
	t.verifier = verifier
	if t.callback == oauth1.OOB {
		fmt.Fprintf(w, "Your verification code is %s\n", verifier)
		return
	}
	cb, err := url.Parse(t.callback)
	if err != nil {
		http.Error(w, "bad callback", http.StatusBadRequest)
		return
	}
	v := cb.Query()
	v.Set("oauth_token", token)
	v.Set("oauth_verifier", verifier)
	cb.RawQuery = v.Encode()
	http.Redirect(w, r, cb.String(), http.StatusFound)
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.verify(w, r)
	if q == nil {
		return
	}
	t, ok := s.tokens[q.Token]
	switch {
	case !ok || t.access || t.consumer != q.ConsumerKey:
		s.refuse(w, oauth1.ProblemTokenRejected)
		return
	case t.used:
		s.refuse(w, oauth1.ProblemTokenUsed)
		return
	case time.Now().After(t.expires):
		s.refuse(w, oauth1.ProblemTokenExpired)
		return
	case t.user == "" || q.Verifier != t.verifier:
		s.refuse(w, oauth1.ProblemPermissionUnknown)
		return
	}
	t.used = true
	token, secret := rand.Text(), rand.Text()
	s.tokens[token] = &tok{access: true, consumer: q.ConsumerKey, secret: secret, user: t.user, expires: time.Now().Add(accessTokenTTL)}
	seconds := fmt.Sprint(int(accessTokenTTL.Seconds()))
	form(w, url.Values{"oauth_token": {token}, "oauth_token_secret": {secret}, "oauth_expires_in": {seconds},
		"oauth_authorization_expires_in": {seconds}, "oauth_session_handle": {rand.Text()}})
}

// rest is any REST resource: a request signed with a live access token
// gets 200 and what the resource received, as JSON.
func (s *Server) rest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.verify(w, r)
	if q == nil {
		return
	}
	t, ok := s.tokens[q.Token]
	switch {
	case !ok || !t.access || t.consumer != q.ConsumerKey || t.revoked:
		s.refuse(w, oauth1.ProblemTokenRejected)
		return
	case time.Now().After(t.expires):
		s.refuse(w, oauth1.ProblemTokenExpired)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Consumer: q.ConsumerKey, Token: q.Token, User: t.user}
	if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		req.Form, _ = url.ParseQuery(string(body))
	}
	s.requests = append(s.requests, req)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(req)
}

// form answers v as application/x-www-form-urlencoded, as Jira does.
func form(w http.ResponseWriter, v url.Values) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	_, _ = io.WriteString(w, v.Encode())
}
