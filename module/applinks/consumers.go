package applinks

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/links"
)

// resolveConsumer returns a declared OAuth 1.0a consumer with the
// placeholders of its shared secret resolved; an unset variable fails
// loudly. The link's own OAuth1 is left as configured.
func resolveConsumer(repl *caddy.Replacer, l links.ConfigLink) (links.ConfigLink, error) {
	c := *l.OAuth1
	if c.SharedSecret != "" {
		sec, err := repl.ReplaceOrErr(c.SharedSecret, true, true)
		if err != nil {
			return l, fmt.Errorf("incoming link %q: oauth1 shared_secret: %w", l.Name, err)
		}
		c.SharedSecret = sec
	}
	l.OAuth1 = &c
	return l, nil
}
