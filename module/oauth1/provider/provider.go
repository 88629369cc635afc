// Package provider is the gateway's OAuth 1.0a service provider, as
// Atlassian's products are one for their "OAuth 1.0" application links:
// it issues request tokens, records the user's authorization, exchanges
// it once for a long-lived access token (a grant of the token service,
// revoked like any), and judges the signed requests of consumers, three-
// and two-legged, remembering their nonces. The protocol itself (reading
// and verifying a signed request) is package oauth1's.
package provider

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// Defaults of Config.
const (
	DefaultTimestampWindow = 5 * time.Minute
	DefaultRequestTokenTTL = 10 * time.Minute
	// DefaultTokenTTL is Atlassian's: five years.
	DefaultTokenTTL = 5 * 365 * 24 * time.Hour
	// DefaultMaxForm bounds the form body read for its parameters.
	DefaultMaxForm = 1 << 20
)

// Config tunes the service provider.
type Config struct {
	// TimestampWindow is how far oauth_timestamp may be from the
	// gateway's clock, either way; a nonce is remembered for as long as
	// its timestamp is acceptable.
	TimestampWindow time.Duration
	// RequestTokenTTL is how long a request token may wait for the user
	// and its exchange.
	RequestTokenTTL time.Duration
	// MaxForm bounds the application/x-www-form-urlencoded body read for
	// its parameters; a longer one is refused (413).
	MaxForm int64
}

// Consumers finds OAuth 1.0a consumers and their shared secrets
// (*links.Registry).
type Consumers interface {
	Consumer(ctx context.Context, key string) (links.Link, error)
	ConsumerSecrets(l links.Link, now time.Time) ([]string, error)
}

// Users gives the current role of a user, for two-legged requests; an
// error means the user is gone or disabled (*users.Directory).
type Users interface {
	Role(ctx context.Context, userID string, authorizedAt time.Time) (scope.Scope, error)
}

// Service is the OAuth 1.0a service provider over the app's services.
type Service struct {
	store     store.OAuth1Store
	consumers Consumers
	users     Users
	grants    *grants.Service
	tokens    *grants.Validator
	cfg       Config
	now       func() time.Time
	audit     *zap.Logger
	// publicKeys caches parsed consumer keys by the SHA-256 of their PEM,
	// so a key changed or removed is simply never asked for again.
	publicKeys keyCache
}

// New returns the service provider. Request tokens and nonces are kept in
// st; access tokens are grants of gs, validated through tokens.
func New(st store.OAuth1Store, consumers Consumers, users Users, gs *grants.Service, tokens *grants.Validator, cfg Config, now func() time.Time, audit *zap.Logger) *Service {
	if cfg.TimestampWindow <= 0 {
		cfg.TimestampWindow = DefaultTimestampWindow
	}
	if cfg.RequestTokenTTL <= 0 {
		cfg.RequestTokenTTL = DefaultRequestTokenTTL
	}
	if cfg.MaxForm <= 0 {
		cfg.MaxForm = DefaultMaxForm
	}
	return &Service{store: st, consumers: consumers, users: users, grants: gs, tokens: tokens, cfg: cfg, now: now, audit: audit}
}

// signed is a request whose consumer is known and enabled, before its
// signature is checked.
type signed struct {
	q    *oauth1.Request
	link links.Link
}

// parse reads a signed request sent to uri and checks what needs no
// secret: its parameters, its timestamp and its consumer. Errors: a
// *oauth1.Problem, oauth1.ErrNotSigned, oauth1.ErrFormTooLarge, or the
// store's.
func (s *Service) parse(ctx context.Context, r *http.Request, uri string) (*signed, error) {
	q, err := oauth1.Parse(r, uri, s.cfg.MaxForm)
	if err != nil {
		return nil, err
	}
	if err := q.CheckTimestamp(s.now(), s.cfg.TimestampWindow); err != nil {
		return nil, err
	}
	l, err := s.consumers.Consumer(ctx, q.ConsumerKey)
	switch {
	case errors.Is(err, links.ErrUnknownConsumer):
		return nil, problem(oauth1.ProblemConsumerKeyUnknown, "no application link has this consumer key")
	case errors.Is(err, links.ErrConsumerDisabled):
		return nil, problem(oauth1.ProblemConsumerKeyRejected, "an administrator has disabled this application link")
	case err != nil:
		return nil, fmt.Errorf("looking up consumer: %w", err)
	}
	return &signed{q: q, link: l}, nil
}

