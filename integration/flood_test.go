package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
)

// The flood harness uses its own loopback ports, apart from the ones the
// ordinary integration tests share.
const (
	floodPort      = 9620
	floodAdminPort = 2620
	// floodRedirect points at a port nothing listens on.
	floodRedirect = "http://127.0.0.1:9622/callback"
	// floodWorkers is how many goroutines send the flood, each from its
	// own loopback source address 127.0.0.2, 127.0.0.3, ...
	floodWorkers = 4
	// floodMaxRequests bounds the flood whatever its duration.
	floodMaxRequests = 400_000
	// floodMaxRSS is the resident size the Caddy process must stay under
	// while it is flooded.
	floodMaxRSS = 512 << 20
)

// TestUnauthenticatedFloodNeitherStarvesGoodClientNorWritesStore: an
// attacker who sends malformed and unauthenticated requests to every
// endpoint at a high rate for a minute neither makes one step of a
// well-behaved client's real flow fail, nor grows the gateway's memory
// without bound, nor gets a single record written to the store.
//
// It is a load harness, not part of the default suite: run it with
//
//	APPLINKS_HARNESS=flood go test ./integration/ -run TestUnauthenticatedFlood -v -timeout 10m
//
// APPLINKS_FLOOD_DURATION (a Go duration, default 1m) sets how long the
// flood lasts.
func TestUnauthenticatedFloodNeitherStarvesGoodClientNorWritesStore(t *testing.T) {
	if os.Getenv("APPLINKS_HARNESS") != "flood" {
		t.Skip("load harness: set APPLINKS_HARNESS=flood to run it (about a minute; loopback ports 9620-9622, admin 2620)")
	}
	duration := time.Minute
	if s := os.Getenv("APPLINKS_FLOOD_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("APPLINKS_FLOOD_DURATION: %v", err)
		}
		duration = d
	}
	for i := range floodWorkers {
		if err := canBindFrom(floodSource(i)); err != nil {
			t.Skipf("the flood needs the loopback source address %s: %v", floodSource(i), err)
		}
	}
	bin := caddyBinary(t)
	dir := t.TempDir()
	caddyfile := floodCaddyfile(t, dir)
	floodBase := fmt.Sprintf("http://127.0.0.1:%d", floodPort)

	// The well-behaved client is a browser that stays signed in and runs
	// the flow again and again, as a person's would; every 10 seconds a
	// new browser signs in afresh. What a sign-in and what one flow add to
	// the store is measured before the flood, with Caddy stopped since
	// Badger allows one opener: a start alone, the first flow (with the
	// sign-in), then three more.
	stopProcess(t, startProcessOn(t, bin, caddyfile, floodPort))
	initial := countKeys(t, dir)
	browser, err := flow.Browser(floodRedirect)
	if err != nil {
		t.Fatal(err)
	}
	proc := startProcessOn(t, bin, caddyfile, floodPort)
	if err := goodIteration(browser, floodBase); err != nil {
		t.Fatalf("the good client's first flow: %v", err)
	}
	stopProcess(t, proc)
	signedIn := countKeys(t, dir)
	const calibration = 3
	proc = startProcessOn(t, bin, caddyfile, floodPort)
	for range calibration {
		if err := goodIteration(browser, floodBase); err != nil {
			t.Fatalf("the good client before the flood: %v", err)
		}
	}
	stopProcess(t, proc)
	calibrated := countKeys(t, dir)
	perFlow := keyCounts{}
	for p, n := range calibrated.sub(signedIn) {
		if n%calibration != 0 {
			t.Fatalf("%d flows added %d keys under %q: not the same for each flow", calibration, n, p)
		}
		perFlow[p] = n / calibration
	}
	signIn := keyCounts{}
	for p, n := range signedIn.sub(initial) {
		if v := n - perFlow[p]; v != 0 {
			signIn[p] = v
		}
	}

	proc = startProcessOn(t, bin, caddyfile, floodPort)
	pid := proc.Process.Pid
	rssBefore := vmRSS(t, pid)

	// The restart forgot where alice signed in from. She signs in once
	// before the flood, so that her address is one the gateway knows: the
	// flood's wrong passwords for her name then do not hold back her fresh
	// sign-ins from it. (From an address unknown to the process, they
	// would: see the per-user limit.)
	if browser, err = flow.Browser(floodRedirect); err != nil {
		t.Fatal(err)
	}
	if err := goodIteration(browser, floodBase); err != nil {
		t.Fatalf("the good client's sign-in after the restart: %v", err)
	}
	good, signIns := 1, 1

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var sent, transportErrs, serverErrs atomic.Int64
	var statusMu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range floodWorkers {
		c := floodClient(floodSource(i))
		wg.Go(func() {
			defer c.CloseIdleConnections()
			for n := i; ctx.Err() == nil && sent.Add(1) <= floodMaxRequests; n += floodWorkers {
				status, err := floodOnce(ctx, c, floodBase, n)
				if err != nil {
					if ctx.Err() == nil {
						transportErrs.Add(1)
					}
					continue
				}
				if status >= 500 {
					serverErrs.Add(1)
				}
				statusMu.Lock()
				statuses[status]++
				statusMu.Unlock()
			}
		})
	}
	// The well-behaved client runs the real flow from 127.0.0.1 the whole
	// time; the RSS is sampled between its iterations.
	var bad int
	var failures []string
	rssPeak := rssBefore
	start, nextSample, nextSignIn := time.Now(), 10*time.Second, 10*time.Second
	var timeline []string
	for ctx.Err() == nil {
		if time.Since(start) >= nextSignIn {
			if browser, err = flow.Browser(floodRedirect); err != nil {
				t.Fatal(err)
			}
			signIns++
			nextSignIn += 10 * time.Second
		}
		if err := goodIteration(browser, floodBase); err != nil {
			bad++
			if len(failures) < 5 {
				failures = append(failures, err.Error())
			}
		} else {
			good++
		}
		rss := vmRSS(t, pid)
		rssPeak = max(rssPeak, rss)
		if since := time.Since(start); since >= nextSample {
			timeline = append(timeline, fmt.Sprintf("%s:%dMiB", since.Truncate(time.Second), rss>>20))
			nextSample += 10 * time.Second
		}
	}
	wg.Wait()
	rssAfter := vmRSS(t, pid)
	stopProcess(t, proc)
	flooded := countKeys(t, dir)

	elapsed := duration.Seconds()
	t.Logf("flood: %d requests in %s (%.0f/s) from %d addresses, %d transport errors, %d 5xx answers; statuses %v",
		min(sent.Load(), floodMaxRequests), duration, float64(min(sent.Load(), floodMaxRequests))/elapsed, floodWorkers, transportErrs.Load(), serverErrs.Load(), statuses)
	t.Logf("good client: %d flows succeeded, %d failed (%.1f%%), %d of them with a fresh sign-in", good, bad, 100*float64(good)/float64(max(good+bad, 1)), signIns)
	t.Logf("caddy VmRSS: %d KiB before, %d KiB peak, %d KiB after; every 10s %v", rssBefore>>10, rssPeak>>10, rssAfter>>10, timeline)
	t.Logf("store keys per prefix: at start %v, per sign-in %v, per good flow %v, before the flood %v, after the flood %v", initial, signIn, perFlow, calibrated, flooded)

	if bad > 0 || good == 0 {
		t.Errorf("the good client's success rate under the flood is %d/%d, not 100%%: %s", good, good+bad, strings.Join(failures, "; "))
	}
	if serverErrs.Load() > 0 {
		t.Errorf("%d flood requests were answered with a 5xx", serverErrs.Load())
	}
	if rssPeak > floodMaxRSS {
		t.Errorf("caddy's resident memory reached %d MiB under the flood (bound %d MiB)", rssPeak>>20, floodMaxRSS>>20)
	}
	// Every key and commit the store gained during the flood is one the
	// good client's flows and sign-ins account for; the flood itself wrote
	// nothing.
	added := flooded.sub(calibrated)
	for _, c := range []keyCounts{perFlow, signIn} {
		for p := range c {
			added[p] += 0
		}
	}
	for p, n := range added {
		if want := good*perFlow[p] + signIns*signIn[p]; n != want {
			t.Errorf("the store gained %d under %q during the flood; the good client's %d flows and %d sign-ins account for %d", n, p, good, signIns, want)
		}
	}
}

