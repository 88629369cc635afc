package integration

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
	"github.com/applinks/caddy-applinks/internal/pgtest"
)

// The crash harness has loopback ports of its own, so it never meets a
// gateway of the ordinary integration tests.
const (
	harnessPort      = 9600
	harnessAdminPort = 2600
	harnessRedirect  = "http://127.0.0.1:9609/callback"
	harnessGrace     = 3 * time.Second
)

// Per cycle: rotation families refreshed in a loop, families revoked
// during the load, and codes exchanged during the load.
const (
	harnessRotating = 4
	harnessRevoked  = 2
	harnessCodes    = 6
)

// TestCrashConsistencyHarness: clients exchange codes, rotate refresh
// tokens and revoke grants concurrently while Caddy is killed with SIGKILL
// at a random moment, cycle after cycle on one Badger directory; after each
// restart no acknowledged rotation is lost, no code works twice, no family
// keeps two live refresh tokens past the grace, no revoked token passes and
// the store opens cleanly.
//
// It is not part of the default suite. Run it with
//
//	APPLINKS_HARNESS=crash go test ./integration/ -run TestCrashConsistencyHarness -v -timeout 60m
//
// APPLINKS_HARNESS_CYCLES (default 100), APPLINKS_HARNESS_SYNC_WRITES=1,
// APPLINKS_HARNESS_STORAGE=postgres and APPLINKS_HARNESS_SEED change the
// number of cycles, turn on Badger's sync_writes, keep the store in
// PostgreSQL instead (a server of the test's own) and replay a run.
func TestCrashConsistencyHarness(t *testing.T) {
	if os.Getenv("APPLINKS_HARNESS") != "crash" {
		t.Skip("crash harness: set APPLINKS_HARNESS=crash to run it (APPLINKS_HARNESS_CYCLES, APPLINKS_HARNESS_SYNC_WRITES=1, APPLINKS_HARNESS_STORAGE=postgres, APPLINKS_HARNESS_SEED)")
	}
	cycles, err := strconv.Atoi(envOr("APPLINKS_HARNESS_CYCLES", "100"))
	if err != nil || cycles < 1 || cycles > 1000 {
		t.Fatalf("APPLINKS_HARNESS_CYCLES must be 1..1000, got %q", os.Getenv("APPLINKS_HARNESS_CYCLES"))
	}
	seed, err := strconv.ParseUint(envOr("APPLINKS_HARNESS_SEED", strconv.FormatInt(time.Now().UnixNano(), 10)), 10, 64)
	if err != nil {
		t.Fatalf("APPLINKS_HARNESS_SEED: %v", err)
	}
	h := &crashHarness{
		t:          t,
		bin:        caddyBinary(t),
		dir:        t.TempDir(),
		syncWrites: os.Getenv("APPLINKS_HARNESS_SYNC_WRITES") == "1",
		rnd:        rand.New(rand.NewPCG(seed, seed)),
		hc:         &http.Client{Timeout: 10 * time.Second},
	}
	switch storage := os.Getenv("APPLINKS_HARNESS_STORAGE"); storage {
	case "", "badger":
	case "postgres":
		h.postgres = pgtest.DSN(t)
	default:
		t.Fatalf("APPLINKS_HARNESS_STORAGE must be badger or postgres, got %q", storage)
	}
	t.Logf("seed %d, %d cycles, sync_writes %v, postgres %v", seed, cycles, h.syncWrites, h.postgres != "")
	h.writeConfig()
	var prev *crashCycle
	began := time.Now()
	for i := range cycles {
		h.start(i)
		if prev != nil {
			h.verify(prev)
		}
		cur := h.setup()
		h.load(cur)
		prev = cur
		h.cycles++
		if i%10 == 9 {
			t.Logf("cycle %d: %d acknowledged, %d violations", i+1, h.acked.Load(), h.violations.Load())
		}
	}
	h.start(cycles)
	h.verify(prev)
	h.stop()
	t.Logf("sync_writes=%v postgres=%v cycles=%d acknowledged=%d (exchanges %d, rotations %d, revocations %d) checks=%d violations=%d late retries=%d in %s",
		h.syncWrites, h.postgres != "", h.cycles, h.acked.Load(), h.exchanges.Load(), h.rotations.Load(), h.revocations.Load(),
		h.checks.Load(), h.violations.Load(), h.late.Load(), time.Since(began).Round(time.Second))
	if n := h.violations.Load(); n > 0 {
		t.Fatalf("%d violations", n)
	}
}

