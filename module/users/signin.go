package users

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/ratelimit"
	"github.com/applinks/caddy-applinks/module/returnto"
	"github.com/applinks/caddy-applinks/module/web"
)

// Paths of the sign-in pages.
const (
	LoginPath  = "/applinks/login"
	LogoutPath = "/applinks/logout"
)

// SignIn serves the sign-in and sign-out pages.
type SignIn struct {
	Users    *Directory
	Sessions *Sessions
	Pages    *web.Pages
	// ByAddress and ByUser limit sign-in attempts.
	ByAddress *ratelimit.Limiter
	ByUser    *ratelimit.Limiter
	// Known, when set, remembers user and address of each sign-in; a user
	// signing in from such an address again, or from a browser they signed
	// in with before (DeviceCookie), is not held back by ByUser, so a flood
	// of wrong passwords for their name from elsewhere cannot lock them out.
	Known *ratelimit.Limiter
	Audit *zap.Logger
	Now   func() time.Time
	// OIDC, when set, adds a button per OpenID Connect provider.
	OIDC *OIDCLogin
	// PasswordForm reports whether to show the user name and password
	// form; it is hidden when only OpenID Connect providers can sign people
	// in. Nil: always shown.
	PasswordForm func(*http.Request) bool
	// Observe, when set, is told each password sign-in's outcome
	// (success or failure), for metrics.
	Observe func(method, outcome string)
}

type loginPage struct {
	CSRF         string
	ReturnTo     string
	Username     string
	Error        string
	Providers    []OIDCButton
	PasswordForm bool
}

// ServeLogin shows the sign-in form (GET) or signs a user in (POST) and
// sends them back to return_to, a local path.
func (s *SignIn) ServeLogin(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.render(w, r, http.StatusOK, loginPage{ReturnTo: returnto.Path(r.URL.Query().Get("return_to"))})
		return nil
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		return caddyhttp.Error(http.StatusMethodNotAllowed, errors.New("method not allowed"))
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.Pages.Error(w, http.StatusBadRequest, "Bad request", "The sign-in form could not be read.")
		return nil
	}
	page := loginPage{ReturnTo: returnto.Path(r.PostFormValue("return_to")), Username: r.PostFormValue("username")}
	if !s.Sessions.CheckLoginCSRF(r) {
		page.Error = "Your sign-in form expired. Please try again."
		s.render(w, r, http.StatusForbidden, page)
		return nil
	}
	now := s.Now()
	addr := ClientAddress(r)
	addrKey := ratelimit.AddressKey(addr)
	knownKey := page.Username + "\x00" + addrKey
	known := s.Sessions.KnownDevice(r, page.Username) || s.Known != nil && s.Known.Known(knownKey)
	if !s.ByAddress.Allow(addrKey, now) || (!known && !s.ByUser.Allow(page.Username, now)) {
		s.Audit.Warn("sign-in rate limited", zap.String("user", page.Username), zap.String("remote_ip", addr))
		w.Header().Set("Retry-After", "60")
		page.Error = "Too many sign-in attempts. Wait a minute and try again."
		s.render(w, r, http.StatusTooManyRequests, page)
		return nil
	}
	u, err := s.Users.Authenticate(r.Context(), page.Username, r.PostFormValue("password"))
	switch {
	case errors.Is(err, ErrBusy):
		s.Audit.Warn("sign-in refused: too many password checks at once", zap.String("user", page.Username), zap.String("remote_ip", addr))
		w.Header().Set("Retry-After", "1")
		page.Error = "The server is busy. Please try again in a moment."
		s.render(w, r, http.StatusServiceUnavailable, page)
		return nil
	case err != nil && r.Context().Err() != nil:
		// The client went away while waiting; nobody reads an answer.
		return nil
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrDisabled):
		s.observed("failure")
		s.Audit.Info("sign-in failed", zap.String("user", page.Username), zap.String("remote_ip", addr), zap.String("reason", err.Error()))
		page.Error = "The username or password is wrong."
		s.render(w, r, http.StatusUnauthorized, page)
		return nil
	case err != nil:
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if err := s.Sessions.Start(r.Context(), w, r, u); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	s.Sessions.RememberDevice(w, r, u.Name)
	if s.Known != nil {
		s.Known.Remember(knownKey, now)
	}
	s.observed("success")
	s.Audit.Info("signed in", zap.String("user", u.Name), zap.String("remote_ip", addr))
	redirectSignedIn(w, u, page.ReturnTo)
	return nil
}

// ServeLogout asks for confirmation (GET) and signs out (POST).
func (s *SignIn) ServeLogout(w http.ResponseWriter, r *http.Request) error {
	sess, ok, err := s.Sessions.Current(r)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if r.Method == http.MethodPost {
		if ok && !s.Sessions.CheckCSRF(r, sess) {
			s.Pages.Error(w, http.StatusForbidden, "Sign-out refused", "The sign-out form expired. Please try again.")
			return nil
		}
		if err := s.Sessions.End(w, r); err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		if ok {
			s.Audit.Info("signed out", zap.String("user", sess.User.Name))
		}
		s.Pages.Render(w, http.StatusOK, "signedout.html", web.Page{Title: "Signed out"})
		return nil
	}
	if !ok {
		s.Pages.Render(w, http.StatusOK, "signedout.html", web.Page{Title: "Signed out"})
		return nil
	}
	s.Pages.Render(w, http.StatusOK, "logout.html", web.Page{Title: "Sign out", User: sess.User.Name, Data: s.Sessions.CSRFToken(sess)})
	return nil
}

func (s *SignIn) observed(outcome string) {
	if s.Observe != nil {
		s.Observe("password", outcome)
	}
}

func (s *SignIn) render(w http.ResponseWriter, r *http.Request, status int, page loginPage) {
	page.CSRF = s.Sessions.LoginCSRFToken(w, r)
	page.Providers = s.OIDC.Buttons(page.ReturnTo)
	page.PasswordForm = s.PasswordForm == nil || s.PasswordForm(r)
	s.Pages.Render(w, status, "login.html", web.Page{Title: "Sign in", Data: page})
}

// LoginURL is the sign-in page that returns to the given local path; a
// path returnto refuses is left out.
func LoginURL(returnTo string) string {
	if p := returnto.Path(returnTo); p != "" {
		return LoginPath + "?return_to=" + url.QueryEscape(p)
	}
	return LoginPath
}

// ClientAddress is the client IP as Caddy determined it (honouring its
// trusted_proxies), else the connection's remote address.
func ClientAddress(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
