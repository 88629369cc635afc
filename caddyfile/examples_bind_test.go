package caddyfile_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestExamplesWithPublishedCredentialsListenOnlyOnLoopback: an example that
// carries its demo credentials in the file (user password hashes whose
// passwords its README gives, client secrets) cannot be signed in to from
// another machine, because every server it starts listens on a loopback
// address only.
func TestExamplesWithPublishedCredentialsListenOnlyOnLoopback(t *testing.T) {
	files, err := filepath.Glob("../examples/*/Caddyfile")
	more, err2 := filepath.Glob("../examples/*/*.Caddyfile")
	files = append(files, more...)
	if err != nil || err2 != nil || len(files) == 0 {
		t.Fatalf("no examples: %v %v", err, err2)
	}
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "{env.") {
			continue // a production shape: its secrets come from the environment
		}
		checked++
		t.Run(f, func(t *testing.T) {
			out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(data, map[string]any{"filename": f})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			var cfg struct {
				Apps struct {
					HTTP struct {
						Servers map[string]struct {
							Listen []string `json:"listen"`
						} `json:"servers"`
					} `json:"http"`
				} `json:"apps"`
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatal(err)
			}
			if len(cfg.Apps.HTTP.Servers) == 0 {
				t.Fatal("no servers")
			}
			for name, srv := range cfg.Apps.HTTP.Servers {
				for _, l := range srv.Listen {
					if !loopbackListener(l) {
						t.Errorf("server %s listens on %q: add `default_bind 127.0.0.1` to the global options", name, l)
					}
				}
			}
		})
	}
	if checked == 0 {
		t.Fatal("no example with demo credentials: the test checks nothing")
	}
}

// loopbackListener reports whether a listen address of Caddy's config names
// a loopback IP; an empty host means every interface.
func loopbackListener(l string) bool {
	na, err := caddy.ParseNetworkAddress(l)
	if err != nil {
		return false
	}
	ip := net.ParseIP(na.Host)
	return ip != nil && ip.IsLoopback()
}
