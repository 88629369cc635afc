package caddyfile

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/scope"
)

// parseRegistration reads the registration option.
//
// Syntax:
//
//	registration open|<initial-access-token> {
//		scope <READ|WRITE|ADMIN|SYSTEM_ADMIN>
//		redirect_uris <https|loopback|private_use...>
//		max_clients <n>
//		expire_unused <duration>
//	}
func parseRegistration(d *caddyfile.Dispenser) (*applinks.RegistrationConfig, error) {
	c := new(applinks.RegistrationConfig)
	var access string
	if err := singleArg(d, &access); err != nil {
		return nil, err
	}
	if access == "open" {
		c.Open = true
	} else {
		c.InitialAccessToken = access
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "scope":
			if err := singleArg(d, &c.Scope); err != nil {
				return nil, err
			}
			if _, err := scope.Parse(c.Scope); err != nil {
				return nil, d.WrapErr(err)
			}
		case "redirect_uris":
			c.RedirectURIs = d.RemainingArgs()
			if len(c.RedirectURIs) == 0 {
				return nil, d.ArgErr()
			}
		case "max_clients":
			var v string
			if err := singleArg(d, &v); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, d.Errf("max_clients %q: want a positive number", v)
			}
			c.MaxClients = n
		case "expire_unused":
			var v string
			if err := singleArg(d, &v); err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("expire_unused %q: want a positive duration", v)
			}
			c.ExpireUnused = caddy.Duration(dur)
		default:
			return nil, unrecognized(d, "scope", "redirect_uris", "max_clients", "expire_unused")
		}
	}
	if err := c.Check(); err != nil {
		return nil, d.WrapErr(err)
	}
	return c, nil
}

// parseDocuments reads the client_id_metadata_documents option.
//
// Syntax:
//
//	client_id_metadata_documents {
//		allow_hosts <host...>
//		scope <READ|WRITE|ADMIN|SYSTEM_ADMIN>
//		allow_loopback
//	}
func parseDocuments(d *caddyfile.Dispenser) (*applinks.DocumentsConfig, error) {
	c := new(applinks.DocumentsConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "allow_hosts":
			hosts := d.RemainingArgs()
			if len(hosts) == 0 {
				return nil, d.ArgErr()
			}
			c.AllowHosts = append(c.AllowHosts, hosts...)
		case "scope":
			if err := singleArg(d, &c.Scope); err != nil {
				return nil, err
			}
		case "allow_loopback":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			c.AllowLoopback = true
		default:
			return nil, unrecognized(d, "allow_hosts", "scope", "allow_loopback")
		}
	}
	if err := c.Check(); err != nil {
		return nil, d.WrapErr(err)
	}
	return c, nil
}
