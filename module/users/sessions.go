package users

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// CSRFField is the form field that carries the anti-CSRF token.
const CSRFField = "csrf_token"

// Session is a live sign-in session of an enabled user.
type Session struct {
	User User
	// SignedInAt is when the user signed in.
	SignedInAt time.Time
	hash       []byte
}

// Sessions runs server-side sign-in sessions.
type Sessions struct {
	cookies Cookies
	origin  *http.CrossOriginProtection
	store   store.SessionStore
	users   *Directory
	keys    *secret.Keys
	ttl     time.Duration
	now     func() time.Time
}

// NewSessions returns a session service; sessions last ttl and their
// cookies are set by cookies.
func NewSessions(st store.SessionStore, users *Directory, keys *secret.Keys, cookies Cookies, ttl time.Duration, now func() time.Time) *Sessions {
	return &Sessions{cookies: cookies, origin: newOriginCheck(cookies.Issuer), store: st, users: users, keys: keys, ttl: ttl, now: now}
}

// Cookies returns how the gateway's cookies are set and read.
func (s *Sessions) Cookies() Cookies { return s.cookies }

// Start signs u in: it stores a new session and sets its cookie (see
// Cookies). u is the user as authenticated: when their password, role or
// disabled state changed meanwhile, the session is already over.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, u User) error {
	tok := token.New(token.Session)
	now := s.now().UTC()
	if err := s.store.CreateSession(ctx, store.Session{Hash: token.Hash(tok), UserID: u.Name, Stamp: u.stamp, CreatedAt: now, ExpiresAt: now.Add(s.ttl)}); err != nil {
		return fmt.Errorf("storing session: %w", err)
	}
	s.cookies.Set(w, r, SessionCookie, tok, s.ttl)
	return nil
}

// Current returns the request's session; ok is false when there is none,
// it has expired, its user is gone or disabled, or the user's password,
// role or disabled state changed since it started.
func (s *Sessions) Current(r *http.Request) (sess Session, ok bool, err error) {
	c, ok := s.cookies.Value(r, SessionCookie)
	if !ok || !token.Valid(c, token.Session) {
		return Session{}, false, nil
	}
	hash := token.Hash(c)
	st, err := s.store.GetSession(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("loading session: %w", err)
	}
	if !s.now().Before(st.ExpiresAt) {
		return Session{}, false, nil
	}
	u, err := s.users.Get(r.Context(), st.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	if u.Disabled || u.Role == scope.None || st.CreatedAt.Before(u.Since) || st.Stamp != u.stamp {
		return Session{}, false, nil
	}
	return Session{User: u, SignedInAt: st.CreatedAt, hash: hash}, true, nil
}

// End deletes the request's session and its cookie.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) error {
	s.cookies.Clear(w, r, SessionCookie)
	c, ok := s.cookies.Value(r, SessionCookie)
	if !ok || !token.Valid(c, token.Session) {
		return nil
	}
	return s.store.DeleteSession(r.Context(), token.Hash(c))
}

// EndAll ends every session of the user, in every browser, and returns
// how many there were.
func (s *Sessions) EndAll(ctx context.Context, userID string) (int, error) {
	n, err := s.store.DeleteUserSessions(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("ending the sessions of %q: %w", userID, err)
	}
	return n, nil
}

// MAC purposes of the anti-CSRF tokens of a session's forms and of the
// sign-in form.
const (
	csrfSessionPurpose = "applinks csrf session"
	csrfLoginPurpose   = "applinks csrf login"
)

// CSRFToken returns the anti-CSRF token for forms shown in this session.
func (s *Sessions) CSRFToken(sess Session) string {
	return base64.RawURLEncoding.EncodeToString(s.keys.MAC(csrfSessionPurpose, sess.hash))
}

// CheckCSRF reports whether the request's form carries this session's
// anti-CSRF token (one made before an at-rest key rotation passes while
// the previous key is configured).
func (s *Sessions) CheckCSRF(r *http.Request, sess Session) bool {
	return s.checkMAC(r.PostFormValue(CSRFField), csrfSessionPurpose, sess.hash)
}

// LoginCSRFToken returns the anti-CSRF token for the sign-in form, setting
// the browser-binding cookie when the request has none.
func (s *Sessions) LoginCSRFToken(w http.ResponseWriter, r *http.Request) string {
	c, ok := s.cookies.Value(r, LoginCookie)
	if !ok || !token.Valid(c, token.Session) {
		c = token.New(token.Session)
		s.cookies.Set(w, r, LoginCookie, c, 0)
	}
	return s.loginToken(c)
}

// CheckLoginCSRF reports whether a sign-in form post carries the token
// bound to its browser cookie.
func (s *Sessions) CheckLoginCSRF(r *http.Request) bool {
	c, ok := s.cookies.Value(r, LoginCookie)
	if !ok || !token.Valid(c, token.Session) {
		return false
	}
	return s.checkMAC(r.PostFormValue(CSRFField), csrfLoginPurpose, []byte(c))
}

func (s *Sessions) loginToken(cookie string) string {
	return base64.RawURLEncoding.EncodeToString(s.keys.MAC(csrfLoginPurpose, []byte(cookie)))
}

// checkMAC reports whether encoded is the base64url MAC of data for
// purpose under the at-rest key, or under a previous key while one is
// configured (see secret.Keys.CheckMAC).
func (s *Sessions) checkMAC(encoded, purpose string, data ...[]byte) bool {
	mac, err := base64.RawURLEncoding.Strict().DecodeString(encoded)
	return err == nil && len(mac) > 0 && s.keys.CheckMAC(mac, purpose, data...)
}
