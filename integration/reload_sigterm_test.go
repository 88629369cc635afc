package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
)

// The graceful-stop harness's loopback ports: the gateway and a slow
// upstream behind its guard.
const (
	sigtermHTTPPort     = 9611
	sigtermUpstreamPort = 9612
)

// TestGracefulStopFinishesInFlightRequests: Caddy gets SIGTERM while
// guarded requests wait on a slow upstream and refreshes are in flight;
// every request it accepted is answered in full, the process exits 0, and
// after a restart on the same Badger directory every refresh token a
// client was handed still works.
func TestGracefulStopFinishesInFlightRequests(t *testing.T) {
	requireReloadHarness(t)
	const slow = 2 * time.Second
	arrived := make(chan struct{}, 64)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", sigtermUpstreamPort))
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		time.Sleep(slow)
		_, _ = io.WriteString(w, "slow upstream done")
	})}
	go func() { _ = up.Serve(ln) }()
	t.Cleanup(func() { _ = up.Close() })

	dir := t.TempDir()
	caddyfile := fmt.Sprintf(`{
	admin off
	http_port %[1]d
	grace_period 10s
	applinks {
		storage badger %[2]s
		refresh_grace 30s
		user alice %[3]s ADMIN
		incoming app {
			redirect_uri %[4]s
			scope WRITE
			client_id %[5]s
			client_secret %[6]s
		}
	}
}
:%[1]d {
	applinks
	handle /slow {
		require_token
		reverse_proxy 127.0.0.1:%[7]d
	}
}
`, sigtermHTTPPort, dir, hashFor(t, password), redirectURI, clientID, secretValue, sigtermUpstreamPort)
	bin := caddyBinary(t)
	proc := startProcessOn(t, bin, caddyfile, sigtermHTTPPort)
	gw := fmt.Sprintf("http://127.0.0.1:%d", sigtermHTTPPort)

	const inFlight = 8
	tok, err := flow.Run(gw, "alice", password, clientID, secretValue, redirectURI, "")
	if err != nil {
		t.Fatal(err)
	}
	// One grant per refresher; each keeps the newest refresh token it got.
	latest := make([]string, inFlight)
	for i := range latest {
		tk, err := flow.Run(gw, "alice", password, clientID, secretValue, redirectURI, "")
		if err != nil {
			t.Fatal(err)
		}
		latest[i] = tk.RefreshToken
	}

	var wg sync.WaitGroup
	slowResults := make([]string, inFlight)
	for i := range inFlight {
		wg.Go(func() {
			ok, why := guardGetBody(gw+"/slow", tok.AccessToken, "slow upstream done")
			if !ok {
				slowResults[i] = why
			}
		})
	}
	for range inFlight {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the guarded requests did not reach the upstream")
		}
	}
	// Refreshers run through the stop: each refresh either gets an answer
	// (and its token is the client's newest) or is refused at the door.
	stopRefresh := make(chan struct{})
	var answered, refused int
	var mu sync.Mutex
	for i := range latest {
		wg.Go(func() {
			for {
				select {
				case <-stopRefresh:
					return
				default:
				}
				status, m := refreshAt(gw, latest[i])
				mu.Lock()
				switch status {
				case http.StatusOK:
					latest[i] = m["refresh_token"].(string)
					answered++
				case 0:
					refused++
				default:
					t.Errorf("refresh during the stop answered %d %v", status, m)
				}
				mu.Unlock()
				if status == 0 {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	type exit struct {
		state *os.ProcessState
		err   error
	}
	exited := make(chan exit, 1)
	go func() { st, err := proc.Process.Wait(); exited <- exit{st, err} }()
	var ex exit
	select {
	case ex = <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("caddy did not exit within the grace period after SIGTERM")
	}
	close(stopRefresh)
	wg.Wait()
	if ex.err != nil {
		t.Fatalf("waiting for caddy: %v", ex.err)
	}
	if code := ex.state.ExitCode(); code != 0 {
		t.Errorf("caddy exited %d after SIGTERM, want 0", code)
	}
	for i, why := range slowResults {
		if why != "" {
			t.Errorf("in-flight guarded request %d was cut by the graceful stop: %s", i, why)
		}
	}

	startProcessOn(t, bin, caddyfile, sigtermHTTPPort)
	lost := 0
	for i, rt := range latest {
		if status, m := refreshAt(gw, rt); status != http.StatusOK {
			lost++
			t.Errorf("grant %d lost across the graceful stop: %d %v", i, status, m)
		}
	}
	t.Logf("graceful stop: %d in-flight guarded requests answered in full, %d refreshes answered and %d refused during the stop, %d grants lost", inFlight, answered, refused, lost)
}

// guardGetBody sends one guarded GET with a fresh connection and reports
// whether the whole expected body came back.
func guardGetBody(url, access, want string) (bool, string) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := c.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(b) != want {
		return false, fmt.Sprintf("%d %q %v", resp.StatusCode, b, err)
	}
	return true, ""
}
