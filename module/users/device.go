package users

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// DeviceCookie marks a browser in which a user signed in with their
// password (OWASP's "device cookie"): a sign-in from it is not held back by
// the per-user limit, so wrong passwords sent for the user's name from
// elsewhere cannot lock them out of their own browsers, whatever address
// the browser now has and across restarts. It names nobody: its value is
// a random nonce and a MAC binding the nonce to the user.
const DeviceCookie = "applinks_device"

// deviceTTL is how long a browser stays known: the longest lifetime
// browsers allow a cookie.
const deviceTTL = 400 * 24 * time.Hour

// devicePurpose is the MAC purpose of the known-device cookie.
const devicePurpose = "applinks device"

// RememberDevice marks the browser of r as one where user signs in.
func (s *Sessions) RememberDevice(w http.ResponseWriter, r *http.Request, user string) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	n := base64.RawURLEncoding.EncodeToString(nonce)
	s.cookies.Set(w, r, DeviceCookie, n+"."+s.deviceMAC(n, user), deviceTTL)
}

// KnownDevice reports whether the browser of r is one where user signed
// in before (RememberDevice).
func (s *Sessions) KnownDevice(r *http.Request, user string) bool {
	v, ok := s.cookies.Value(r, DeviceCookie)
	if !ok {
		return false
	}
	nonce, mac, ok := strings.Cut(v, ".")
	return ok && nonce != "" && s.checkMAC(mac, devicePurpose, []byte(nonce), []byte{0}, []byte(user))
}

func (s *Sessions) deviceMAC(nonce, user string) string {
	return base64.RawURLEncoding.EncodeToString(s.keys.MAC(devicePurpose, []byte(nonce), []byte{0}, []byte(user)))
}