// crashHarness is one run: the Caddy binary, its data, the process of the
// current cycle and the counts.
type crashHarness struct {
	t          *testing.T
	bin, dir   string
	syncWrites bool
	// postgres is the DSN of the database the store is kept in; empty for
	// Badger.
	postgres string
	rnd      *rand.Rand
	hc       *http.Client
	proc     *exec.Cmd
	exited   chan struct{} // closed when proc is reaped
	logPath  string

	cycles                                   int
	acked, exchanges, rotations, revocations atomic.Int64
	checks, violations                       atomic.Int64
	// late counts retries of a rotation committed unheard at the kill
	// that came after the refresh grace, because the restart took
	// longer: refused as replays, by design, and not violations (the
	// rotation they retried was kept).
	late     atomic.Int64
	killedAt time.Time
}

// crashCycle is what clients were told during one cycle.
type crashCycle struct {
	rotating []*crashFamily
	revoked  []*crashFamily
	codes    []*crashCode
}

// crashFamily is one grant family as its client knows it: the refresh
// tokens it was given, oldest first, and the access tokens.
type crashFamily struct {
	mu      sync.Mutex
	refresh []string
	access  []string
	revoked bool // the revocation was acknowledged
}

func (f *crashFamily) newest() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refresh[len(f.refresh)-1]
}

func (f *crashFamily) add(refresh, access string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh = append(f.refresh, refresh)
	f.access = append(f.access, access)
}

