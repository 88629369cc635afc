// Package browsertest starts a headless Chromium for a test and drives it with
// chromedp, so tests can use the HTML pages as a person would.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	// timeout bounds the life of a browser, so a hung page fails the test
	// instead of hanging CI until `go test -timeout` kills the binary.
	timeout = 2 * time.Minute

	// closeTimeout bounds the graceful close in the cleanup and the
	// diagnostics that Run gathers after an error.
	closeTimeout = 10 * time.Second

	// maxBodyText is how much of the page's text Run logs after an error.
	maxBodyText = 2000

	desktopWidth, desktopHeight = 1280, 900
	phoneWidth, phoneHeight     = 390, 844
)

// installHint says how to get a browser; it ends the message of a skipped or
// failed New.
const installHint = "install it with `apt-get install -y chromium`, or set CHROME to its path"

// New starts a headless Chromium with a fresh profile and returns a chromedp
// context for its first tab, a 1280×900 desktop screen (see Desktop). The
// browser is closed when the test ends, and killed after two minutes at the
// latest.
//
// Chromium is $CHROME, else the first of chromium, chromium-browser,
// google-chrome and google-chrome-stable on PATH, else /usr/bin/chromium. When
// there is none, the test is skipped, or fails when CI=true, so a CI machine
// without a browser does not pass silently.
func New(t testing.TB) context.Context {
	t.Helper()
	path, err := findChromium()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browsertest: Chromium not found (%v); %s", err, installHint)
		}
		t.Skipf("browsertest: Chromium not found (%v); %s", err, installHint)
	}

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	// The first Run ties the browser's life to its context: this one, not
	// the test's, so other cleanups can still use the browser.
	life, cancelLife := context.WithTimeoutCause(context.Background(), timeout,
		fmt.Errorf("browsertest: the browser was killed after %v, the limit of a browser test", timeout))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close gracefully so Chromium flushes and leaves the profile
		// directory before t.TempDir removes it.
		closeCtx, cancelClose := context.WithTimeout(ctx, closeTimeout)
		defer cancelClose()
		_ = chromedp.Cancel(closeCtx)
		cancelCtx()
		cancelAlloc()
		cancelLife()
	})
	if err := chromedp.Do(ctx, Desktop()); err != nil {
		t.Fatalf("browsertest: starting %s: %v", path, err)
	}
	return ctx
}

// NewIncognito opens a tab in a new browser context of browser's Chromium: an
// incognito-like profile with its own cookies and storage, so one test can act
// as two users at once. browser is a context from New (or from NewIncognito,
// which still gives a fresh cookie jar). The tab is closed when the test ends.
func NewIncognito(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, Desktop()); err != nil {
		t.Fatalf("browsertest: opening an incognito tab: %v", err)
	}
	return ctx
}

// Run runs the actions in the tab of ctx and fails the test at the first
// error, after logging the page's URL and text and saving a screenshot of it,
// so a failure shows what the browser saw.
func Run(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, ctx, chromedp.Steps(actions...))
}

// Text returns the visible text of the first element that matches the CSS
// selector sel, waiting for it to appear.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	return run(t, ctx, chromedp.Text(chromedp.CSS(sel)))
}

// Location returns the URL of the page in the tab of ctx.
func Location(t testing.TB, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Location())
}

// Screenshot writes a PNG of the whole page in the tab of ctx to path,
// creating its directory.
func Screenshot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	png := run(t, ctx, chromedp.FullScreenshot(100)) // 100 means PNG
	if err := writeFile(path, png); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
}

// Phone is an action that makes the tab a 390×844 portrait phone screen with
// touch, as an iPhone's CSS viewport, at one device pixel per CSS pixel so
// screenshots are 390 pixels wide.
func Phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(phoneWidth, phoneHeight,
		chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
}

// Desktop is an action that makes the tab a 1280×900 desktop screen without
// touch, as New and NewIncognito open it; it undoes Phone. (Headless Chromium
// takes its window frame off the --window-size, so the viewport is set here.)
func Desktop() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(desktopWidth, desktopHeight)
}

// run runs a, and on error logs what the page shows and fails the test.
func run[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		explain(t, ctx)
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			t.Fatalf("browsertest: %v (%v)", err, cause)
		}
		t.Fatalf("browsertest: %v", err)
	}
	return v
}

// explain logs the URL and text of the page in the tab of ctx and saves a
// screenshot of it in the system's temporary directory, which outlives the
// test. A step that fails is logged and skipped.
func explain(t testing.TB, ctx context.Context) {
	t.Helper()
	// The error can be ctx's own deadline; the tab is still there.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()

	if url, err := chromedp.Run(ctx, chromedp.Location()); err != nil {
		t.Logf("browsertest: reading the URL: %v", err)
	} else {
		t.Logf("browsertest: page URL: %s", url)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		t.Logf("browsertest: reading the page text: %v", err)
	} else {
		if len(text) > maxBodyText {
			text = strings.ToValidUTF8(text[:maxBodyText], "") + "…"
		}
		t.Logf("browsertest: page text:\n%s", text)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp("", "browsertest-"+fileSafe(t.Name())+"-*.png"); err == nil {
			_, err = f.Write(png)
			err = errors.Join(err, f.Close())
			if err == nil {
				t.Logf("browsertest: screenshot: %s", f.Name())
			}
		}
	}
	if err != nil {
		t.Logf("browsertest: taking a screenshot: %v", err)
	}
}

// findChromium returns the path of the browser to start.
func findChromium() (string, error) {
	if env := os.Getenv("CHROME"); env != "" {
		path, err := exec.LookPath(env)
		if e := (*exec.Error)(nil); errors.As(err, &e) {
			err = e.Err // e repeats the name
		}
		if err != nil {
			return "", fmt.Errorf("CHROME=%s: %w", env, err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errors.New("CHROME is unset, and none of chromium, chromium-browser, google-chrome, google-chrome-stable is on PATH or at /usr/bin/chromium")
}

// writeFile writes data to path, creating its directory.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing screenshot: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing screenshot: %w", err)
	}
	return nil
}

// fileSafe turns a test name into a piece of a file name.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, name)
}
