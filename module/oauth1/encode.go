package oauth1

import (
	"errors"
	"slices"
	"strings"
)

// Encode percent-encodes s as RFC 5849 §3.6 requires: every byte but the
// unreserved characters of RFC 3986 (ALPHA, DIGIT, "-", ".", "_", "~") as
// %XX with upper-case hex digits.
func Encode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

var errBadEscape = errors.New("malformed percent-encoding")

// decode reverses RFC 3986 percent-encoding; with plus, a '+' is a space,
// as in application/x-www-form-urlencoded.
func decode(s string, plus bool) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) {
				return "", errBadEscape
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errBadEscape
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		case c == '+' && plus:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// WithoutProtocolParams returns an application/x-www-form-urlencoded
// string (a query or a form body) without its OAuth protocol parameters
// (oauth_*) and the names given in also, every other pair kept exactly as
// written; changed is false when there were none.
func WithoutProtocolParams(s string, also ...string) (out string, changed bool) {
	var b strings.Builder
	rest := s
	for rest != "" {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		k, _, _ := strings.Cut(kv, "=")
		name, err := decode(k, true)
		if err == nil && (strings.HasPrefix(name, "oauth_") || slices.Contains(also, name)) {
			changed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv)
	}
	if !changed {
		return s, false
	}
	return b.String(), true
}
