package users

import (
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Cookie names, before the __Host- prefix that HTTPS adds.
const (
	SessionCookie = "applinks_session"
	// LoginCookie binds the sign-in form's anti-CSRF token to a browser
	// before there is a session.
	LoginCookie = "applinks_login"
	// oidcCookie keeps the sealed state of an OpenID Connect sign-in.
	oidcCookie = "applinks_oidc"
)

// HostPrefix is put before every cookie name on HTTPS. The browser then
// keeps the cookie only if it is Secure, has Path=/ and no Domain, so
// neither a sibling subdomain nor plain HTTP can set or shadow it.
const HostPrefix = "__Host-"

// gatewayCookiePrefix starts the name of every cookie of the gateway, after
// any __Host- or __Secure- prefix.
const gatewayCookiePrefix = "applinks_"

// IsHTTPS reports whether the browser reached the gateway over HTTPS: the
// connection is TLS, the configured issuer is an https URL, or a trusted
// proxy (Caddy's trusted_proxies) says so in X-Forwarded-Proto. Every
// cookie of the gateway is Secure and __Host- named exactly when it holds.
func IsHTTPS(r *http.Request, issuer string) bool {
	if r.TLS != nil || len(issuer) >= len("https://") && strings.EqualFold(issuer[:len("https://")], "https://") {
		return true
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// Cookies sets and reads the gateway's cookies, all HttpOnly, SameSite=Lax
// and Path=/; on HTTPS (IsHTTPS) also Secure and named __Host-<name>.
// Plain HTTP (a development site on loopback) keeps the bare name, which
// browsers would refuse with the prefix.
type Cookies struct {
	// Issuer is the configured issuer; "" when it is taken from requests.
	Issuer string
}

// Name is the name under which the cookie called base is set and read for
// the request.
func (c Cookies) Name(r *http.Request, base string) string {
	if IsHTTPS(r, c.Issuer) {
		return HostPrefix + base
	}
	return base
}

// Set sets the cookie base to value for maxAge; 0 makes it last until the
// browser closes.
func (c Cookies) Set(w http.ResponseWriter, r *http.Request, base, value string, maxAge time.Duration) {
	http.SetCookie(w, c.cookie(r, c.Name(r, base), value, int(maxAge/time.Second)))
}

// Clear deletes the cookie base, and on HTTPS also a bare-named copy left
// by a version without the prefix.
func (c Cookies) Clear(w http.ResponseWriter, r *http.Request, base string) {
	name := c.Name(r, base)
	http.SetCookie(w, c.cookie(r, name, "", -1))
	if name != base {
		if _, err := r.Cookie(base); err == nil {
			http.SetCookie(w, &http.Cookie{Name: base, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
	}
}

// Value returns the value of the cookie base sent with the request, also
// when an earlier handler of the gateway has taken it off the request
// (StripCredentials).
func (c Cookies) Value(r *http.Request, base string) (string, bool) {
	name := c.Name(r, base)
	if ck, err := r.Cookie(name); err == nil {
		return ck.Value, true
	}
	return strippedCookie(r, name)
}

func (c Cookies) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: IsHTTPS(r, c.Issuer), SameSite: http.SameSiteLaxMode}
}
