package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
)

// The soak's own loopback ports, apart from every other test's.
const (
	soakPort      = 9640
	soakAdminPort = 2640
)

// The soak's lifetimes: short, so that an hour sees many generations of
// every record expire. The used refresh tokens' replay memory (30
// minutes) and the pending outgoing authorizations' lifetime (10 minutes)
// are fixed in the gateway.
const (
	soakCodeTTL    = time.Minute
	soakAccessTTL  = 2 * time.Minute
	soakRefreshTTL = 5 * time.Minute
	soakSessionTTL = 3 * time.Minute
	// soakSessionMargin is how long before its session expires a browser
	// stops being chosen for operations.
	soakSessionMargin = 30 * time.Second
	soakGrace         = 5 * time.Second
	soakReplayMemory  = 30 * time.Minute
	soakPendingTTL    = 10 * time.Minute
)

const (
	// soakRate is how many operations the clients start per second, one
	// every 1/soakRate seconds whatever the gateway's answer times, in
	// rounds of ten (schedule); a multiple of ten.
	soakRate = 30
	// soakSignInEvery is how often a browser is added (it signs in) and,
	// as often, the oldest one is signed out or forgotten; apart from the
	// rate, since the gateway lets one address sign in once in 6 s.
	soakSignInEvery = 8 * time.Second
	// soakWorkers is how many operations may be in flight at once; a
	// tick that finds them all busy is counted as missed.
	soakWorkers = 8
	// soakPool bounds the grants the clients keep using; beyond it the
	// least recently used one is abandoned and left to expire.
	soakPool = 200
	// soakBrowsers is how many signed-in browsers the clients use.
	soakBrowsers = 3
	// soakSampleEvery is how often the directory and the process are
	// measured; every soakCountEvery, the records are counted too (from a
	// backup stream, whose buffers swell the process for a while).
	soakSampleEvery = time.Minute
	soakCountEvery  = 5
	// soakPlateauGrowth is how much the last third of the run may exceed
	// the middle third: the directory's largest size, the resident
	// memory's median (checkPlateau).
	soakPlateauGrowth = 1.25
)

