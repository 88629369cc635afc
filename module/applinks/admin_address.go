package applinks

import (
	"context"
	"net"
	"net/netip"
	"reflect"

	"github.com/caddyserver/caddy/v2"
)

// adminListen returns the listen addresses of the Caddy admin endpoints
// of the config being provisioned in ctx: the local one (default
// caddy.DefaultAdminListen) unless disabled, and the remote one if
// enabled (default caddy.DefaultRemoteAdminListen). Caddy keeps its config
// unexported in the context, so it is read by reflection; when that fails,
// the default address is returned, never nothing.
func adminListen(ctx caddy.Context) []string {
	admin := reflect.ValueOf(ctx).FieldByName("cfg")
	if !admin.IsValid() || admin.Kind() != reflect.Pointer || admin.IsNil() {
		return []string{caddy.DefaultAdminListen}
	}
	admin = admin.Elem().FieldByName("Admin")
	if !admin.IsValid() || admin.Kind() != reflect.Pointer || admin.IsNil() {
		return []string{caddy.DefaultAdminListen}
	}
	admin = admin.Elem()
	var addrs []string
	if disabled := admin.FieldByName("Disabled"); !disabled.IsValid() || disabled.Kind() != reflect.Bool || !disabled.Bool() {
		addrs = append(addrs, orDefault(stringField(admin, "Listen"), caddy.DefaultAdminListen))
	}
	if remote := admin.FieldByName("Remote"); remote.IsValid() && remote.Kind() == reflect.Pointer && !remote.IsNil() {
		addrs = append(addrs, orDefault(stringField(remote.Elem(), "Listen"), caddy.DefaultRemoteAdminListen))
	}
	return addrs
}

// stringField is the string field name of struct v, or "".
func stringField(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// adminAddresses resolves Caddy admin listen addresses (such as
// localhost:2019, :2019 or tcp/[::1]:2019) to the address-port pairs they
// are reachable at: the host's addresses, or for an empty or unspecified
// host, the port on every loopback and interface address; a name that
// resolves to loopback gives both loopback addresses. Unix sockets and
// addresses that do not parse are skipped; a host name that does not
// resolve gives its port on every local address.
func adminAddresses(ctx context.Context, listen []string) []netip.AddrPort {
	var out []netip.AddrPort
	add := func(ip netip.Addr, port uint16) {
		out = append(out, netip.AddrPortFrom(ip.WithZone("").Unmap(), port))
	}
	local := func(port uint16) {
		add(netip.MustParseAddr("127.0.0.1"), port)
		add(netip.IPv6Loopback(), port)
		ifaddrs, _ := net.InterfaceAddrs()
		for _, a := range ifaddrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				add(p.Addr(), port)
			}
		}
	}
	repl := caddy.NewReplacer()
	for _, l := range listen {
		na, err := caddy.ParseNetworkAddress(repl.ReplaceAll(l, ""))
		if err != nil || na.IsUnixNetwork() || na.IsFdNetwork() {
			continue
		}
		for p := na.StartPort; p <= na.EndPort && p <= 65535; p++ {
			port := uint16(p)
			if na.Host == "" {
				local(port)
				continue
			}
			if ip, err := netip.ParseAddr(na.Host); err == nil {
				if ip.IsUnspecified() {
					local(port)
				} else {
					add(ip, port)
				}
				continue
			}
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", na.Host)
			if err != nil || len(ips) == 0 {
				local(port)
				continue
			}
			for _, ip := range ips {
				if ip.Unmap().IsLoopback() { // localhost: either loopback address
					add(netip.MustParseAddr("127.0.0.1"), port)
					add(netip.IPv6Loopback(), port)
				}
				add(ip, port)
			}
		}
	}
	return out
}
