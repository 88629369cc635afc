package ratelimit

import "net/netip"

// AddressKey is the rate-limit key of a client IP address: the address for
// IPv4 (an IPv4-mapped IPv6 address counts as its IPv4 address) and its
// /64 prefix for IPv6, since one host or customer commonly holds a whole
// /64 and could otherwise present as many keys as it likes. Text that is
// not an IP address is its own key.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
