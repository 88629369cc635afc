package badgerstore

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/internal/nearest"
)

// UnmarshalCaddyfile sets up the storage from Caddyfile tokens.
//
// Syntax:
//
//	storage badger [<dir>] {
//		sync_writes
//	}
func (s *Storage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if d.NextArg() {
		s.Dir = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "sync_writes":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.SyncWrites = true
		default:
			return d.Errf("unrecognized subdirective %q%s", d.Val(), nearest.Suggest(d.Val(), []string{"sync_writes"}))
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Storage)(nil)