// TestSoakStorageReachesPlateau: an hour of traffic at a fixed rate
// (browsers signing in and out, code flows with PKCE, guarded requests,
// refresh rotations, revocations, replays of codes and refresh tokens,
// codes never exchanged, authorizations and outgoing connections
// abandoned) brings the Badger directory and the process's resident
// memory to a plateau: expired codes, used refresh tokens, sessions and
// pending authorizations are dropped, and the live records of each kind
// stay within what the rate and their lifetimes allow.
//
// It is a harness, not part of the default suite. Run it with
//
//	APPLINKS_HARNESS=soak go test ./integration/ -run TestSoakStorageReachesPlateau -v -timeout 90m
//
// APPLINKS_SOAK_DURATION (a Go duration, default 1h) sets how long the
// traffic lasts; the plateau is judged for runs of 30 minutes or more.
func TestSoakStorageReachesPlateau(t *testing.T) {
	if os.Getenv("APPLINKS_HARNESS") != "soak" {
		t.Skip("soak harness: set APPLINKS_HARNESS=soak to run it (an hour; APPLINKS_SOAK_DURATION; loopback port 9640, admin 2640)")
	}
	duration, err := time.ParseDuration(envOr("APPLINKS_SOAK_DURATION", "1h"))
	if err != nil || duration < soakSampleEvery {
		t.Fatalf("APPLINKS_SOAK_DURATION must be a Go duration of a minute or more, got %q", os.Getenv("APPLINKS_SOAK_DURATION"))
	}
	bin := caddyBinary(t)
	dir := filepath.Join(t.TempDir(), "badger")
	caddyfile := processGateway(t, soakPort, fmt.Sprintf("127.0.0.1:%d", soakAdminPort), "badger "+dir, fmt.Sprintf(`code_ttl %s
		access_token_ttl %s
		refresh_token_ttl %s
		session_ttl %s
		refresh_grace %s
		outgoing drive {
			provider oauth2 https://drive.example/authorize https://drive.example/token
			client_id gateway
			client_secret s3cret-0123456789
		}`, soakCodeTTL, soakAccessTTL, soakRefreshTTL, soakSessionTTL, soakGrace))

	// What a started gateway keeps before any traffic, counted with Caddy
	// stopped (Badger allows one opener).
	stopProcess(t, startProcessOn(t, bin, caddyfile, soakPort))
	initial := countKeys(t, dir)
	logPath := filepath.Join(t.TempDir(), "caddy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	proc := startProcessLogging(t, bin, caddyfile, soakPort, "/.well-known/oauth-authorization-server", logFile)
	s := newSoak(fmt.Sprintf("http://127.0.0.1:%d", soakPort))
	for range soakBrowsers {
		if err := s.signInAfresh(); err != nil {
			t.Fatalf("signing the first browsers in: %v", err)
		}
	}
	m := &soakMeter{dir: dir, admin: fmt.Sprintf("http://127.0.0.1:%d", soakAdminPort), pid: proc.Process.Pid}
	samples := []soakSample{m.sample(t, 0, true)}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); s.drive(stop) }()
	began := time.Now()
	tick := time.NewTicker(soakSampleEvery)
	for elapsed := time.Duration(0); elapsed < duration; {
		<-tick.C
		elapsed = time.Since(began)
		smp := m.sample(t, elapsed, len(samples)%soakCountEvery == 0 || elapsed >= duration)
		samples = append(samples, smp)
		t.Logf("%s", smp)
	}
	tick.Stop()
	close(stop)
	<-done
	elapsed := time.Since(began)
	stopProcess(t, proc)
	final := countKeys(t, dir)
	closed := m.usage(t)

	t.Logf("traffic over %s: %s", elapsed.Round(time.Second), s.summary())
	t.Logf("samples:\n%s", soakTable(samples))
	t.Logf("keys with caddy stopped: at start %v, at the end %v; directory after the stop %s", initial, final, closed)

	if n := s.failures(); n > 0 {
		t.Errorf("%d operations were answered wrongly: %s", n, strings.Join(s.firstFailures(), "; "))
	}
	if missed := s.missed.Load(); missed > int64(elapsed.Seconds()*soakRate/100) {
		t.Errorf("%d ticks found every worker busy: the rate was not kept", missed)
	}
	bounds := s.bounds(elapsed)
	t.Logf("live keys allowed by the rate and the lifetimes: %v", bounds)
	for _, smp := range samples {
		if smp.live != nil {
			checkSoakBounds(t, fmt.Sprintf("at %s (backup stream)", smp.at.Round(time.Second)), smp.live, initial, bounds)
		}
	}
	checkSoakBounds(t, "at the end (caddy stopped)", final, initial, bounds)
	if duration >= 30*time.Minute {
		checkPlateau(t, samples)
	} else {
		t.Logf("a run of %s is too short to judge a plateau (30 minutes or more)", duration)
	}
	warnings, problems := soakLogLines(t, logPath)
	t.Logf("caddy's log above info: %v", warnings)
	for _, line := range problems {
		t.Errorf("caddy logged: %s", line)
	}
}

// soakGrant is a grant a client holds: its newest tokens, and while it
// waits to be replayed, the refresh token it used and when.
type soakGrant struct {
	refresh, access string
	used            string
	usedAt          time.Time
}

// soak is the clients of one run: their browsers and grants, and the
// counts of what they did.
type soak struct {
	base string
	hc   *http.Client

	mu       sync.Mutex
	browsers []*soakBrowser // signed in, oldest first
	grants   []*soakGrant   // least recently used first
	replays  []*soakGrant   // a used refresh token to present after the grace

	ops     map[string]*reloadTally // by kind of operation; fixed keys
	signIns atomic.Int64            // sign-in forms posted
	// What the store was asked to keep: codes issued, code exchanges
	// (each a grant), rotations, pending outgoing authorizations.
	codes, exchanges, rotations, pendings atomic.Int64
	abandoned, nothingToReplay, missed    atomic.Int64
}

// soakKinds are the operations, in the order the summary lists them.
var soakKinds = []string{
	"flow", "refresh", "refresh retry", "guarded", "code never exchanged", "revocation",
	"refresh replay", "code replay", "abandoned before consent", "abandoned outgoing connect",
	"fresh sign-in", "sign-out", "browser forgotten",
}

func newSoak(base string) *soak {
	s := &soak{base: base, hc: &http.Client{Timeout: 10 * time.Second}, ops: map[string]*reloadTally{}}
	for _, k := range soakKinds {
		s.ops[k] = &reloadTally{}
	}
	return s
}