// verify checks the request's signature: RSA-SHA1 with the consumer's
// public key, or HMAC-SHA1 with one of its shared secrets and the token's
// secret; then it remembers the nonce, refusing one seen within the
// timestamp window.
func (s *Service) verify(ctx context.Context, sr *signed, tokenSecret string) error {
	if err := s.checkSignature(sr, tokenSecret); err != nil {
		return err
	}
	return s.rememberNonce(ctx, sr.q)
}

func (s *Service) checkSignature(sr *signed, tokenSecret string) error {
	c := sr.link.OAuth1
	if c.PublicKey != "" {
		pub, err := s.publicKeys.get(c.PublicKey)
		if err != nil {
			return fmt.Errorf("reading the public key of consumer %q: %w", sr.link.ClientID, err)
		}
		return sr.q.VerifyRSA(pub)
	}
	secrets, err := s.consumers.ConsumerSecrets(sr.link, s.now())
	if err != nil {
		return err
	}
	err = problem(oauth1.ProblemSignatureInvalid, "the consumer has no shared secret")
	for _, sec := range secrets {
		if err = sr.q.VerifyHMAC(sec, tokenSecret); err == nil {
			return nil
		}
	}
	return err
}

// rememberNonce stores the nonce of q (with its consumer key, timestamp
// and token) until its timestamp leaves the window; a nonce already
// stored, or being stored by a concurrent request, is nonce_used.
func (s *Service) rememberNonce(ctx context.Context, q *oauth1.Request) error {
	h := sha256.New()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(q.Timestamp))
	for _, part := range [][]byte{[]byte(q.ConsumerKey), {0}, ts[:], []byte(q.Nonce), {0}, []byte(q.Token)} {
		h.Write(part)
	}
	// CheckTimestamp accepts a timestamp until a second past the window.
	exp := time.Unix(q.Timestamp, 0).Add(s.cfg.TimestampWindow + time.Second)
	err := s.store.RememberNonce(ctx, store.Nonce{Hash: h.Sum(nil), ExpiresAt: exp})
	if errors.Is(err, store.ErrAlreadyExists) || errors.Is(err, store.ErrConflict) {
		return problem(oauth1.ProblemNonceUsed, "this nonce was used before with this timestamp; sign each request with a new nonce")
	}
	return err
}

// client is the token service's view of a consumer's link.
func client(l links.Link) grants.Client {
	return grants.Client{LinkID: l.ID, ClientID: l.ClientID, Ceiling: l.Ceiling}
}

// problem returns a Problem with advice.
func problem(code, advice string) *oauth1.Problem {
	return &oauth1.Problem{Code: code, Advice: advice}
}

// secretPurpose binds a sealed token secret to its use.
const secretPurpose = "oauth1 token secret"

// sealFor seals a token secret with a key derived from the token itself
// (secret.FromToken): it opens only for whoever presents the token, not
// with the gateway's at-rest key, so a copy of the store and that key
// together do not give it away, and rotating the at-rest key leaves it
// alone.
func sealFor(tok, tokenSecret string) ([]byte, error) {
	keys, err := secret.FromToken(tok)
	if err != nil {
		return nil, fmt.Errorf("sealing a token secret: %w", err)
	}
	return keys.Seal([]byte(tokenSecret), []byte(secretPurpose)), nil
}

// openFor opens what sealFor sealed for the same token.
func openFor(tok string, sealed []byte) (string, error) {
	keys, err := secret.FromToken(tok)
	if err != nil {
		return "", fmt.Errorf("opening a token secret: %w", err)
	}
	b, err := keys.Open(sealed, []byte(secretPurpose))
	if err != nil {
		return "", fmt.Errorf("opening a token secret: %w", err)
	}
	return string(b), nil
}

// hmacConsumer reports whether the link's consumer signs with HMAC-SHA1.
func hmacConsumer(l links.Link) bool { return l.OAuth1.PublicKey == "" }

// equalHash compares two hashes in constant time.
func equalHash(a, b []byte) bool { return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1 }

// maxCachedKeys bounds the parsed-key cache; it is emptied when full.
const maxCachedKeys = 1024

// keyCache holds parsed RSA public keys by the SHA-256 of their text.
type keyCache struct {
	mu   sync.RWMutex
	keys map[[32]byte]*rsa.PublicKey
}

// get returns the parsed key of text, parsing it once.
func (c *keyCache) get(text string) (*rsa.PublicKey, error) {
	sum := sha256.Sum256([]byte(text))
	c.mu.RLock()
	k, ok := c.keys[sum]
	c.mu.RUnlock()
	if ok {
		return k, nil
	}
	k, err := oauth1.ParsePublicKey([]byte(text))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = map[[32]byte]*rsa.PublicKey{}
	}
	c.keys[sum] = k
	c.mu.Unlock()
	return k, nil
}
