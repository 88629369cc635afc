package outgoing

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	client "github.com/dghubble/oauth1"
	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/returnto"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// errOAuth1Link means an OAuth 2.0 operation was asked of an OAuth 1.0a
// link.
var errOAuth1Link = errors.New("an OAuth 1.0a link has no OAuth 2.0 endpoints or tokens")

// RemoteRefusal is the remote product's refusal of an OAuth 1.0a
// request of the gateway, with the oauth_problem it named (e.g.
// consumer_key_unknown when the product has no incoming authentication
// for the gateway's consumer key, signature_invalid when it has another
// public key).
type RemoteRefusal struct {
	Problem string
}

func (e *RemoteRefusal) Error() string {
	return "the remote product refused the request: oauth_problem=" + e.Problem
}

// oauth1Token is an OAuth 1.0a token and its secret, as a pending
// authorization (the request token) or a connection (the access token)
// keeps them sealed. With RSA-SHA1 the secret signs nothing; it is kept
// as the product gave it.
type oauth1Token struct {
	Token  string `json:"token"`
	Secret string `json:"secret"`
}

// oauth1Client is the dghubble/oauth1 consumer of link l, signing with
// the gateway's RSA key through the link's client (its SSRF policy).
func (s *Service) oauth1Client(l *Link, c *Consumer, callback string) *client.Config {
	return &client.Config{
		ConsumerKey: c.ConsumerKey(l),
		CallbackURL: callback,
		Endpoint:    l.OAuth1.Endpoints(),
		Signer:      &client.RSASigner{PrivateKey: c.private},
		HTTPClient:  s.client(l),
	}
}

// startOAuth1 asks the remote product for a request token, with the
// gateway's callback carrying a state bound to a pending authorization in
// which the request token and its secret are sealed, and returns the
// product's authorize page for that token. The product appends
// oauth_token and oauth_verifier to the callback URL, keeping its query
// (RFC 5849 §2.2).
func (s *Service) startOAuth1(ctx context.Context, l *Link, userID, issuer, returnTo string) (string, error) {
	c, err := s.Consumer(ctx)
	if err != nil {
		return "", err
	}
	state := token.New(token.Session)
	conf := s.oauth1Client(l, c, issuer+CallbackPrefix+l.Name+"?"+url.Values{"state": {state}}.Encode())
	reqToken, reqSecret, err := conf.RequestToken()
	if err != nil {
		return "", remoteError(err)
	}
	sealed, err := s.sealOAuth1(oauth1Token{reqToken, reqSecret}, pendingOAuth1Binding(l.Name))
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	err = s.store.CreatePending(ctx, store.Pending{
		StateHash:      token.Hash(state),
		LinkID:         l.Name,
		UserID:         userID,
		SealedVerifier: sealed,
		ReturnTo:       returnto.Path(returnTo),
		CreatedAt:      now,
		ExpiresAt:      now.Add(PendingTTL),
	})
	if err != nil {
		return "", fmt.Errorf("storing pending authorization: %w", err)
	}
	u, err := conf.AuthorizationURL(reqToken)
	if err != nil {
		return "", fmt.Errorf("%w: the authorize endpoint: %v", ErrProviderUnavailable, err)
	}
	return u.String(), nil
}

// finishOAuth1 completes an OAuth 1.0a authorization whose pending
// record p the callback took: the answer must name p's request token and
// a verifier, which the gateway exchanges for an access token, sealed in
// the connection.
func (s *Service) finishOAuth1(ctx context.Context, l *Link, q url.Values, p store.Pending) error {
	var req oauth1Token
	if err := s.openOAuth1(p.SealedVerifier, pendingOAuth1Binding(l.Name), &req); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("oauth_token")), []byte(req.Token)) != 1 {
		return &CallbackError{http.StatusBadRequest, "The answer from " + l.Name + " names another request token than the one this authorization started with: start connecting again."}
	}
	verifier := q.Get("oauth_verifier")
	switch verifier {
	case "":
		return &CallbackError{http.StatusBadRequest, "The answer from " + l.Name + " has no verifier: start connecting again."}
	case "denied": // Atlassian's verifier when access is denied
		return &CallbackError{http.StatusBadGateway, l.Name + " refused the authorization: access was denied."}
	}
	c, err := s.Consumer(ctx)
	if err != nil {
		return err
	}
	accessToken, accessSecret, err := s.oauth1Client(l, c, "").AccessToken(req.Token, req.Secret, verifier)
	if err != nil {
		s.audit.Info("outgoing authorization failed", zap.String("link", l.Name), zap.String("user", p.UserID), zap.String("reason", remoteReason(err)))
		return &CallbackError{http.StatusBadGateway, l.Name + " did not give an access token for this authorization (" + remoteReason(err) + "): start connecting again."}
	}
	sealed, err := s.sealOAuth1(oauth1Token{accessToken, accessSecret}, connectionOAuth1Binding(l.Name, p.UserID))
	if err != nil {
		return err
	}
	now := s.now().UTC()
	conn := store.Connection{LinkID: l.Name, UserID: p.UserID, Sealed: sealed, Status: StatusValid, Generation: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.store.PutConnection(ctx, conn); err != nil {
		return fmt.Errorf("storing connection: %w", err)
	}
	s.audit.Info("outgoing link connected", zap.String("link", l.Name), zap.String("user", p.UserID), zap.Bool("oauth1", true))
	return nil
}

// remoteError is the error of a failed request-token request: a
// RemoteRefusal when the product named an oauth_problem, else
// ErrProviderUnavailable.
func remoteError(err error) error {
	if problem := problemIn(err.Error()); problem != "" {
		return &RemoteRefusal{Problem: problem}
	}
	return fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
}

// remoteReason says why the product refused, for the audit log and the
// person connecting: its oauth_problem, or that it could not be reached.
func remoteReason(err error) string {
	if problem := problemIn(err.Error()); problem != "" {
		return "oauth_problem=" + problem
	}
	return "it could not be reached or answered something else"
}

// problemIn finds the oauth_problem in the text of a dghubble/oauth1
// error, which quotes the product's form-encoded answer.
func problemIn(text string) string {
	_, rest, ok := strings.Cut(text, "oauth_problem=")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, "& \r\n\t")
	if end >= 0 {
		rest = rest[:end]
	}
	v, err := url.QueryUnescape(rest)
	if err != nil || v == "" || len(v) > 64 {
		return ""
	}
	return v
}

func (s *Service) sealOAuth1(t oauth1Token, binding []byte) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encoding OAuth 1.0a token: %w", err)
	}
	return s.keys.Seal(raw, binding), nil
}

func (s *Service) openOAuth1(sealed, binding []byte, t *oauth1Token) error {
	raw, err := s.keys.Open(sealed, binding)
	if err != nil {
		return fmt.Errorf("opening OAuth 1.0a token: %w", err)
	}
	if err := json.Unmarshal(raw, t); err != nil {
		return fmt.Errorf("decoding OAuth 1.0a token: %w", err)
	}
	return nil
}

// pendingOAuth1Binding and connectionOAuth1Binding are the additional
// data an OAuth 1.0a request token and access token are sealed with:
// other than an OAuth 2.0 link's, so that neither opens as the other.
func pendingOAuth1Binding(link string) []byte { return []byte("pending oauth1 " + link) }

func connectionOAuth1Binding(link, user string) []byte {
	return []byte("oauth1 connection " + link + "\x00" + user)
}
