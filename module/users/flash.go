package users

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// flashCookie carries a one-time message to the next page of the same
// session, e.g. "alice saved." after a form's redirect.
const flashCookie = "applinks_flash"

// flashTTL is how long a message waits for its page.
const flashTTL = time.Minute

// flashPurpose is the MAC purpose that binds a message to its session.
const flashPurpose = "applinks flash"

// maxFlash bounds a message, so the cookie stays well under browser limits.
const maxFlash = 1024

// Flash is a one-time message of the gateway to the next page: a notice
// of what was done, or a Warning of what was not.
type Flash struct {
	Text    string
	Warning bool
}

// SetFlash leaves f for the next page of the session that calls
// TakeFlash. The message is MACed with the session, so only the gateway
// can write one: a link or another site cannot make a page show its text
// as the gateway's own.
func (s *Sessions) SetFlash(w http.ResponseWriter, r *http.Request, sess Session, f Flash) {
	if f.Text == "" || len(f.Text) > maxFlash || !utf8.ValidString(f.Text) {
		return
	}
	msg := "n" + f.Text
	if f.Warning {
		msg = "w" + f.Text
	}
	body := base64.RawURLEncoding.EncodeToString([]byte(msg))
	s.cookies.Set(w, r, flashCookie, body+"."+s.flashMAC(sess, msg), flashTTL)
}

// TakeFlash returns the message SetFlash left for this session, once: it
// clears the cookie. A message of another session, or one not written by
// the gateway, is dropped unread.
func (s *Sessions) TakeFlash(w http.ResponseWriter, r *http.Request, sess Session) Flash {
	v, ok := s.cookies.Value(r, flashCookie)
	if !ok {
		return Flash{}
	}
	s.cookies.Clear(w, r, flashCookie)
	body, mac, ok := strings.Cut(v, ".")
	if !ok {
		return Flash{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < 2 || !s.checkMAC(mac, flashPurpose, sess.hash, raw) {
		return Flash{}
	}
	return Flash{Text: string(raw[1:]), Warning: raw[0] == 'w'}
}

// flashMAC binds a message to the session.
func (s *Sessions) flashMAC(sess Session, msg string) string {
	return base64.RawURLEncoding.EncodeToString(s.keys.MAC(flashPurpose, sess.hash, []byte(msg)))
}
