package caddyfile

import (
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/internal/nearest"
)

// unrecognized is the error for the unknown subdirective at d, at its
// line, suggesting the nearest of valid.
func unrecognized(d *caddyfile.Dispenser, valid ...string) error {
	return d.Errf("unrecognized subdirective %q%s", d.Val(), nearest.Suggest(d.Val(), valid))
}

// here returns a dispenser on d's current token alone, to report at that
// line a problem found later, once the block the token opens is read.
func here(d *caddyfile.Dispenser) *caddyfile.Dispenser {
	at := caddyfile.NewDispenser([]caddyfile.Token{d.Token()})
	at.Next()
	return at
}

// knownModule checks that the module namespace.name is installed; the
// error, at d's line, lists the installed ones and suggests the nearest.
func knownModule(d *caddyfile.Dispenser, what, namespace, name string) error {
	if _, err := caddy.GetModule(namespace + "." + name); err == nil {
		return nil
	}
	var names []string
	for _, m := range caddy.GetModules(namespace) {
		names = append(names, m.ID.Name())
	}
	return d.Errf("unknown %s %q%s: want %s (module %s.%s is not in this Caddy build)", what, name, nearest.Suggest(name, names), strings.Join(names, ", "), namespace, name)
}

// hasPlaceholder reports whether v holds a placeholder such as {env.X},
// which is resolved at provision time and so cannot be checked here.
func hasPlaceholder(v string) bool { return strings.Contains(v, "{") }
