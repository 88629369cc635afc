package grants

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// PKCE methods (RFC 7636 §4.2).
const (
	MethodPlain = "plain"
	MethodS256  = "S256"
)

// NormalizeMethod maps a code_challenge_method to plain or S256: missing is
// plain, and "sha256" (Atlassian's spelling) and any case of "s256" are
// S256. ok is false for anything else.
func NormalizeMethod(m string) (method string, ok bool) {
	switch strings.ToLower(m) {
	case "", "plain":
		return MethodPlain, true
	case "s256", "sha256":
		return MethodS256, true
	}
	return "", false
}

// ValidVerifierSyntax reports whether v is 43–128 characters of
// [A-Za-z0-9-._~] (RFC 7636 §4.1); the same rule applies to challenges.
func ValidVerifierSyntax(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// VerifyPKCE checks a code_verifier against the stored challenge.
func VerifyPKCE(challenge, method, verifier string) bool {
	if !ValidVerifierSyntax(verifier) {
		return false
	}
	var want string
	switch method {
	case MethodS256:
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	case MethodPlain:
		want = verifier
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}
