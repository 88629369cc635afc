package pgstore

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/internal/nearest"
)

// UnmarshalCaddyfile sets up the storage from Caddyfile tokens.
//
// Syntax:
//
//	storage postgres <dsn> {
//		key_file <path>
//	}
func (s *Storage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if !d.NextArg() {
		return d.ArgErr()
	}
	s.DSN = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "key_file":
			if !d.NextArg() {
				return d.ArgErr()
			}
			s.KeyFilePath = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized subdirective %q%s", d.Val(), nearest.Suggest(d.Val(), []string{"key_file"}))
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Storage)(nil)
