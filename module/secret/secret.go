// Package secret seals values at rest with AES-256-GCM and derives the
// gateway's purpose-bound keys from one master key.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"golang.org/x/crypto/hkdf"
)

// MinPassphraseLen is the shortest secret_key accepted.
const MinPassphraseLen = 32

const keyLen = 32

// Keys holds the master key and what is derived from it, and the
// previous keys kept during a rotation (see WithPrevious).
type Keys struct {
	master []byte
	aead   cipher.AEAD
	// previous open values and verify MACs that they made; nothing is
	// sealed or MACed with them.
	previous []*Keys
}

// FromPassphrase derives the master key from a passphrase of at least
// MinPassphraseLen characters with HKDF-SHA256.
func FromPassphrase(passphrase string) (*Keys, error) {
	if n := utf8.RuneCountInString(passphrase); n < MinPassphraseLen {
		return nil, fmt.Errorf("secret_key is %d characters long; it must have at least %d", n, MinPassphraseLen)
	}
	return newKeys(derive([]byte(passphrase), "applinks master key"))
}

// FromToken derives keys from a high-entropy secret that only its holder
// presents, such as one of the gateway's tokens (32 random bytes): what
// they seal opens only for someone presenting the same token again, not
// with the server's own keys. It is not for passphrases.
func FromToken(tok string) (*Keys, error) {
	key := derive([]byte(tok), "applinks token key")
	return keysOf(key, key)
}

// FromKeyFile reads the 32-byte master key from path, creating the file
// with a random key and mode 0600 when it does not exist. Like ssh with a
// private key, it refuses a file that its group or others may read or
// write (see ErrKeyFileMode).
func FromKeyFile(path string) (*Keys, error) {
	k, missing, err := ReadKeyFile(path)
	if err != nil || !missing {
		return k, err
	}
	if err := writeNew(path, k.master); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		// Another process created it first: use theirs.
		k, missing, err = ReadKeyFile(path)
		if err == nil && missing {
			err = fmt.Errorf("reading key file %s: removed right after it was created", path)
		}
		if err != nil {
			return nil, err
		}
	}
	return k, nil
}

// ReadKeyFile reads the master key from path as FromKeyFile does, but
// writes nothing: when the file does not exist it returns a random key and
// missing, and the caller stores that key with WriteKeyFile before
// anything sealed with it is kept.
func ReadKeyFile(path string) (k *Keys, missing bool, err error) {
	key, err := readKeyFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, keyLen)
		_, _ = rand.Read(key)
		k, err = newKeys(key)
		return k, true, err
	}
	if err != nil {
		return nil, false, err
	}
	if len(key) != keyLen {
		return nil, false, fmt.Errorf("key file %s holds %d bytes, want %d", path, len(key), keyLen)
	}
	k, err = newKeys(key)
	return k, false, err
}

// ErrKeyFileChanged means the key file was created by someone else, with
// another key, after ReadKeyFile found none.
var ErrKeyFileChanged = errors.New("key file was created meanwhile with another key")

// WriteKeyFile creates the key file at path holding k's master key, mode
// 0600 in a folder made 0700 if needed. A file that exists already is
// kept: it is fine when it holds the same key, else the error wraps
// ErrKeyFileChanged.
func (k *Keys) WriteKeyFile(path string) error {
	err := writeNew(path, k.master)
	if !errors.Is(err, os.ErrExist) {
		return err
	}
	theirs, missing, err := ReadKeyFile(path)
	if err != nil {
		return err
	}
	if missing || !hmac.Equal(theirs.master, k.master) {
		return fmt.Errorf("creating key file %s: %w", path, ErrKeyFileChanged)
	}
	return nil
}

// Seal encrypts plaintext; additional data binds the ciphertext to its
// record (e.g. a link id) so it cannot be moved to another.
func (k *Keys) Seal(plaintext, additional []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	_, _ = rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, additional)
}

// Open decrypts what Seal returned for the same additional data, under
// the key or, failing that, one of its previous keys. A value that none
// of them opens gives an error wrapping ErrUnreadable.
func (k *Keys) Open(sealed, additional []byte) ([]byte, error) {
	plain, _, err := k.open(sealed, additional)
	return plain, err
}

// ErrUnreadable means a sealed value opens with none of the keys: it was
// sealed with another key, for other additional data, or was damaged.
var ErrUnreadable = errors.New("sealed with another key or damaged")

// open is Open that also tells whether the current key opened the value.
func (k *Keys) open(sealed, additional []byte) (plain []byte, current bool, err error) {
	if plain, ok := k.openOwn(sealed, additional); ok {
		return plain, true, nil
	}
	for _, p := range k.previous {
		if plain, ok := p.openOwn(sealed, additional); ok {
			return plain, false, nil
		}
	}
	return nil, false, fmt.Errorf("opening sealed value: %w", ErrUnreadable)
}

// openOwn opens a value with k's own key alone.
func (k *Keys) openOwn(sealed, additional []byte) ([]byte, bool) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, false
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], additional)
	return plain, err == nil
}

// MAC returns an HMAC-SHA256 of data under a key derived for purpose, e.g.
// anti-CSRF tokens bound to a session.
func (k *Keys) MAC(purpose string, data ...[]byte) []byte {
	m := hmac.New(sha256.New, derive(k.master, purpose))
	for _, d := range data {
		_, _ = m.Write(d)
	}
	return m.Sum(nil)
}

func newKeys(master []byte) (*Keys, error) {
	return keysOf(master, derive(master, "applinks seal"))
}

// keysOf returns keys that seal with sealKey and derive MAC keys from
// master.
func keysOf(master, sealKey []byte) (*Keys, error) {
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("making cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("making cipher: %w", err)
	}
	return &Keys{master: master, aead: aead}, nil
}

func derive(secret []byte, info string) []byte {
	out := make([]byte, keyLen)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(info)), out); err != nil {
		panic("hkdf: " + err.Error()) // cannot happen for 32 bytes of SHA-256 output
	}
	return out
}

func writeNew(path string, key []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("making key file folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating key file: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	return f.Close()
}
