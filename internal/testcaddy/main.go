// Command testcaddy is Caddy with the standard modules and this plugin, for
// tests that need a Caddy of its own process (crash tests, two gateways).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/applinks/caddy-applinks"
)

func main() {
	caddycmd.Main()
}
