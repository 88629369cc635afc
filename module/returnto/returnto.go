// Package returnto judges where the gateway may send a browser back to
// after signing in or connecting an outgoing link: a path on the
// gateway's own origin, in the exact form that is written into Location.
package returnto

import (
	"net/http"
	"path"
	"strings"
)

// MaxLength is the longest return target kept: it travels in a sealed
// cookie during an OpenID Connect sign-in, and cookies hold about 4 KiB.
const MaxLength = 2048

// Fallback is where a browser goes when it brings no acceptable target.
const Fallback = "/"

// Path returns raw as a return target on this site, in canonical form, or
// "" when raw cannot be one. The canonical form is what goes into
// Location, unchanged: judging any other form would let a later
// normalisation (http.Redirect's path cleaning, a browser turning \ into /
// or dropping tabs) turn an accepted value into another host.
//
// Canonicalising decodes percent-encoded unreserved characters (so %2e is
// a dot, as browsers read it), removes dot segments and repeated slashes
// like http.Redirect, keeps a trailing slash, percent-encodes what may not
// appear raw, and drops the fragment (browsers never send one to the
// server). Refused: anything that is not an absolute path (schemes,
// protocol-relative //host, relative paths, leading spaces), a path whose
// dot segments resolve to //host, any control character or space, a
// backslash in the path, a path that keeps an encoded slash,
// backslash or control character (a handler that decodes the path and
// redirects would turn them back into //host), malformed percent-encoding
// in the path, and values longer than MaxLength, before or after
// canonicalising.
func Path(raw string) string {
	if raw == "" || len(raw) > MaxLength || raw[0] != '/' {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return ""
		}
	}
	raw, _, _ = strings.Cut(raw, "#")
	p, q, hasQuery := strings.Cut(raw, "?")
	if strings.IndexByte(p, '\\') >= 0 {
		return ""
	}
	p, ok := canonicalPath(p)
	if !ok {
		return ""
	}
	if hasQuery && q != "" {
		p += "?" + escape(q, isQueryByte)
	}
	if len(p) > MaxLength {
		return ""
	}
	return p
}

// Redirect sends the browser to target with 303 See Other, if Path
// accepts it, else to Fallback. Location is exactly Path's answer.
func Redirect(w http.ResponseWriter, target string) {
	to := Path(target)
	if to == "" {
		to = Fallback
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// canonicalPath decodes unreserved characters, refuses encoded slashes,
// backslashes and control characters, cleans the path as http.Redirect
// does and escapes what may not appear raw.
func canonicalPath(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		switch {
		case d < 0x20 || d == 0x7f || d == '/' || d == '\\':
			return "", false
		case isUnreserved(d):
			b.WriteByte(d)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[d>>4])
			b.WriteByte(upperHex[d&15])
		}
		i += 2
	}
	decoded := b.String()
	if strings.HasPrefix(removeDotSegments(decoded), "//") {
		return "", false
	}
	clean := path.Clean(decoded)
	if strings.HasSuffix(decoded, "/") && !strings.HasSuffix(clean, "/") {
		clean += "/"
	}
	if !strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "//") {
		return "", false
	}
	return escape(clean, isPathByte), true
}

// removeDotSegments resolves . and .. as a browser does (RFC 3986
// §5.2.4), keeping empty segments: a result that starts with // is a path
// a browser would write as a host.
func removeDotSegments(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}

// escape percent-encodes every byte of s that ok refuses, and a % that
// does not start a valid escape; valid escapes stay as they are.
func escape(s string, ok func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteString(s[i : i+3])
			i += 2
			continue
		}
		if c != '%' && ok(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// isUnreserved is RFC 3986's unreserved set.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathByte is RFC 3986's pchar without %, plus /.
func isPathByte(c byte) bool {
	return isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@/", c) >= 0
}

// isQueryByte is RFC 3986's query characters without %.
func isQueryByte(c byte) bool {
	return isPathByte(c) || c == '?'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
