package users_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/users"
)

// TestFlashIsShownOnlyToItsSessionOnce: a notice left for one session is
// read once by that session; another session, a copy of the cookie in
// another browser, or a cookie with text the gateway did not write, shows
// nothing.
func TestFlashIsShownOnlyToItsSessionOnce(t *testing.T) {
	st := badgertest.Open(t)
	keys, err := secret.FromPassphrase(strings.Repeat("f", 32))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := users.NewDirectory(st, []users.ConfigUser{{Name: "sam", Password: hash(t, "sam-pw"), Role: "SYSTEM_ADMIN"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sessions := users.NewSessions(st, dir, keys, users.Cookies{}, time.Hour, time.Now)
	start := func() []*http.Cookie {
		u, err := dir.Get(context.Background(), "sam")
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		if err := sessions.Start(context.Background(), w, httptest.NewRequest(http.MethodGet, "/", nil), u); err != nil {
			t.Fatal(err)
		}
		return w.Result().Cookies()
	}
	request := func(cookies ...*http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/applinks/admin", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		return r
	}
	session := func(cookies []*http.Cookie) users.Session {
		s, ok, err := sessions.Current(request(cookies...))
		if err != nil || !ok {
			t.Fatalf("session: %v %v", ok, err)
		}
		return s
	}
	mine, theirs := start(), start()
	w := httptest.NewRecorder()
	sessions.SetFlash(w, request(mine...), session(mine), users.Flash{Text: "carol added."})
	flash := w.Result().Cookies()
	if len(flash) != 1 || strings.Contains(flash[0].Value, "carol added.") {
		t.Fatalf("flash cookie %v", flash)
	}

	if got := sessions.TakeFlash(httptest.NewRecorder(), request(append(theirs, flash[0])...), session(theirs)); got.Text != "" {
		t.Fatalf("another session reads %+v", got)
	}
	forged := &http.Cookie{Name: flash[0].Name, Value: "U3Bvb2Y" + flash[0].Value[strings.Index(flash[0].Value, "."):]}
	if got := sessions.TakeFlash(httptest.NewRecorder(), request(append(mine, forged)...), session(mine)); got.Text != "" {
		t.Fatalf("a cookie with other text reads %+v", got)
	}
	w = httptest.NewRecorder()
	if got := sessions.TakeFlash(w, request(append(mine, flash[0])...), session(mine)); got != (users.Flash{Text: "carol added."}) {
		t.Fatalf("its session reads %+v", got)
	}
	if c := w.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("reading does not clear the cookie: %v", c)
	}
}