// goodIteration is one round of the well-behaved client in browser: the
// real authorization-code flow, a call to the guarded app with the access
// token, a refresh, and a call with the new access token.
func goodIteration(browser *http.Client, issuer string) error {
	tok, err := flow.RunIn(browser, issuer, "alice", password, clientID, secretValue, floodRedirect, "")
	if err != nil {
		return fmt.Errorf("running the flow: %w", err)
	}
	if err := callGuarded(issuer, tok.AccessToken); err != nil {
		return fmt.Errorf("calling the app with the issued token: %w", err)
	}
	status, m := refreshAt(issuer, tok.RefreshToken)
	if status != http.StatusOK {
		return fmt.Errorf("refreshing: status %d %v", status, m)
	}
	at, _ := m["access_token"].(string)
	if err := callGuarded(issuer, at); err != nil {
		return fmt.Errorf("calling the app with the refreshed token: %w", err)
	}
	return nil
}

// callGuarded calls the guarded app with a bearer token and expects 200.
func callGuarded(issuer, token string) error {
	req, err := http.NewRequest(http.MethodGet, issuer+"/api/ping", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "upstream reached" {
		return fmt.Errorf("status %d %q", resp.StatusCode, b)
	}
	return nil
}

// floodCaddyfile is a gateway with every part an attacker can reach: the
// authorization server, sign-in, the admin UI and account page, a guarded
// app, an outgoing link and a route that uses it. It trusts X-Forwarded-For
// from loopback, so the flood can also claim many client addresses.
func floodCaddyfile(t *testing.T, dir string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	http_port %d
	grace_period 1ns
	servers {
		trusted_proxies static 127.0.0.0/8
	}
	applinks {
		storage badger %s
		# Every record the good client writes must still be there when the
		# store is counted after the flood: codes live 60s by default.
		code_ttl 10m
		user alice %s ADMIN
		incoming app {
			redirect_uri %s
			scope WRITE
			client_id %s
			client_secret %s
		}
		outgoing drive {
			provider oauth2 https://drive.example/authorize https://drive.example/token
			client_id gateway
			client_secret s3cret-0123456789
		}
	}
}
:%d {
	applinks
	route /api/* {
		require_token
		respond "upstream reached" 200
	}
	route /files/* {
		outgoing_token drive
		respond "files" 200
	}
	respond "site" 200
}
`, floodAdminPort, floodPort, dir, hashFor(t, password), floodRedirect, clientID, secretValue, floodPort)
}

// floodSource is the loopback address flood worker i sends from.
func floodSource(i int) string { return "127.0.0." + strconv.Itoa(2+i) }

// canBindFrom says whether a socket can be bound to the address (Linux
// routes all of 127/8 to the loopback interface; other systems may not).
func canBindFrom(addr string) error {
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		return err
	}
	return l.Close()
}

// floodClient is an HTTP client whose connections come from source, that
// keeps the cookies it is given, follows no redirect and gives up on a
// request after 10 seconds.
func floodClient(source string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4},
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// stopProcess stops Caddy gracefully (so Badger is closed cleanly) and
// waits for it to exit.
func stopProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("stopping caddy: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("caddy did not stop within 30s of SIGINT")
	}
}

// vmRSS is the resident set size of process pid in bytes, from
// /proc/<pid>/status.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	return procStatus(t, pid, "VmRSS")
}

// procStatus is a size in /proc/<pid>/status (VmRSS, RssAnon, RssFile)
// in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the process status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parsing %s %q: %v", field, v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in the process status", field)
	return 0
}
