package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestFormPost fills and submits a form that posts to itself, and checks that
// the posted value and the cookie the form page set reach the server.
func TestFormPost(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method != http.MethodPost {
			http.SetCookie(w, &http.Cookie{Name: "visit", Value: "v42", Path: "/", HttpOnly: true})
			fmt.Fprint(w, `<!doctype html><title>Form</title>
<form method="post"><input id="name" name="name"><button id="send">Send</button></form>`)
			return
		}
		visit := "none"
		if c, err := r.Cookie("visit"); err == nil {
			visit = c.Value
		}
		fmt.Fprintf(w, `<!doctype html><title>Posted</title><p id="greeting">Hello, %s</p><p id="cookie">%s</p>`,
			html.EscapeString(r.PostFormValue("name")), html.EscapeString(visit))
	}))
	t.Cleanup(srv.Close)

	ctx := New(t)
	Run(t, ctx,
		chromedp.Navigate(srv.URL),
		chromedp.SendKeys(chromedp.CSS("#name"), "Ada Lovelace"),
		chromedp.Click(chromedp.CSS("#send")),
	)
	if got, want := Text(t, ctx, "#greeting"), "Hello, Ada Lovelace"; got != want {
		t.Errorf("greeting = %q, want %q", got, want)
	}
	if got, want := Text(t, ctx, "#cookie"), "v42"; got != want {
		t.Errorf("cookie sent with the post = %q, want %q", got, want)
	}
	if got, want := Location(t, ctx), srv.URL+"/"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
}

// TestNewIncognitoSeparatesCookies signs two incognito tabs of one browser in
// as different users and checks that neither sees the other's cookie, nor
// does the browser's first tab.
func TestNewIncognitoSeparatesCookies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("user"); v != "" {
			http.SetCookie(w, &http.Cookie{Name: "user", Value: v, Path: "/"})
		}
		user := "nobody"
		if c, err := r.Cookie("user"); err == nil {
			user = c.Value
		}
		fmt.Fprintf(w, `<!doctype html><p id="user">%s</p>`, html.EscapeString(user))
	}))
	t.Cleanup(srv.Close)

	browser := New(t)
	alice, bob := NewIncognito(t, browser), NewIncognito(t, browser)
	Run(t, alice, chromedp.Navigate(srv.URL+"/?user=alice"))
	Run(t, bob, chromedp.Navigate(srv.URL+"/?user=bob"))

	for _, tab := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"alice", alice, "alice"},
		{"bob", bob, "bob"},
		{"first tab", browser, "nobody"},
	} {
		Run(t, tab.ctx, chromedp.Navigate(srv.URL+"/"))
		if got := Text(t, tab.ctx, "#user"); got != tab.want {
			t.Errorf("%s: server saw user %q, want %q", tab.name, got, tab.want)
		}
	}
}

// TestScreenshot checks that Screenshot writes a PNG of the whole page, as
// wide as the desktop or the phone screen, and that a short page fills the
// 1280×900 desktop screen.
func TestScreenshot(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		height := "10px"
		if r.URL.Path == "/tall" {
			height = "3000px"
		}
		fmt.Fprintf(w, `<!doctype html><meta name="viewport" content="width=device-width">
<style>body{margin:0;font-family:sans-serif}</style>
<h1>Screenshot</h1><div style="height:%s;background:#def"></div>`, height)
	}))
	t.Cleanup(srv.Close)

	ctx := New(t)
	dir := filepath.Join(t.TempDir(), "shots", "nested")
	for _, step := range []struct {
		name          string
		page          string
		action        chromedp.Action[chromedp.Void]
		width, height int // height 0: over 3000, the whole tall page
	}{
		{"desktop-short", "/short", nil, 1280, 900},
		{"desktop-tall", "/tall", nil, 1280, 0},
		{"phone-tall", "/tall", Phone(), 390, 0},
		{"phone-short", "/short", nil, 390, 844},
		{"desktop-again", "/short", Desktop(), 1280, 900},
	} {
		Run(t, ctx, chromedp.Navigate(srv.URL+step.page))
		if step.action != nil {
			Run(t, ctx, step.action)
		}
		path := filepath.Join(dir, step.name+".png")
		Screenshot(t, ctx, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: decoding the screenshot: %v", step.name, err)
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		if w != step.width {
			t.Errorf("%s: screenshot is %d pixels wide, want %d", step.name, w, step.width)
		}
		if step.height != 0 && h != step.height {
			t.Errorf("%s: screenshot is %d pixels high, want %d", step.name, h, step.height)
		}
		if step.height == 0 && h <= 3000 {
			t.Errorf("%s: screenshot is %d pixels high, want the whole page (over 3000)", step.name, h)
		}
	}
}

// failRecorder is a testing.TB whose Fatalf records the failure and returns,
// so a test can look at what a helper logged before failing.
type failRecorder struct {
	testing.TB
	logs  strings.Builder
	fatal string
}

func (r *failRecorder) Helper() {}

func (r *failRecorder) Logf(format string, args ...any) {
	fmt.Fprintf(&r.logs, format+"\n", args...)
}

func (r *failRecorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

// TestRunExplainsFailure checks that a failing Run shows the page: its URL,
// its text and a screenshot, also when the action ran out of time.
func TestRunExplainsFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><p>Something went wrong: the answer is 41</p>`)
	}))
	t.Cleanup(srv.Close)

	ctx := New(t)
	Run(t, ctx, chromedp.Navigate(srv.URL+"/broken"))
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	rec := &failRecorder{TB: t}
	Run(rec, short, chromedp.WaitVisible(chromedp.CSS("#never")))

	if !strings.Contains(rec.fatal, "deadline exceeded") {
		t.Errorf("failure = %q, want the deadline error", rec.fatal)
	}
	logs := rec.logs.String()
	for _, want := range []string{srv.URL + "/broken", "the answer is 41", "screenshot: "} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if _, path, ok := strings.Cut(logs, "screenshot: "); ok {
		path = strings.TrimSpace(path)
		t.Cleanup(func() { os.Remove(path) })
		if _, err := os.Stat(path); err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
}

// TestFindChromiumHonorsCHROME checks that a CHROME that names no program is
// reported, not replaced by another browser.
func TestFindChromiumHonorsCHROME(t *testing.T) {
	t.Setenv("CHROME", "/nonexistent/chromium")
	if path, err := findChromium(); err == nil {
		t.Fatalf("findChromium() = %q, want an error", path)
	} else if !strings.Contains(err.Error(), "CHROME=/nonexistent/chromium") {
		t.Errorf("error %q does not name CHROME", err)
	}
}
