// Package token makes and checks the gateway's opaque secrets: access and
// refresh tokens, authorization codes, client secrets, session cookies and
// the tokens and token secrets of OAuth 1.0a consumers.
//
// A token is a type prefix followed by the base64url encoding of 32 random
// bytes and a 4-byte CRC-32 of prefix and random part, so that secret
// scanners can recognise leaked tokens and a mistyped or forged token is
// refused without a store lookup. Only the SHA-256 of a token is stored.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// Prefixes name what a token is for.
const (
	Access       = "ala_"
	Refresh      = "alr_"
	Code         = "alc_"
	ClientSecret = "als_"
	Session      = "alk_"
	// OAuth1Access is an OAuth 1.0a access token, OAuth1Request a request
	// token awaiting the user's authorization, OAuth1Secret the token
	// secret an HMAC-SHA1 consumer signs with.
	OAuth1Access  = "alo_"
	OAuth1Request = "alq_"
	OAuth1Secret  = "alt_"
)

const (
	randomLen = 32
	sumLen    = 4
	encLen    = (randomLen + sumLen + 2) / 3 * 4 // base64url without padding of 36 bytes = 48
	prefixLen = 4
	// Len is the length of every token made by New.
	Len = prefixLen + encLen
)

// New returns a fresh random token with the given prefix.
func New(prefix string) string {
	var buf [randomLen + sumLen]byte
	_, _ = rand.Read(buf[:randomLen]) // crypto/rand.Read never fails (Go ≥ 1.24)
	binary.BigEndian.PutUint32(buf[randomLen:], checksum(prefix, buf[:randomLen]))
	return prefix + base64.RawURLEncoding.EncodeToString(buf[:])
}

// Valid reports whether tok has the given prefix, the right length and a
// matching checksum. It does no I/O and allocates nothing.
func Valid(tok, prefix string) bool {
	if len(tok) != Len || !strings.HasPrefix(tok, prefix) {
		return false
	}
	var enc [encLen]byte
	copy(enc[:], tok[prefixLen:])
	var buf [randomLen + sumLen]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], enc[:])
	if err != nil || n != len(buf) {
		return false
	}
	return binary.BigEndian.Uint32(buf[randomLen:]) == checksum(prefix, buf[:randomLen])
}

// Kind returns the prefix of a well-formed token with a valid checksum, or
// "" when tok is not one of ours.
func Kind(tok string) string {
	for _, p := range [...]string{Access, Refresh, Code, ClientSecret, Session, OAuth1Access, OAuth1Request, OAuth1Secret} {
		if strings.HasPrefix(tok, p) {
			if Valid(tok, p) {
				return p
			}
			return ""
		}
	}
	return ""
}

// Hash returns the SHA-256 of tok, the only form in which tokens are stored.
func Hash(tok string) []byte {
	sum := Sum(tok)
	return sum[:]
}

// Sum is Hash as an array, without allocating.
func Sum(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// checksum is the CRC-32 (IEEE) of prefix followed by random, computed
// with the standard table in a plain loop so that nothing escapes to the
// heap on the guard's hot path.
func checksum(prefix string, random []byte) uint32 {
	tab := crc32.IEEETable
	crc := ^uint32(0)
	for i := 0; i < len(prefix); i++ {
		crc = tab[byte(crc)^prefix[i]] ^ crc>>8
	}
	for _, b := range random {
		crc = tab[byte(crc)^b] ^ crc>>8
	}
	return ^crc
}
