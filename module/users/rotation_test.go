package users_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/users"
)

// TestMACsOfThePreviousKeyPassDuringARotation: a form rendered before an
// at-rest key rotation (its session's anti-CSRF token, the sign-in form's
// token), a notice left for the next page and a remembered device were
// MACed with the old key; while it is configured as a previous key they
// still pass, so that a restart with the new key does not refuse what a
// browser holds, and with the new key alone they no longer do. A MAC
// that no configured key made never passes.
func TestMACsOfThePreviousKeyPassDuringARotation(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	oldKey, err := secret.FromPassphrase("the at-rest key before the rotation, 32+ chars")
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := secret.FromPassphrase("the at-rest key after the rotation, 32+ chars")
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := newKey.WithPrevious(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := users.NewDirectory(st, []users.ConfigUser{{Name: "sam", Password: hash(t, "sam-pw"), Role: "SYSTEM_ADMIN"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sessionsOf := func(k *secret.Keys) *users.Sessions {
		return users.NewSessions(st, dir, k, users.Cookies{}, time.Hour, time.Now)
	}
	before, during, after := sessionsOf(oldKey), sessionsOf(rotating), sessionsOf(newKey)

	// What the browser got before the rotation.
	u, err := dir.Get(ctx, "sam")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	get := httptest.NewRequest(http.MethodGet, "/applinks/login", nil)
	if err := before.Start(ctx, w, get, u); err != nil {
		t.Fatal(err)
	}
	loginToken := before.LoginCSRFToken(w, get)
	before.RememberDevice(w, get, "sam")
	cookies := w.Result().Cookies()
	request := func(token string, extra ...*http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/applinks/admin", strings.NewReader(url.Values{users.CSRFField: {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range append(cookies, extra...) {
			r.AddCookie(c)
		}
		return r
	}
	sess, ok, err := before.Current(request(""))
	if err != nil || !ok {
		t.Fatalf("session: %v %v", ok, err)
	}
	csrf := before.CSRFToken(sess)
	fw := httptest.NewRecorder()
	before.SetFlash(fw, request(""), sess, users.Flash{Text: "carol added."})
	flash := fw.Result().Cookies()[0]

	for _, c := range []struct {
		name  string
		s     *users.Sessions
		wants bool
	}{{"during the rotation", during, true}, {"with the new key alone", after, false}} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.CheckCSRF(request(csrf), sess); got != c.wants {
				t.Errorf("the session's anti-CSRF token of the old key passes: %v, want %v", got, c.wants)
			}
			if got := c.s.CheckLoginCSRF(request(loginToken)); got != c.wants {
				t.Errorf("the sign-in form's token of the old key passes: %v, want %v", got, c.wants)
			}
			if got := c.s.KnownDevice(request(""), "sam"); got != c.wants {
				t.Errorf("the device remembered with the old key is known: %v, want %v", got, c.wants)
			}
			if got := c.s.TakeFlash(httptest.NewRecorder(), request("", flash), sess); (got.Text == "carol added.") != c.wants {
				t.Errorf("the notice MACed with the old key reads %+v, want it shown: %v", got, c.wants)
			}
			if !c.s.CheckCSRF(request(c.s.CSRFToken(sess)), sess) {
				t.Error("the anti-CSRF token of the current key is refused")
			}
			for _, forged := range []string{"", "x", strings.Repeat("A", 43), csrf + "A"} {
				if c.s.CheckCSRF(request(forged), sess) {
					t.Errorf("the forged anti-CSRF token %q passes", forged)
				}
			}
		})
	}
}
