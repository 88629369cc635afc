package users

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxClaimName bounds a user name made from ID-token claims: 255 bytes of
// subject (OpenID Connect Core §2) plus "@" and a host, or an e-mail
// address (at most 254 bytes, RFC 5321).
const maxClaimName = 512

// asciiLower lower-cases the ASCII letters of s and leaves every other
// byte alone. Unicode case mapping would turn the Kelvin sign (U+212A) into
// "k" and so make bob@ᴋontoso.example, a different mailbox, the same user
// name as, and an address in the same allowed domain as, bob@kontoso.example.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// plainClaimName reports whether a user name made from claims is one a
// person can read and every store, log line and header can carry: valid
// UTF-8, not too long, no control characters.
func plainClaimName(name string) bool {
	if name == "" || len(name) > maxClaimName || !utf8.ValidString(name) {
		return false
	}
	return strings.IndexFunc(name, unicode.IsControl) < 0
}
