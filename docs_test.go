package caddyapplinks_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestXcaddyTestRunsTheREADMETestCommand: `./xcaddy.sh test` and the CI
// entry point run exactly the command the README gives, so a reader who
// runs either runs what the README promises (the race detector included).
func TestXcaddyTestRunsTheREADMETestCommand(t *testing.T) {
	readme := readFile(t, "README.md")
	_, afterHeading, ok := strings.Cut(readme, "## Test it\n\n```sh\n")
	if !ok {
		t.Fatal("README.md has no ## Test it section opening with a sh block")
	}
	command, _, _ := strings.Cut(afterHeading, "\n")
	if !strings.HasPrefix(command, "go test -race ") {
		t.Fatalf("README's test command %q does not run the race detector", command)
	}
	script := readFile(t, "xcaddy.sh")
	_, testCase, ok := strings.Cut(script, "\ntest)\n")
	if !ok {
		t.Fatal("xcaddy.sh has no test) case")
	}
	testCase, _, _ = strings.Cut(testCase, ";;")
	if !containsLine(testCase, "exec "+command) {
		t.Errorf("xcaddy.sh test runs\n%s\nwant exactly: exec %s", testCase, command)
	}
	if ci := readFile(t, ".ci/run"); !containsLine(ci, command) {
		t.Errorf(".ci/run does not run the README's test command %q", command)
	}
	if !strings.Contains(readme, "gcc") {
		t.Error("README does not say that -race needs gcc")
	}
}

// TestDocsLinksResolve: a relative link in the README, the CHANGELOG or
// docs/ that points at a missing file or heading sends the reader nowhere;
// every one resolves, anchors by GitHub's rule for heading ids.
func TestDocsLinksResolve(t *testing.T) {
	files, err := filepath.Glob("docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	files = append(files, "README.md", "CHANGELOG.md")
	more, err := filepath.Glob("examples/*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, more...)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	scheme := regexp.MustCompile(`^[a-z]+:`)
	checked := 0
	for _, f := range files {
		for _, m := range link.FindAllStringSubmatch(withoutCode(readFile(t, f)), -1) {
			target := m[1]
			if scheme.MatchString(target) {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := f
			if path != "" {
				dest = filepath.Join(filepath.Dir(f), path)
			}
			checked++
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s: link %s: %v", f, target, err)
				continue
			}
			if anchor != "" && !anchors(t, dest)[anchor] {
				t.Errorf("%s: link %s: %s has no heading with id %q", f, target, dest, anchor)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d links", checked)
	}
}

// anchors returns the ids GitHub gives a Markdown file's headings:
// lower case, punctuation other than - and _ dropped, spaces as -, and
// -1, -2 … for repeats.
func anchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range strings.Split(withoutCode(readFile(t, file)), "\n") {
		text := strings.TrimLeft(l, "#")
		if text == l || !strings.HasPrefix(text, " ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		id := b.String()
		if n := seen[id]; n > 0 {
			out[id+"-"+strconv.Itoa(n)] = true
		} else {
			out[id] = true
		}
		seen[id]++
	}
	return out
}

// withoutCode blanks fenced code blocks, whose # lines are no headings and
// whose brackets are no links.
func withoutCode(s string) string {
	var b strings.Builder
	inCode := false
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
			b.WriteString("\n")
			continue
		}
		if !inCode {
			b.WriteString(l)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func containsLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
