package caddyfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/applinks/caddy-applinks"
)

// TestAdapt compares each testdata/*.caddyfiletest (Caddyfile, a line of
// dashes, expected JSON) with what the adapter makes.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, want, ok := strings.Cut(string(data), "----------\n")
			if !ok {
				t.Fatal("no separator line")
			}
			if !caddytest.CompareAdapt(t, f, caddyfile, "caddyfile", strings.TrimRight(want, "\n")) {
				t.Fail()
			}
		})
	}
}

// TestExamplesAdapt: every example Caddyfile adapts without error.
func TestExamplesAdapt(t *testing.T) {
	files, err := filepath.Glob("../examples/*/Caddyfile")
	more, err2 := filepath.Glob("../examples/*/*.Caddyfile")
	files = append(files, more...)
	if err != nil || err2 != nil || len(files) == 0 {
		t.Fatalf("no examples: %v %v", err, err2)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(data, map[string]any{"filename": f}); err != nil {
				t.Fatalf("adapting: %v", err)
			} else {
				for _, w := range warnings {
					t.Errorf("warning: %s", w.Message)
				}
			}
		})
	}
}

// TestAdaptErrors: malformed options fail with a message naming the problem.
func TestAdaptErrors(t *testing.T) {
	for _, tc := range []struct {
		name, caddyfile, want string
	}{
		{"unknown option", "{\n\tapplinks {\n\t\tcolour blue\n\t}\n}\n", `unrecognized subdirective "colour"`},
		{"unknown incoming option", "{\n\tapplinks {\n\t\tincoming x {\n\t\t\twildcard yes\n\t\t}\n\t}\n}\n", `unrecognized subdirective "wildcard"`},
		{"incoming without name", "{\n\tapplinks {\n\t\tincoming {\n\t\t}\n\t}\n}\n", "wrong argument count"},
		{"user without hash", "{\n\tapplinks {\n\t\tuser alice\n\t}\n}\n", "wrong argument count"},
		{"bad duration", "{\n\tapplinks {\n\t\taccess_token_ttl soon\n\t}\n}\n", "soon"},
		{"negative duration", "{\n\tapplinks {\n\t\tcode_ttl -1s\n\t}\n}\n", "must be positive"},
		{"two secret keys", "{\n\tapplinks {\n\t\tsecret_key a b\n\t}\n}\n", "wrong argument count"},
		{"unknown storage", "{\n\tapplinks {\n\t\tstorage floppy\n\t}\n}\n", "applinks.storage.floppy"},
		{"directive with arguments", ":80 {\n\tapplinks now\n}\n", "takes no arguments"},
		{"outgoing_token without link", ":80 {\n\toutgoing_token\n}\n", "needs the name of an outgoing link"},
		{"unknown outgoing_token option", ":80 {\n\toutgoing_token x {\n\t\tanyone\n\t}\n}\n", `unrecognized subdirective "anyone"`},
		{"allow_anonymous with a value", ":80 {\n\toutgoing_token x {\n\t\tallow_anonymous yes\n\t}\n}\n", "wrong argument count"},
		{"unknown provider", "{\n\tapplinks {\n\t\toutgoing x {\n\t\t\tprovider dropbox\n\t\t}\n\t}\n}\n", "applinks.providers.dropbox"},
		{"unknown outgoing option", "{\n\tapplinks {\n\t\toutgoing x {\n\t\t\tcolour red\n\t\t}\n\t}\n}\n", `unrecognized subdirective "colour"`},
		{"login other than oidc", "{\n\tapplinks {\n\t\tlogin saml https://idp\n\t}\n}\n", "only sign-in method"},
		{"trusted_email not on or off", "{\n\tapplinks {\n\t\tlogin oidc https://idp {\n\t\t\ttrusted_email yes\n\t\t}\n\t}\n}\n", "want on or off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.caddyfile), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