// schedule is the operation of tick n, in rounds of ten ticks; the
// eighth tick of a round goes through six kinds, one a round.
func (s *soak) schedule(n int) (string, func() error) {
	round := n / 10
	switch n % 10 {
	case 0, 3:
		return "flow", s.flow
	case 1, 4:
		return "refresh", func() error { return s.rotate(false, false) }
	case 6:
		return "refresh retry", func() error { return s.rotate(true, round%2 == 1) }
	case 2, 9:
		return "guarded", s.guarded
	case 5:
		return "code never exchanged", s.unexchanged
	case 7:
		if round%2 == 0 {
			return "revocation", s.revoke
		}
		return "refresh replay", s.replayRefresh
	}
	switch round % 6 {
	case 0, 3:
		return "abandoned before consent", s.abandonConsent
	case 1, 4:
		return "abandoned outgoing connect", s.abandonConnect
	}
	return "code replay", s.replayCode
}

// browserChange is the n-th change of the browsers, one every
// soakSignInEvery/2: a fresh sign-in, then the oldest browser signed
// out, a fresh sign-in, the oldest forgotten.
func (s *soak) browserChange(n int) (string, func() error) {
	switch n % 4 {
	case 0, 2:
		return "fresh sign-in", s.signInAfresh
	case 1:
		return "sign-out", s.signOut
	}
	return "browser forgotten", s.forget
}

// drive starts the scheduled operations at the fixed rate, and the
// browser changes, until stop is closed, and waits for those in flight.
func (s *soak) drive(stop <-chan struct{}) {
	type job struct {
		kind string
		run  func() error
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range soakWorkers {
		wg.Go(func() {
			for j := range jobs {
				err := j.run()
				what := ""
				if err != nil {
					what = j.kind + ": " + err.Error()
				}
				s.ops[j.kind].record(err == nil, false, what)
			}
		})
	}
	ops := time.NewTicker(time.Second / soakRate)
	defer ops.Stop()
	browsers := time.NewTicker(soakSignInEvery / 2)
	defer browsers.Stop()
	n, b := 0, 0
	for {
		var j job
		select {
		case <-stop:
			close(jobs)
			wg.Wait()
			return
		case <-ops.C:
			j.kind, j.run = s.schedule(n)
			n++
		case <-browsers.C:
			j.kind, j.run = s.browserChange(b)
			b++
		}
		select {
		case jobs <- j:
		default:
			s.missed.Add(1)
		}
	}
}

// soakBrowser is a signed-in browser; operations hold use for reading
// while they use it, so that it is not signed out under them.
type soakBrowser struct {
	c        *http.Client
	signedIn time.Time
	use      sync.RWMutex
}

// browser is a signed-in browser, and the function to call once done
// with it.
func (s *soak) browser() (*http.Client, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A browser whose session is about to expire would land on the
	// sign-in page, which is the right answer but not the operation's;
	// such a browser is used only when no other is left (the sign-ins
	// that replace browsers were missed under load).
	fresh := make([]*soakBrowser, 0, len(s.browsers))
	for _, b := range s.browsers {
		if time.Since(b.signedIn) < soakSessionTTL-soakSessionMargin {
			fresh = append(fresh, b)
		}
	}
	if len(fresh) == 0 {
		fresh = s.browsers
	}
	b := fresh[rand.IntN(len(fresh))]
	b.use.RLock()
	return b.c, b.use.RUnlock
}

// take removes a grant from the pool, so that no other operation uses it
// meanwhile; nil when the pool is empty.
func (s *soak) take() *soakGrant {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.grants) == 0 {
		return nil
	}
	i := rand.IntN(len(s.grants))
	g := s.grants[i]
	s.grants = slices.Delete(s.grants, i, i+1)
	return g
}

// put returns a grant to the pool as the most recently used; the least
// recently used one is abandoned when the pool is full.
func (s *soak) put(g *soakGrant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants = append(s.grants, g)
	if len(s.grants) > soakPool {
		s.grants = slices.Delete(s.grants, 0, 1)
		s.abandoned.Add(1)
	}
}

// issue gets a code in browser c and exchanges it; the new grant is
// returned with the code and verifier, not yet in the pool.
func (s *soak) issue(c *http.Client) (*soakGrant, string, string, error) {
	code, verifier, err := authorizeCode(c, s.base, redirectURI)
	if err != nil {
		return nil, "", "", err
	}
	s.codes.Add(1)
	st, m := s.exchange(code, verifier)
	if st != http.StatusOK {
		return nil, "", "", fmt.Errorf("exchanging a fresh code: %d %v", st, m)
	}
	s.exchanges.Add(1)
	g := &soakGrant{refresh: str(m["refresh_token"]), access: str(m["access_token"])}
	return g, code, verifier, s.guard(g.access, http.StatusOK)
}

