// Package signing keeps the gateway's token-signing keys: it creates them
// (ES256 by default, RS256 for old clients), seals them in the store,
// rotates them, signs JWTs and publishes the public keys as a JWKS, old
// keys included until the last token they signed has expired.
package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// Algorithms supported for signing.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// Keyring signs with the newest key of its algorithm and publishes every
// live key.
type Keyring struct {
	store    store.KeyStore
	seal     *secret.Keys
	alg      string
	tokenTTL time.Duration
	now      func() time.Time

	mu       sync.RWMutex
	signer   jose.Signer
	activeID string
	jwks     jose.JSONWebKeySet
}

// New loads the keys from st, creating a first key of alg when none is
// active. tokenTTL is the longest lifetime of a token the keys sign: a
// retired key is published that much longer.
func New(ctx context.Context, st store.KeyStore, seal *secret.Keys, alg string, tokenTTL time.Duration, now func() time.Time) (*Keyring, error) {
	if alg != ES256 && alg != RS256 {
		return nil, fmt.Errorf("signing algorithm %q: want ES256 or RS256", alg)
	}
	k := &Keyring{store: st, seal: seal, alg: alg, tokenTTL: tokenTTL, now: now}
	if err := k.load(ctx, true); err != nil {
		return nil, err
	}
	return k, nil
}

// Algorithm returns the algorithm new tokens are signed with.
func (k *Keyring) Algorithm() string { return k.alg }

// Sign returns claims as a compact JWS (a JWT) signed by the active key.
func (k *Keyring) Sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	k.mu.RLock()
	signer := k.signer
	k.mu.RUnlock()
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return jws.CompactSerialize()
}

// JWKS returns the public keys of every live key, the active one first.
func (k *Keyring) JWKS() jose.JSONWebKeySet {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

// Rotate makes a new active key; the previous ones stop signing and stay
// published until the tokens they signed have expired.
func (k *Keyring) Rotate(ctx context.Context) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("listing signing keys: %w", err)
	}
	now := k.now().UTC()
	for _, sk := range keys {
		if !sk.RetiredAt.IsZero() {
			continue
		}
		// An update of the key as stored, so that a re-seal of it
		// meanwhile is kept (see Reseal).
		_, err := k.store.UpdateSigningKey(ctx, sk.ID, func(cur *store.SigningKey) error {
			if cur.RetiredAt.IsZero() {
				cur.RetiredAt = now
				cur.ExpiresAt = now.Add(k.tokenTTL)
			}
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("retiring signing key: %w", err)
		}
	}
	if _, err := k.create(ctx); err != nil {
		return err
	}
	return k.load(ctx, false)
}

// Reload reads the keys from the store again, after another process
// rotated them.
func (k *Keyring) Reload(ctx context.Context) error { return k.load(ctx, false) }

// load reads the keys from the store and makes the newest active key of
// the algorithm the signer; with create, it makes one when there is none.
func (k *Keyring) load(ctx context.Context, create bool) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("listing signing keys: %w", err)
	}
	var active *store.SigningKey
	for i, sk := range keys {
		if sk.RetiredAt.IsZero() && sk.Algorithm == k.alg {
			active = &keys[i]
			break
		}
	}
	if active == nil {
		if !create {
			return fmt.Errorf("no active %s signing key", k.alg)
		}
		sk, err := k.create(ctx)
		if err != nil {
			return err
		}
		active = &sk
		keys = append([]store.SigningKey{sk}, keys...)
	}
	set := jose.JSONWebKeySet{}
	var signer jose.Signer
	for _, sk := range keys {
		priv, err := k.open(sk)
		if err != nil {
			return err
		}
		pub := jose.JSONWebKey{Key: priv.Public(), KeyID: sk.ID, Algorithm: sk.Algorithm, Use: "sig"}
		if sk.ID == active.ID {
			set.Keys = append([]jose.JSONWebKey{pub}, set.Keys...)
			signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Algorithm), Key: jose.JSONWebKey{Key: priv, KeyID: sk.ID}}, (&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				return fmt.Errorf("making signer: %w", err)
			}
			continue
		}
		set.Keys = append(set.Keys, pub)
	}
	k.mu.Lock()
	k.signer, k.activeID, k.jwks = signer, active.ID, set
	k.mu.Unlock()
	return nil
}

// create generates, seals and stores a new key of the algorithm.
func (k *Keyring) create(ctx context.Context) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch k.alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generating %s key: %w", k.alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encoding key: %w", err)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	sk := store.SigningKey{ID: hex.EncodeToString(id), Algorithm: k.alg, CreatedAt: k.now().UTC()}
	sk.Sealed = k.seal.Seal(der, keyBinding(sk.ID))
	if err := k.store.PutSigningKey(ctx, sk); err != nil {
		return store.SigningKey{}, fmt.Errorf("storing signing key: %w", err)
	}
	return sk, nil
}

func (k *Keyring) open(sk store.SigningKey) (crypto.Signer, error) {
	der, err := k.seal.Open(sk.Sealed, keyBinding(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("opening signing key %s: %w", sk.ID, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing signing key %s: %w", sk.ID, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s is a %T", sk.ID, key)
	}
	return signer, nil
}

// keyBinding is the additional data a signing key is sealed with, so that
// it opens only as the key of its id.
func keyBinding(id string) []byte { return []byte("signing key " + id) }