// crashCode is an authorization code handed to the client, and whether its
// exchange was acknowledged before the kill.
type crashCode struct {
	code, verifier string
	acked          atomic.Bool
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (h *crashHarness) violation(format string, args ...any) {
	h.t.Helper()
	h.violations.Add(1)
	h.t.Errorf(format, args...)
}

func (h *crashHarness) base() string { return fmt.Sprintf("http://127.0.0.1:%d", harnessPort) }

func (h *crashHarness) writeConfig() {
	storage := "badger " + filepath.Join(h.dir, "data")
	if h.syncWrites {
		storage += " {\n\t\t\tsync_writes\n\t\t}"
	}
	if h.postgres != "" {
		storage = fmt.Sprintf("postgres %q\n\t\tsecret_key \"the harness's at-rest key, thirty-two characters or more\"", h.postgres)
	}
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	http_port %d
	applinks {
		storage %s
		refresh_grace %s
		user alice %s ADMIN
		incoming app {
			redirect_uri %s
			scope WRITE
			client_id %s
			client_secret %s
		}
	}
}
:%d {
	applinks
	handle /api/* {
		require_token
		respond "ok" 200
	}
}
`, harnessAdminPort, harnessPort, storage, harnessGrace, hashFor(h.t, password), harnessRedirect, clientID, secretValue, harnessPort)
	if err := os.WriteFile(filepath.Join(h.dir, "Caddyfile"), []byte(caddyfile), 0o600); err != nil {
		h.t.Fatal(err)
	}
	for _, d := range []string{"xdg-data", "xdg-config"} {
		if err := os.MkdirAll(filepath.Join(h.dir, d), 0o700); err != nil {
			h.t.Fatal(err)
		}
	}
}

// start runs Caddy on the harness's data and waits until it answers; a
// store that does not open stops the run.
func (h *crashHarness) start(cycle int) {
	h.t.Helper()
	h.logPath = filepath.Join(h.dir, fmt.Sprintf("caddy-%03d.log", cycle))
	logf, err := os.Create(h.logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(h.bin, "run", "--config", filepath.Join(h.dir, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(h.dir, "xdg-data"), "XDG_CONFIG_HOME="+filepath.Join(h.dir, "xdg-config"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	exited := make(chan struct{})
	h.proc, h.exited = cmd, exited
	go func() { _ = cmd.Wait(); close(exited) }()
	h.t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			h.t.Fatalf("cycle %d: caddy exited on start (the store did not open?):\n%s", cycle, h.logTail())
		default:
		}
		if resp, err := h.hc.Get(h.base() + "/.well-known/oauth-authorization-server"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				h.checkLog(cycle)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("cycle %d: caddy did not answer within 30s:\n%s", cycle, h.logTail())
}

// checkLog counts a store error or a panic logged while starting as a
// violation: Badger must open the directory a SIGKILL left cleanly.
func (h *crashHarness) checkLog(cycle int) {
	h.checks.Add(1)
	f, err := os.Open(h.logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lower := strings.ToLower(line)
		if strings.Contains(lower, "panic") || (strings.Contains(line, `"level":"error"`) && strings.Contains(lower, "badger")) {
			h.violation("cycle %d: restart logged: %s", cycle, line)
		}
	}
}

func (h *crashHarness) logTail() string {
	b, _ := os.ReadFile(h.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill ends the process with SIGKILL and waits until it is gone.
func (h *crashHarness) kill() {
	h.killedAt = time.Now()
	_ = h.proc.Process.Signal(syscall.SIGKILL)
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
		h.t.Fatal("caddy did not end on SIGKILL")
	}
}

func (h *crashHarness) stop() { h.kill() }

// setup signs alice in and hands out the cycle's families and codes.
func (h *crashHarness) setup() *crashCycle {
	h.t.Helper()
	c := h.browser()
	cur := &crashCycle{}
	for i := range harnessRotating + harnessRevoked {
		code := h.authorize(c)
		st, m := h.exchange(code)
		if st != http.StatusOK {
			h.t.Fatalf("setup exchange: %d %v", st, m)
		}
		h.acked.Add(1)
		h.exchanges.Add(1)
		f := &crashFamily{}
		f.add(m["refresh_token"].(string), m["access_token"].(string))
		if i < harnessRotating {
			cur.rotating = append(cur.rotating, f)
		} else {
			cur.revoked = append(cur.revoked, f)
		}
	}
	for range harnessCodes {
		cur.codes = append(cur.codes, h.authorize(c))
	}
	return cur
}

// browser returns a client with a cookie jar that stops at the redirect
// back to the app.
func (h *crashHarness) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), harnessRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// authorize gets one authorization code with PKCE through sign-in and
// consent.
func (h *crashHarness) authorize(c *http.Client) *crashCode {
	h.t.Helper()
	code, verifier, err := authorizeCode(c, h.base(), harnessRedirect)
	if err != nil {
		h.t.Fatal(err)
	}
	return &crashCode{code: code, verifier: verifier}
}

// authorizeCode gets an authorization code for the link app with PKCE
// (S256) in the browser c, through sign-in (when c is not signed in) and
// consent as alice, and returns it with its verifier. Safe in any
// goroutine.
func authorizeCode(c *http.Client, base, redirect string) (code, verifier string, err error) {
	verifier = oauth2.GenerateVerifier()
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Endpoint: oauth2.Endpoint{AuthURL: base + "/rest/oauth2/latest/authorize"}}
	resp, _, err := flow.Authorize(c, conf.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier)), "alice", password)
	if err != nil {
		return "", "", fmt.Errorf("authorizing: %w", err)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", "", fmt.Errorf("no code in redirect %q", resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), verifier, nil
}

func (h *crashHarness) post(path string, form url.Values) (int, map[string]any) {
	return clientPost(h.hc, h.base(), path, form)
}

func (h *crashHarness) exchange(c *crashCode) (int, map[string]any) {
	return h.post("/rest/oauth2/latest/token", url.Values{"grant_type": {"authorization_code"}, "code": {c.code}, "redirect_uri": {harnessRedirect}, "code_verifier": {c.verifier}})
}

func (h *crashHarness) refresh(rt string) (int, map[string]any) {
	return h.post("/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func (h *crashHarness) revoke(rt string) int {
	st, _ := h.post("/rest/oauth2/latest/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}})
	return st
}

// guarded is the status of a request with an access token through
// require_token.
func (h *crashHarness) guarded(at string) int {
	req, _ := http.NewRequest(http.MethodGet, h.base()+"/api/x", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// load runs the clients against the process and kills it at a random
// moment; a refusal while the process is alive is a violation.
func (h *crashHarness) load(cur *crashCycle) {
	var killed atomic.Bool
	refused := func(what string, st int, m map[string]any) bool {
		if st == 0 {
			return true // the process is gone or going
		}
		if st != http.StatusOK {
			if !killed.Load() {
				h.violation("%s refused while the process was alive: %d %v", what, st, m)
			}
			return true
		}
		return false
	}
	killAt := time.Duration(150+h.rnd.IntN(1350)) * time.Millisecond
	delays := make([]time.Duration, len(cur.codes))
	for i := range delays {
		delays[i] = time.Duration(h.rnd.Int64N(int64(killAt)))
	}
	rotations := make([]int, len(cur.revoked))
	for i := range rotations {
		rotations[i] = h.rnd.IntN(4)
	}
	var wg sync.WaitGroup
	for _, f := range cur.rotating {
		wg.Go(func() {
			for {
				st, m := h.refresh(f.newest())
				if refused("rotation of the newest refresh token", st, m) {
					return
				}
				f.add(m["refresh_token"].(string), m["access_token"].(string))
				h.acked.Add(1)
				h.rotations.Add(1)
			}
		})
	}
	for i, f := range cur.revoked {
		wg.Go(func() {
			for range rotations[i] {
				st, m := h.refresh(f.newest())
				if refused("rotation before revocation", st, m) {
					return
				}
				f.add(m["refresh_token"].(string), m["access_token"].(string))
				h.acked.Add(1)
				h.rotations.Add(1)
			}
			st := h.revoke(f.newest())
			if refused("revocation", st, nil) {
				return
			}
			f.mu.Lock()
			f.revoked = true
			f.mu.Unlock()
			h.acked.Add(1)
			h.revocations.Add(1)
		})
	}
	for i, c := range cur.codes {
		wg.Go(func() {
			time.Sleep(delays[i])
			st, m := h.exchange(c)
			if refused("exchange of a fresh code", st, m) {
				return
			}
			c.acked.Store(true)
			h.acked.Add(1)
			h.exchanges.Add(1)
		})
	}
	time.Sleep(killAt)
	killed.Store(true)
	h.kill()
	wg.Wait()
}

// verify checks, on the restarted process, what the clients of a cycle
// were told before the kill.
func (h *crashHarness) verify(prev *crashCycle) {
	// Every acknowledged rotation's newest token works. A rotation in
	// flight at the kill may have been committed unheard: the retry
	// within the grace gives the same pair, so the family does not fork.
	for i, f := range prev.rotating {
		h.checks.Add(1)
		st, m := h.refresh(f.newest())
		if since := time.Since(h.killedAt); st == http.StatusBadRequest && since > harnessGrace && strings.Contains(fmt.Sprint(m["error_description"]), "already been used") {
			h.late.Add(1)
			h.t.Logf("family %d: the retry of a rotation committed at the kill came %v after it, past the %v grace: refused as a replay", i, since.Round(time.Millisecond), harnessGrace)
			continue
		}
		if st != http.StatusOK {
			h.violation("family %d: the newest acknowledged refresh token (of %d) was lost: %d %v", i, len(f.refresh), st, m)
			continue
		}
		f.add(m["refresh_token"].(string), m["access_token"].(string))
	}
	usedAt := time.Now()
	// No code works twice.
	for i, c := range prev.codes {
		tries := 1
		successes := 0
		if c.acked.Load() {
			successes = 1
		} else {
			tries = 2 // an exchange in flight at the kill may have committed
		}
		for range tries {
			h.checks.Add(1)
			if st, _ := h.exchange(c); st == http.StatusOK {
				successes++
			}
		}
		if successes > 1 {
			h.violation("code %d worked %d times (acknowledged before the kill: %v)", i, successes, c.acked.Load())
		}
	}
	// No revoked token passes.
	for i, f := range prev.revoked {
		if !f.revoked {
			continue
		}
		for _, rt := range f.refresh {
			h.checks.Add(1)
			if st, _ := h.refresh(rt); st == http.StatusOK {
				h.violation("revoked family %d: a refresh token still rotates", i)
			}
		}
		for _, at := range f.access {
			h.checks.Add(1)
			if st := h.guarded(at); st != http.StatusUnauthorized {
				h.violation("revoked family %d: an access token got %d from require_token", i, st)
			}
		}
	}
	// After the grace, the token before the newest is dead: presenting
	// it is a replay, not a second live branch of the family.
	time.Sleep(time.Until(usedAt.Add(harnessGrace + 500*time.Millisecond)))
	for i, f := range prev.rotating {
		if len(f.refresh) < 2 {
			continue
		}
		h.checks.Add(1)
		if st, _ := h.refresh(f.refresh[len(f.refresh)-2]); st == http.StatusOK {
			h.violation("family %d has two live refresh tokens after the grace", i)
		}
		h.checks.Add(1)
		if st, _ := h.refresh(f.newest()); st == http.StatusOK {
			h.violation("family %d: the newest refresh token still works after a replay of its predecessor", i)
		}
	}
}
