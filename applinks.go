// Package caddyapplinks gives any web app behind Caddy what Atlassian's
// Application links give Confluence and Jira: an OAuth 2.0 provider for
// incoming links, a token guard in front of the upstream and outgoing
// links to other OAuth 2.0 servers. Importing it registers every module of
// the plugin, so `xcaddy build --with github.com/applinks/caddy-applinks`
// is enough.
package caddyapplinks

import (
	// The Caddyfile syntax, which imports every module it configures.
	_ "github.com/applinks/caddy-applinks/caddyfile"
	// The admin JSON API.
	_ "github.com/applinks/caddy-applinks/module/admin"
	// The default storage backend, and PostgreSQL for clusters.
	_ "github.com/applinks/caddy-applinks/module/store/badgerstore"
	_ "github.com/applinks/caddy-applinks/module/store/pgstore"
	// Providers of outgoing links.
	_ "github.com/applinks/caddy-applinks/plugins/google"
	_ "github.com/applinks/caddy-applinks/plugins/microsoft"
	_ "github.com/applinks/caddy-applinks/plugins/oauth2"
	_ "github.com/applinks/caddy-applinks/plugins/oidc"
)
