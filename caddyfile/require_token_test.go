package caddyfile_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestAdaptRequireTokenResourceAndMCPErrors: a bad resource or mcp block
// fails when adapting, naming the problem.
func TestAdaptRequireTokenResourceAndMCPErrors(t *testing.T) {
	for _, tc := range []struct {
		name, block, want string
	}{
		{"relative resource", "resource mcp", "want a path (/mcp) or an absolute http(s) URL"},
		{"resource with query", "resource /mcp?x=1", "without query or fragment"},
		{"resource URL with fragment", "resource https://api.example/mcp#x", "no query or fragment"},
		{"two resources", "resource /a /b", "wrong argument count"},
		{"mcp with an argument", "mcp on", "wrong argument count"},
		{"mcp twice", "mcp\n\t\tmcp", "mcp given twice"},
		{"tool without scope", "mcp {\n\t\t\ttool search\n\t\t}", "wrong argument count"},
		{"tool with unknown scope", "mcp {\n\t\t\ttool search read\n\t\t}", `unknown scope "read"`},
		{"tool twice", "mcp {\n\t\t\ttool a READ\n\t\t\ttool a ADMIN\n\t\t}", `tool "a" given twice`},
		{"unknown mcp option", "mcp {\n\t\t\ttools a READ\n\t\t}", `unrecognized subdirective "tools"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf := ":80 {\n\trequire_token {\n\t\t" + tc.block + "\n\t}\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