func (s *soak) exchange(code, verifier string) (int, map[string]any) {
	return clientPost(s.hc, s.base, "/rest/oauth2/latest/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}})
}

// guard calls the guarded app with an access token and wants the status.
func (s *soak) guard(access string, want int) error {
	st, body := callAPI(clusterNode{base: s.base}, http.MethodGet, access)
	if st != want || (want == http.StatusOK && body != "alice WRITE") {
		return fmt.Errorf("the guard answered %d %q, want %d", st, body, want)
	}
	return nil
}

// flow is the whole authorization-code flow with PKCE in a signed-in
// browser, and a guarded request with the token.
func (s *soak) flow() error {
	c, done := s.browser()
	defer done()
	g, _, _, err := s.issue(c)
	if err != nil {
		return err
	}
	s.put(g)
	return nil
}

// rotate refreshes a grant and calls the app with the new access token.
// With retry it sends the used refresh token again at once, as a client
// whose answer was lost, and wants the same pair; with keep the grant
// then waits to be replayed after the grace instead of going back to the
// pool.
func (s *soak) rotate(retry, keep bool) error {
	g := s.take()
	if g == nil {
		return nil
	}
	st, m := clientPost(s.hc, s.base, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refresh}})
	if st != http.StatusOK {
		return fmt.Errorf("refreshing: %d %v", st, m)
	}
	s.rotations.Add(1)
	used := g.refresh
	g.refresh, g.access = str(m["refresh_token"]), str(m["access_token"])
	if retry {
		st, again := clientPost(s.hc, s.base, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {used}})
		if st != http.StatusOK || str(again["refresh_token"]) != g.refresh || str(again["access_token"]) != g.access {
			return fmt.Errorf("a retry within the grace: %d, the same pair: %v", st, st == http.StatusOK && str(again["refresh_token"]) == g.refresh)
		}
	}
	if err := s.guard(g.access, http.StatusOK); err != nil {
		return err
	}
	if keep {
		g.used, g.usedAt = used, time.Now()
		s.mu.Lock()
		s.replays = append(s.replays, g)
		s.mu.Unlock()
		return nil
	}
	s.put(g)
	return nil
}

// guarded calls the app with a grant's access token.
func (s *soak) guarded() error {
	g := s.take()
	if g == nil {
		return nil
	}
	defer s.put(g)
	return s.guard(g.access, http.StatusOK)
}

// unexchanged gets a code and never exchanges it.
func (s *soak) unexchanged() error {
	c, done := s.browser()
	defer done()
	if _, _, err := authorizeCode(c, s.base, redirectURI); err != nil {
		return err
	}
	s.codes.Add(1)
	return nil
}

// revoke revokes a grant's refresh token (RFC 7009): its access token is
// refused at once and its refresh token no longer refreshes.
func (s *soak) revoke() error {
	g := s.take()
	if g == nil {
		return nil
	}
	if st, m := clientPost(s.hc, s.base, "/rest/oauth2/latest/revoke", url.Values{"token": {g.refresh}, "token_type_hint": {"refresh_token"}}); st != http.StatusOK {
		return fmt.Errorf("revoking: %d %v", st, m)
	}
	if err := s.guard(g.access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("after the revocation: %w", err)
	}
	if st, _ := refreshAt(s.base, g.refresh); st != http.StatusBadRequest {
		return fmt.Errorf("a revoked refresh token: %d, want 400", st)
	}
	return nil
}

// replayRefresh presents a refresh token used more than the grace ago:
// invalid_grant, and the family is revoked.
func (s *soak) replayRefresh() error {
	s.mu.Lock()
	var g *soakGrant
	if len(s.replays) > 0 && time.Since(s.replays[0].usedAt) > soakGrace+time.Second {
		g = s.replays[0]
		s.replays = s.replays[1:]
	}
	s.mu.Unlock()
	if g == nil {
		s.nothingToReplay.Add(1)
		return nil
	}
	if st, m := refreshAt(s.base, g.used); st != http.StatusBadRequest || m["error"] != "invalid_grant" {
		return fmt.Errorf("a replayed refresh token: %d %v", st, m)
	}
	if st, _ := refreshAt(s.base, g.refresh); st != http.StatusBadRequest {
		return fmt.Errorf("the newest refresh token after a replay: %d, want 400", st)
	}
	return s.guard(g.access, http.StatusUnauthorized)
}

