package outgoing_test

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// FuzzEndpointPolicy: whatever URL an admin enters for a runtime link, the
// strict policy accepts it only as https to a host that no IPv4 reader
// (inet_aton's decimal, octal, hex and short forms included) takes for a
// loopback, private, link-local, unspecified, multicast or metadata
// address, and an accepted URL is accepted again after re-serialising.
func FuzzEndpointPolicy(f *testing.F) {
	for _, s := range []string{
		"https://idp.example/token", "https://10.0.0.1/", "https://127.1/", "https://0x7f.1/",
		"https://2130706433/", "https://0177.0.0.1/", "https://[::ffff:169.254.169.254]/",
		"https://[64:ff9b::a9fe:a9fe]/", "https://[fe80::1%25eth0]/", "http://localhost/",
		"https://LOCALHOST./", "https://a.localhost/", "https://169.254.169.254./",
		"https://user:pw@idp.example/", "https://idp.example/#x", "//idp.example/",
		"https://metadata.google.internal./", "https://100.64.0.1/", "https://[fc00::1]/",
		"https://8.8.8.8:443/", "https://idp.example:99999/", "https://0/", "https://1.2.3.04/",
	} {
		f.Add(s)
	}
	strict := outgoing.Policy{Denied: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:2019")}}
	f.Fuzz(func(t *testing.T, raw string) {
		err := strict.Check(raw)
		if err != nil {
			if !errors.Is(err, outgoing.ErrRefused) {
				t.Fatalf("Check(%q) = %v, which is not ErrRefused", raw, err)
			}
			if u, perr := url.Parse(raw); perr == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), ":"+pw+"@") {
					t.Fatalf("Check(%q) error %q holds the password", raw, err)
				}
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("Check(%q) accepted a URL that does not parse: %v", raw, perr)
		}
		if u.Scheme != "https" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("Check(%q) accepted scheme %q, userinfo %v, fragment %q, opaque %q", raw, u.Scheme, u.User, u.Fragment, u.Opaque)
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
			t.Fatalf("Check(%q) accepted host %q", raw, host)
		}
		ip, isIP := literalAddr(host)
		if isIP {
			if canon, err := netip.ParseAddr(host); err != nil || canon.WithZone("").Unmap() != ip.WithZone("").Unmap() {
				t.Fatalf("Check(%q) accepted host %q, which inet_aton reads as %s", raw, host, ip)
			}
			if reason := nonPublic(ip); reason != "" {
				t.Fatalf("Check(%q) accepted %s, %s", raw, ip, reason)
			}
		}
		if err := strict.Check(u.String()); err != nil {
			t.Fatalf("Check(%q) accepted, but its serialisation %q is refused: %v", raw, u.String(), err)
		}
	})
}

// literalAddr reads host as an address the way the most lenient readers
// do: an IPv6 literal, or an IPv4 address in inet_aton's forms (one to four
// parts, each decimal, octal with a leading 0, or hex with 0x).
func literalAddr(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		n, err := strconv.ParseUint(digits, base, 32)
		if err != nil || digits == "" {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (24 - 8*i)
	}
	last := nums[len(nums)-1]
	if last >= 1<<(32-8*(len(nums)-1)) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// nonPublic is an independent list of what the strict policy must refuse.
func nonPublic(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, p := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "168.63.129.16/32", "100.100.100.200/32",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		if netip.MustParsePrefix(p).Contains(ip) {
			return "in " + p
		}
	}
	return ""
}
