package outgoing

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Policy says which addresses a NewClient client may connect to, beyond
// what every client refuses (link-local, unspecified, multicast and cloud
// metadata addresses). The zero Policy is the strict one, for links
// created at runtime through the admin UI or API: public addresses only.
type Policy struct {
	// Private allows loopback (localhost, 127.0.0.0/8, ::1) and private
	// (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10,
	// fc00::/7) addresses at every host: for links created at runtime
	// when the operator set allow_private_endpoints.
	Private bool
	// PrivateOrigins are URLs the operator named in the configuration (a
	// declared link's issuer or endpoints, a sign-in provider's issuer)
	// whose host and port may be on loopback or private addresses even
	// when Private is false; any other host, such as one a provider's
	// documents name, must be public.
	PrivateOrigins []string
	// Loopback allows loopback addresses (localhost, 127.0.0.0/8, ::1) at
	// every host, but not private ones: for client ID metadata documents
	// served on this machine in tests and local development.
	Loopback bool
	// Denied are addresses refused whatever Private says: those Caddy's
	// admin endpoint listens on.
	Denied []netip.AddrPort
}

// forHost returns the policy for connecting to hostport (host:port as in
// a dial address): Private when hostport is that of a PrivateOrigins URL.
func (p Policy) forHost(hostport string) Policy {
	if p.Private || len(p.PrivateOrigins) == 0 {
		return p
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return p
	}
	want := net.JoinHostPort(strings.TrimSuffix(strings.ToLower(host), "."), port)
	for _, o := range p.PrivateOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" {
			continue
		}
		if hostPort(u) == want {
			p.Private = true
			return p
		}
	}
	return p
}

// hostPort is the dial address of u: lower-case host and port, the
// scheme's default port filled in.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port)
}

// Check is CheckEndpoint under the policy: a URL whose host is a literal
// loopback or private address (or localhost) is refused unless p.Private,
// and one whose literal address and port are in p.Denied always. Host
// names are judged again, resolved, when a NewClient client connects.
func (p Policy) Check(raw string) error {
	if err := CheckEndpoint(raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("checking endpoint: %w: not a URL", ErrRefused)
	}
	return p.checkURL(u)
}

// checkURL is Check for a parsed URL that passed checkURL.
func (p Policy) checkURL(u *url.URL) error {
	p = p.forHost(hostPort(u))
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if !p.Private && !p.Loopback {
			return refuse(u, "host "+host+" is a loopback address, allowed only for links declared in the configuration")
		}
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return refuse(u, fmt.Sprintf("port %q is not a number", port))
	}
	if reason := p.refusedAddrPort(netip.AddrPortFrom(ip, uint16(n))); reason != "" {
		return refuse(u, fmt.Sprintf("host %s is %s", host, reason))
	}
	return nil
}

// refusedAddrPort returns why the policy refuses to connect to ap, or ""
// if it may.
func (p Policy) refusedAddrPort(ap netip.AddrPort) string {
	ip := ap.Addr().WithZone("").Unmap()
	if reason := refusedAddr(ip); reason != "" {
		return reason
	}
	if p.denied(netip.AddrPortFrom(ip, ap.Port())) {
		return fmt.Sprintf("Caddy's admin endpoint (port %d)", ap.Port())
	}
	if !p.Private && !(p.Loopback && ip.IsLoopback()) {
		if reason := privateAddr(ip); reason != "" {
			return reason + ", allowed only for links declared in the configuration"
		}
	}
	return ""
}

// denied reports whether ap (unmapped, no zone) is in p.Denied.
func (p Policy) denied(ap netip.AddrPort) bool {
	return slices.ContainsFunc(p.Denied, func(d netip.AddrPort) bool {
		return d.Port() == ap.Port() && d.Addr().WithZone("").Unmap() == ap.Addr()
	})
}

// privateAddr returns what kind of non-public address ip (unmapped, no
// zone) is — loopback or private — or "" for a public one. An address in
// the NAT64 prefix is judged by the IPv4 address it embeds.
func privateAddr(ip netip.Addr) string {
	if nat64 := netip.MustParsePrefix("64:ff9b::/96"); nat64.Contains(ip) {
		b := ip.As16()
		return privateAddr(netip.AddrFrom4([4]byte(b[12:])))
	}
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate(),
		netip.MustParsePrefix("100.64.0.0/10").Contains(ip), // carrier-grade NAT (RFC 6598)
		netip.MustParsePrefix("fec0::/10").Contains(ip):     // IPv6 site-local (deprecated)
		return "a private address"
	}
	return ""
}

// defaultPort is the port of scheme when a URL names none.
func defaultPort(scheme string) string {
	if strings.EqualFold(scheme, "http") {
		return "80"
	}
	return "443"
}

// origin returns the scheme, host and port of u, lower case and with the
// scheme's default port filled in, so that https://a.example and
// https://A.example:443 compare equal.
func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + hostPort(u)
}

// CheckSameOrigin returns an error wrapping ErrRefused unless endpoint is
// on the origin (scheme, host and port) of issuer: an endpoint discovered
// from an issuer's metadata may not send the gateway elsewhere.
func CheckSameOrigin(issuer, endpoint string) error {
	iu, err := url.Parse(issuer)
	if err != nil {
		return fmt.Errorf("checking endpoint: %w: the issuer is not a URL", ErrRefused)
	}
	eu, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("checking endpoint: %w: not a URL", ErrRefused)
	}
	if origin(iu) != origin(eu) {
		return refuse(eu, "a discovered endpoint must be on the issuer's origin "+origin(iu)+"; name it in the configuration to use another")
	}
	return nil
}
