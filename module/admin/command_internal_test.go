package admin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample: each command's --help shows an example.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := &cobra.Command{Use: "applinks"}
	buildCommand(root)
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no example in its --help", c.CommandPath())
		}
		if c != root && c.RunE == nil {
			t.Errorf("%q does nothing", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 25 {
		t.Errorf("only %d commands", n)
	}
}

// TestCLITableDoesNotObeyTerminalEscapes: a name or a provider's error
// text holding escape sequences, line breaks, tabs or bidirectional
// overrides cannot retitle, recolour or rewrite the administrator's
// terminal, nor forge table rows: it is printed escaped.
func TestCLITableDoesNotObeyTerminalEscapes(t *testing.T) {
	var b bytes.Buffer
	o := output{w: &b}
	hostile := []string{"\x1b]0;owned\x07", "\x1b[2J\x1b[1;1Hclean", "ok\u202egnp.exe", "two\nrows", "tab\tcell", "bad\xffutf8", "\u0085next"}
	rows := [][]string{}
	for _, h := range hostile {
		rows = append(rows, []string{h, "x"})
	}
	if err := o.table([]string{"NAME", "OTHER"}, rows); err != nil {
		t.Fatal(err)
	}
	if err := o.fields([2]string{"Name", hostile[0]}); err != nil {
		t.Fatal(err)
	}
	if err := o.line("Deleted %q and %s", hostile[1], hostile[3]); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\xff", "\u0085", "\t"} {
		if strings.Contains(got, bad) {
			t.Errorf("the output carries %q:\n%s", bad, got)
		}
	}
	if lines := strings.Count(got, "\n"); lines != 1+len(hostile)+2 {
		t.Errorf("%d lines, want one per row, the field and the sentence:\n%s", lines, got)
	}
	if !strings.Contains(got, `\x1b]0;owned\a`) {
		t.Errorf("the escape sequence is not shown escaped:\n%s", got)
	}
}

// TestCLIErrorIsOneLineNotTheRawBody: an error answer of the admin API,
// whatever its body (JSON with line breaks and escapes, HTML, nothing),
// becomes one printable line, not a raw JSON body on the terminal.
func TestCLIErrorIsOneLineNotTheRawBody(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{404, `{"error":"no link \"x\""}`, `no link "x" (HTTP 404)`},
		{400, "{\"error\":\"reading the JSON body:\\n\\u001b[31mbad\"}", `reading the JSON body: [31mbad (HTTP 400)`},
		{502, "<html>\n<body>Bad gateway</body>\n</html>", `<html> <body>Bad gateway</body> </html> (HTTP 502)`},
		{500, "", `Internal Server Error (HTTP 500)`},
	} {
		err := apiError(tc.status, []byte(tc.body))
		if err.Error() != tc.want {
			t.Errorf("apiError(%d, %q) = %q, want %q", tc.status, tc.body, err, tc.want)
		}
	}
	long := apiError(400, []byte(`{"error":"`+strings.Repeat("é", 1000)+`"}`)).Error()
	if len(long) > 420 || !strings.HasSuffix(long, "… (HTTP 400)") || !strings.Contains(long, "é") {
		t.Errorf("a long message is not cut to one line: %d bytes, %q…", len(long), long[:20])
	}
}

// TestPermissionsAnyCase: permissions typed in any case or with a dash
// are the API's words.
func TestPermissionsAnyCase(t *testing.T) {
	for in, want := range map[string]string{"read": "READ", "Write": "WRITE", " admin ": "ADMIN", "system_admin": "SYSTEM_ADMIN", "system-admin": "SYSTEM_ADMIN", "SYSTEM_ADMIN": "SYSTEM_ADMIN"} {
		if got := permission(in); got != want {
			t.Errorf("permission(%q) = %q, want %q", in, got, want)
		}
	}
}
