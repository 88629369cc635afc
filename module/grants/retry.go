package grants

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A refresh retry within the grace gets the very pair the first use
// issued, so a family never forks: lost responses and parallel tabs are
// served, yet the family has one live refresh token at every moment. The
// pair is kept on the used refresh token's record, sealed with a key
// derived from that refresh token: the store holds only the token's hash,
// so neither the database nor the server's keys open it, only a client
// presenting the token again.

// retryKeyLabel separates the sealing key from token.Hash of the same
// token (a plain SHA-256), which the store keeps.
const retryKeyLabel = "applinks refresh retry key\x00"

// child is the pair issued for a refresh token, as kept for retries.
type child struct {
	AccessToken     string    `json:"a"`
	RefreshToken    string    `json:"r"`
	Scope           string    `json:"s"`
	AccessExpiresAt time.Time `json:"e"`
}

// sealChild seals c with a key only the parent refresh token gives.
func sealChild(parent string, c child) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding refresh child: %w", err)
	}
	aead, err := retryAEAD(parent)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sealing refresh child: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, nil), nil
}

// openChild opens what sealChild sealed for the same parent token.
func openChild(parent string, sealed []byte) (child, error) {
	aead, err := retryAEAD(parent)
	if err != nil {
		return child{}, err
	}
	if len(sealed) < aead.NonceSize() {
		return child{}, errors.New("opening refresh child: too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return child{}, fmt.Errorf("opening refresh child: %w", err)
	}
	var c child
	if err := json.Unmarshal(plain, &c); err != nil {
		return child{}, fmt.Errorf("decoding refresh child: %w", err)
	}
	return c, nil
}

func retryAEAD(parent string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(retryKeyLabel + parent))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("refresh child cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("refresh child cipher: %w", err)
	}
	return aead, nil
}
