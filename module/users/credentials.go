package users

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/applinks/caddy-applinks/module/token"
)

// strippedKey is the context key of the credentials StripCredentials took
// off a request. It is no Caddy variable, so no placeholder can read it.
type strippedKey struct{}

// stripped are the gateway's credentials taken off a request.
type stripped struct {
	// cookie holds the removed cookies as one Cookie header line.
	cookie string
	// authorization holds the removed Authorization values.
	authorization []string
}

// StripCredentials takes every credential of the gateway off r before it
// goes to the next handler, whatever that is (an upstream of this site, a
// third party's API through outgoing_token): every cookie named applinks_*,
// also with a __Host- or __Secure- prefix, and an Authorization header
// holding a gateway token (Bearer, as the password of Basic, or as the
// oauth_token of an OAuth 1.0a signature). Other cookies and other
// Authorization values pass unchanged.
//
// The returned request carries what was taken in its context, so a later
// handler of the gateway (require_token after the applinks handler) still
// finds the session (Cookies.Value) and the token (Authorization); nothing
// taken is reachable through a placeholder.
func StripCredentials(r *http.Request) *http.Request {
	var taken stripped
	if prev, ok := r.Context().Value(strippedKey{}).(*stripped); ok {
		taken = *prev
	}
	cookie := stripCookies(r.Header)
	auth := stripAuthorization(r.Header)
	if cookie == "" && auth == nil {
		return r
	}
	if cookie != "" {
		if taken.cookie != "" {
			taken.cookie += "; "
		}
		taken.cookie += cookie
	}
	taken.authorization = append(taken.authorization[:len(taken.authorization):len(taken.authorization)], auth...)
	return r.WithContext(context.WithValue(r.Context(), strippedKey{}, &taken))
}

// Authorization returns the request's Authorization values, or those
// StripCredentials took off it when it has none any more.
func Authorization(r *http.Request) []string {
	if v := r.Header.Values("Authorization"); len(v) > 0 {
		return v
	}
	if taken, ok := r.Context().Value(strippedKey{}).(*stripped); ok {
		return taken.authorization
	}
	return nil
}

// isGatewayCookie reports whether a cookie name is one of the gateway's,
// with or without a __Host- or __Secure- prefix (compared as browsers do,
// ignoring case).
func isGatewayCookie(name string) bool {
	lower := strings.ToLower(strings.TrimSpace(name))
	for _, p := range [...]string{"__host-", "__secure-"} {
		lower = strings.TrimPrefix(lower, p)
	}
	return strings.HasPrefix(lower, gatewayCookiePrefix)
}

// strippedCookie returns the value of the cookie name among those
// StripCredentials took off the request.
func strippedCookie(r *http.Request, name string) (string, bool) {
	taken, ok := r.Context().Value(strippedKey{}).(*stripped)
	if !ok || taken.cookie == "" {
		return "", false
	}
	c, err := (&http.Request{Header: http.Header{"Cookie": {taken.cookie}}}).Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// stripCookies removes the gateway's cookies from every Cookie header,
// leaving the other pairs as they were sent, and returns the removed ones.
func stripCookies(h http.Header) string {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return ""
	}
	var kept, taken []string
	for _, line := range lines {
		for _, pair := range strings.Split(line, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, _, _ := strings.Cut(pair, "=")
			if isGatewayCookie(name) {
				taken = append(taken, pair)
			} else {
				kept = append(kept, pair)
			}
		}
	}
	if len(taken) == 0 {
		return ""
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
	return strings.Join(taken, "; ")
}

// stripAuthorization removes the Authorization header when one of its
// values holds a gateway token, and returns the removed values.
func stripAuthorization(h http.Header) []string {
	values := h.Values("Authorization")
	for _, v := range values {
		if holdsGatewayToken(v) {
			h.Del("Authorization")
			return values
		}
	}
	return nil
}

// holdsGatewayToken reports whether an Authorization value carries one of
// the gateway's tokens, as a Bearer token, the password of Basic or the
// oauth_token of an OAuth 1.0a signature.
func holdsGatewayToken(v string) bool {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return token.Kind(rest) != ""
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return false
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		return token.Kind(pass) != "" || token.Kind(user) != ""
	case strings.EqualFold(scheme, "OAuth"):
		for _, param := range strings.Split(rest, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.TrimSpace(name) == "oauth_token" {
				return token.Kind(strings.Trim(strings.TrimSpace(value), `"`)) != ""
			}
		}
	}
	return false
}
