package outgoing

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
)

// consumerKeyBits is the size of the RSA key the gateway signs with as an
// OAuth 1.0a consumer.
const consumerKeyBits = 2048

// Consumer is the gateway's identity as an OAuth 1.0a consumer: one
// consumer key and RSA key pair for all its OAuth 1.0a links, as an
// Atlassian product has. The administrator of the remote product enters
// the key and the public key as the gateway's incoming authentication.
type Consumer struct {
	// Key is the consumer key, applinks:<random> unless a link names its
	// own.
	Key       string
	PublicKey *rsa.PublicKey
	CreatedAt time.Time

	private *rsa.PrivateKey
}

// PublicKeyPEM is the public key as PEM (BEGIN PUBLIC KEY), as openssl
// writes it.
func (c *Consumer) PublicKeyPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(c.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// PublicKeyBase64 is the public key as the base64 of its DER, on one
// line: what Atlassian's incoming authentication form and consumer-info
// take.
func (c *Consumer) PublicKeyBase64() string {
	der, _ := x509.MarshalPKIXPublicKey(c.PublicKey)
	return base64.StdEncoding.EncodeToString(der)
}

// ConsumerKey is the consumer key link l signs with: its own, or the
// gateway's.
func (c *Consumer) ConsumerKey(l *Link) string {
	if l.OAuth1 != nil && l.OAuth1.ConsumerKey != "" {
		return l.OAuth1.ConsumerKey
	}
	return c.Key
}

// Consumer returns the gateway's consumer identity, creating it the first
// time: a consumer key applinks:<random> and a 2048-bit RSA key pair whose
// private key is sealed in the store. Of gateways sharing a store that
// create it at once, the first one's is kept and the others use it.
func (s *Service) Consumer(ctx context.Context) (*Consumer, error) {
	s.consumerMu.Lock()
	defer s.consumerMu.Unlock()
	if s.consumer != nil {
		return s.consumer, nil
	}
	ci, err := s.store.GetConsumerIdentity(ctx)
	if errors.Is(err, store.ErrNotFound) {
		ci, err = s.createConsumer(ctx)
	}
	if err != nil {
		return nil, err
	}
	der, err := s.keys.Open(ci.Sealed, consumerBinding(ci.Key))
	if err != nil {
		return nil, fmt.Errorf("opening the OAuth 1.0a consumer key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the OAuth 1.0a consumer key: %w", err)
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the OAuth 1.0a consumer key is a %T, not an RSA key", k)
	}
	s.consumer = &Consumer{Key: ci.Key, PublicKey: &priv.PublicKey, CreatedAt: ci.CreatedAt, private: priv}
	return s.consumer, nil
}

// createConsumer generates and stores the consumer identity, or returns
// the one another gateway stored first.
func (s *Service) createConsumer(ctx context.Context) (store.ConsumerIdentity, error) {
	priv, err := rsa.GenerateKey(rand.Reader, consumerKeyBits)
	if err != nil {
		return store.ConsumerIdentity{}, fmt.Errorf("generating the OAuth 1.0a consumer key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.ConsumerIdentity{}, fmt.Errorf("encoding the OAuth 1.0a consumer key: %w", err)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	ci := store.ConsumerIdentity{Key: "applinks:" + hex.EncodeToString(id), CreatedAt: s.now().UTC()}
	ci.Sealed = s.keys.Seal(der, consumerBinding(ci.Key))
	err = s.store.CreateConsumerIdentity(ctx, ci)
	if errors.Is(err, store.ErrAlreadyExists) {
		return s.store.GetConsumerIdentity(ctx)
	}
	if err != nil {
		return store.ConsumerIdentity{}, fmt.Errorf("storing the OAuth 1.0a consumer identity: %w", err)
	}
	s.audit.Info("OAuth 1.0a consumer identity created", zap.String("consumer_key", ci.Key))
	return ci, nil
}

// consumerBinding is the additional data the consumer's private key is
// sealed with.
func consumerBinding(key string) []byte { return []byte("oauth1 consumer " + key) }