// replayCode exchanges a code twice: the second exchange is refused and
// revokes the grant the first one made.
func (s *soak) replayCode() error {
	c, done := s.browser()
	defer done()
	g, code, verifier, err := s.issue(c)
	if err != nil {
		return err
	}
	if st, m := s.exchange(code, verifier); st != http.StatusBadRequest || m["error"] != "invalid_grant" {
		return fmt.Errorf("a replayed code: %d %v", st, m)
	}
	return s.guard(g.access, http.StatusUnauthorized)
}

// abandonConsent opens an authorization request in a signed-in browser
// and leaves at the consent page.
func (s *soak) abandonConsent() error {
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirectURI, Endpoint: oauth2.Endpoint{AuthURL: s.base + "/rest/oauth2/latest/authorize"}}
	c, done := s.browser()
	defer done()
	resp, err := c.Get(conf.AuthCodeURL("abandoned", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		return err
	}
	body := readBodyErr(resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="decision"`) {
		return fmt.Errorf("no consent page: %d", resp.StatusCode)
	}
	return nil
}

// abandonConnect starts connecting the outgoing link in a signed-in
// browser and never comes back from the provider: a pending outgoing
// authorization is left to expire.
func (s *soak) abandonConnect() error {
	b, done := s.browser()
	defer done()
	c := *b
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(s.base + "/applinks/connect/drive?return_to=/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, "https://drive.example/authorize?") {
		return fmt.Errorf("connecting: %d to %q", resp.StatusCode, loc)
	}
	s.pendings.Add(1)
	return nil
}

// signInAfresh adds a new browser, which signs in during its first flow.
func (s *soak) signInAfresh() error {
	c, err := flow.Browser(redirectURI)
	if err != nil {
		return err
	}
	c.Timeout = 10 * time.Second
	c.Transport = signInCounter{&s.signIns}
	signedIn := time.Now()
	g, _, _, err := s.issue(c)
	if err != nil {
		return err
	}
	s.put(g)
	s.mu.Lock()
	s.browsers = append(s.browsers, &soakBrowser{c: c, signedIn: signedIn})
	s.mu.Unlock()
	return nil
}

// retire takes the oldest browser out of use, keeping soakBrowsers.
func (s *soak) retire() *soakBrowser {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.browsers) <= soakBrowsers {
		return nil
	}
	b := s.browsers[0]
	s.browsers = s.browsers[1:]
	return b
}

// signOut signs the oldest browser out, once the operations using it
// are done.
func (s *soak) signOut() error {
	b := s.retire()
	if b == nil {
		return nil
	}
	b.use.Lock()
	defer b.use.Unlock()
	c := b.c
	resp, err := c.Get(s.base + "/applinks/logout")
	if err != nil {
		return err
	}
	form := flow.HiddenFields(readBodyErr(resp))
	if resp, err = c.PostForm(s.base+"/applinks/logout", form); err != nil {
		return err
	}
	if body := readBodyErr(resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Signed out") {
		return fmt.Errorf("signing out: %d", resp.StatusCode)
	}
	return nil
}

// forget drops the oldest browser without signing out: its session is
// left to expire.
func (s *soak) forget() error {
	s.retire()
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// failures is how many operations were answered wrongly.
func (s *soak) failures() int64 {
	var n int64
	for _, op := range s.ops {
		n += op.failures.Load()
	}
	return n
}

func (s *soak) firstFailures() []string {
	var out []string
	for _, k := range soakKinds {
		out = append(out, s.ops[k].first...)
	}
	return out
}

// summary counts the operations by kind and what the store was asked to
// keep.
func (s *soak) summary() string {
	var b bytes.Buffer
	for _, k := range soakKinds {
		fmt.Fprintf(&b, "%s %d, ", k, s.ops[k].requests.Load())
	}
	fmt.Fprintf(&b, "failed %d; codes issued %d, exchanged %d, rotations %d, pending outgoing authorizations %d, sign-ins %d, grants abandoned %d; replays without a candidate %d, missed ticks %d",
		s.failures(), s.codes.Load(), s.exchanges.Load(), s.rotations.Load(), s.pendings.Load(), s.signIns.Load(), s.abandoned.Load(), s.nothingToReplay.Load(), s.missed.Load())
	return b.String()
}

// bounds is, per key prefix of the expiring records, the most live keys
// the rates of the run and the records' lifetimes allow at any moment
// (10% and a few keys of slack; a Badger TTL rounds up to the second).
func (s *soak) bounds(elapsed time.Duration) keyCounts {
	rate := func(n int64) float64 { return float64(n) / elapsed.Seconds() }
	within := func(per float64, life time.Duration) int {
		return int(per*(life+2*time.Second).Seconds()*1.1) + 10
	}
	grants := within(rate(s.exchanges.Load()), soakRefreshTTL) + soakPool
	pairs := rate(s.exchanges.Load() + s.rotations.Load())
	return keyCounts{
		"c/":  within(rate(s.codes.Load()), soakCodeTTL),
		"s/":  within(rate(s.signIns.Load()), soakSessionTTL),
		"op/": within(rate(s.pendings.Load()), soakPendingTTL),
		"g/":  grants,
		"gu/": grants,
		"gl/": grants,
		// An access token lives its TTL (less when its refresh token is
		// used), an unused refresh token its own, a used one the replay
		// memory.
		"t/": within(pairs, soakAccessTTL) + within(pairs, soakRefreshTTL) + within(rate(s.rotations.Load()), soakReplayMemory),
	}
}

// checkSoakBounds fails the test when a count of live keys exceeds its
// bound, or a prefix without one grew from the initial count by more than
// the subject and signing keys of a started gateway.
func checkSoakBounds(t *testing.T, when string, live, initial, bounds keyCounts) {
	t.Helper()
	for p, n := range live {
		if p == storeCommits {
			continue
		}
		if b, ok := bounds[p]; ok {
			if n > b {
				t.Errorf("%s: %d live keys under %q, more than the %d the rate and lifetimes allow", when, n, p, b)
			}
			continue
		}
		if n > initial[p]+1 {
			t.Errorf("%s: %d live keys under %q, %d when the gateway had started", when, n, p, initial[p])
		}
	}
}

// checkPlateau fails the test when the directory or the resident memory
// still grew in the last third of the run. The directory is judged by its
// largest size in each third: compactions make it saw, and its peaks are
// what the disk must hold. The resident size is judged by its median in
// each third, and so are its anonymous part (the Go heap, which a single
// collection cycle can swell for a minute) and its file-backed part
// (Badger's mapped tables): a leak moves the median, one peak does not.
// The resident size a minute after a count is not judged: the count's
// backup stream leaves the heap swollen for a while (Badger's stream
// buffers), which is the harness's doing, not the traffic's.
func checkPlateau(t *testing.T, samples []soakSample) {
	t.Helper()
	third := len(samples) / 3
	afterCount := func(i int) bool { return i > 0 && samples[i-1].live != nil }
	for _, q := range []struct {
		what  string
		judge func(values []int64) int64
		of    func(i int) (int64, bool)
	}{
		{"the Badger directory's largest size on disk", slices.Max[[]int64], func(i int) (int64, bool) { return samples[i].disk.allocated(), true }},
		{"caddy's median resident memory", median, func(i int) (int64, bool) { return samples[i].rss, !afterCount(i) }},
		{"caddy's median anonymous memory", median, func(i int) (int64, bool) { return samples[i].anon, !afterCount(i) }},
		{"caddy's median file-backed memory", median, func(i int) (int64, bool) { return samples[i].file, !afterCount(i) }},
	} {
		of := func(from, to int) int64 {
			var vs []int64
			for i := from; i < to; i++ {
				if v, judged := q.of(i); judged {
					vs = append(vs, v)
				}
			}
			if len(vs) == 0 {
				return 0
			}
			return q.judge(vs)
		}
		mid, last := of(third, 2*third), of(2*third, len(samples))
		t.Logf("%s: %s in the middle third, %s in the last", q.what, mib(mid), mib(last))
		if float64(last) > soakPlateauGrowth*float64(mid) {
			t.Errorf("%s grew without a plateau: %s in the last third of the run, %s in the middle third", q.what, mib(last), mib(mid))
		}
	}
}

// median is the middle value of values (the mean of the two middle ones
// for an even count); values is sorted in place.
func median(values []int64) int64 {
	slices.Sort(values)
	n := len(values)
	if n%2 == 1 {
		return values[n/2]
	}
	return (values[n/2-1] + values[n/2]) / 2
}
