package outgoing

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every error of CheckEndpoint and by the errors
// of a NewClient client that refuses a redirect, a request or a
// connection, so callers can tell a refused endpoint (a configuration
// problem) from an unreachable one with errors.Is.
var ErrRefused = errors.New("refused")

// defaultTimeout bounds a NewClient request when no timeout is given.
const defaultTimeout = 30 * time.Second

// maxRedirects is how many redirects a NewClient client follows, like
// net/http's default.
const maxRedirects = 10

// CheckEndpoint reports whether raw may be used as a provider endpoint or
// issuer: an absolute URL with a host; https, or http only for a loopback
// host (localhost, 127.0.0.0/8, ::1); no userinfo and no fragment; and a
// host that is neither a cloud metadata host name nor a literal
// link-local, unspecified, multicast or cloud metadata address. Errors
// wrap ErrRefused and never contain a password.
//
// Loopback and private hosts pass here: whether a link may use them is
// Policy.Check's question. Host names are not resolved here: NewClient
// checks the addresses they resolve to when it connects.
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL, password included
		}
		return fmt.Errorf("checking endpoint: %w: not a URL: %v", ErrRefused, err)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return refuse(u, "a fragment (#…) is not allowed")
	}
	return checkURL(u)
}

// NewClient returns an HTTP client for provider endpoints that refuses,
// at connect time (after DNS resolution), the addresses p refuses
// (link-local, unspecified, multicast and cloud metadata addresses
// always; Caddy's admin endpoint always; loopback and private addresses
// unless p.Private); refuses requests to URLs that fail CheckEndpoint or
// p.Check; follows a redirect only to the scheme, host and port of the
// first request; and gives up after timeout (30 seconds if timeout is zero
// or less). It ignores HTTP_PROXY and HTTPS_PROXY: a proxy would resolve
// and connect on the client's behalf, past the address check.
func NewClient(timeout time.Duration, p Policy) *http.Client {
	return newClient(timeout, p, nil)
}

// newClient is NewClient with a resolver, so tests can make a host name
// resolve to any address.
func newClient(timeout time.Duration, p Policy, resolver *net.Resolver) *http.Client {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		dialer := &net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
			Resolver:  resolver,
			Control:   p.forHost(address).controlDial,
		}
		return dialer.DialContext(ctx, network, address)
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Transport:     &checkedTransport{base: transport, policy: p},
		CheckRedirect: checkRedirect,
		Timeout:       timeout,
	}
}

// checkedTransport refuses requests whose URL fails CheckEndpoint or the
// policy's Check, so URLs a provider's documents lead to (a JWKS or
// userinfo URL) are checked too.
type checkedTransport struct {
	base   *http.Transport
	policy Policy
}

// RoundTrip implements http.RoundTripper.
func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	err := checkURL(req.URL)
	if err == nil {
		err = t.policy.checkURL(req.URL)
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport.
func (t *checkedTransport) CloseIdleConnections() {
	t.base.CloseIdleConnections()
}

// checkRedirect is http.Client.CheckRedirect: it follows a redirect only
// to the scheme, host and port of the first request (a provider cannot
// bounce the gateway to another service, such as one on another port of
// localhost), and only to a URL that passes CheckEndpoint (a fragment
// aside, which is never sent). The transport then applies the policy.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("following redirects: stopped after %d", maxRedirects)
	}
	if err := checkURL(req.URL); err != nil {
		return fmt.Errorf("following redirect: %w", err)
	}
	if from, to := origin(via[0].URL), origin(req.URL); from != to {
		return fmt.Errorf("following redirect: %w", refuse(req.URL, "a redirect may not leave "+from))
	}
	return nil
}

// checkURL is CheckEndpoint for a parsed URL, fragment aside.
func checkURL(u *url.URL) error {
	if u.Scheme == "" || u.Opaque != "" || u.Host == "" {
		return refuse(u, "an absolute URL with a host is required")
	}
	if u.User != nil {
		return refuse(u, "userinfo (user:password@) is not allowed")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return refuse(u, "an absolute URL with a host is required")
	}
	if isMetadataHost(host) {
		return refuse(u, fmt.Sprintf("host %s is a cloud metadata service", host))
	}
	ip, err := netip.ParseAddr(host)
	isIP := err == nil
	if isIP {
		if reason := refusedAddr(ip); reason != "" {
			return refuse(u, fmt.Sprintf("host %s is %s", host, reason))
		}
	} else if ambiguousIPv4(host) {
		return refuse(u, fmt.Sprintf("host %s looks like a non-canonical IPv4 address; write it as a.b.c.d", host))
	}
	switch u.Scheme {
	case "https":
	case "http":
		loopback := host == "localhost" || (isIP && ip.Unmap().IsLoopback())
		if !loopback {
			return refuse(u, "https is required (http is allowed only for localhost, 127.0.0.0/8 and ::1)")
		}
	default:
		return refuse(u, fmt.Sprintf("scheme %q is not allowed; use https", u.Scheme))
	}
	return nil
}

// RefusedError is a URL or address the gateway does not connect to, with
// the reason written for a person (e.g. "host 10.0.0.1 is a private
// address"); it is ErrRefused for errors.Is.
type RefusedError struct {
	// URL is the refused URL, any password redacted; "" for an address
	// refused at connect time.
	URL    string
	Reason string
}

// Error says what was refused and why.
func (e *RefusedError) Error() string {
	if e.URL == "" {
		return "refused: " + e.Reason
	}
	return "checking endpoint " + e.URL + ": refused: " + e.Reason
}

// Is makes a RefusedError match ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// refuse returns the error of a refused URL, with any password redacted.
func refuse(u *url.URL, reason string) error {
	return &RefusedError{URL: u.Redacted(), Reason: reason}
}

// refusedAddr returns why ip may not be connected to, or "" if it may. An
// address in the well-known NAT64 prefix (RFC 6052) is judged by the IPv4
// address it embeds: 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
func refusedAddr(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if nat64 := netip.MustParsePrefix("64:ff9b::/96"); nat64.Contains(ip) {
		b := ip.As16()
		if reason := refusedAddr(netip.AddrFrom4([4]byte(b[12:]))); reason != "" {
			return reason + " (through NAT64)"
		}
		return ""
	}
	switch {
	case isMetadataAddr(ip):
		return "a cloud metadata address"
	case ip.IsUnspecified(), ip.Is4() && ip.As4()[0] == 0:
		return "an unspecified address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsLinkLocalMulticast():
		return "a link-local multicast address"
	case ip.IsMulticast():
		return "a multicast address"
	}
	return ""
}

// ambiguousIPv4 reports whether host would be read as an IPv4 address by
// inet_aton-style parsers (0x7f.1, 2852039166, 0251.0376.0251.0376) though
// it is not in the canonical a.b.c.d form: its last label is a number, which
// no top-level domain is.
func ambiguousIPv4(host string) bool {
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	digits := strings.TrimPrefix(last, "0x")
	if digits == "" {
		return true
	}
	hex := digits != last
	for _, c := range digits {
		switch {
		case c >= '0' && c <= '9':
		case hex && c >= 'a' && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// isMetadataHost reports whether host (lower case, no trailing dot) names
// a cloud metadata service. Other names that resolve to a metadata
// address are refused when dialing.
func isMetadataHost(host string) bool {
	switch host {
	case "metadata", "metadata.google.internal": // GCP
		return true
	}
	return false
}

// isMetadataAddr reports whether ip (unmapped, no zone) is a cloud
// metadata or platform address.
func isMetadataAddr(ip netip.Addr) bool {
	switch ip.String() {
	case "169.254.169.254", // AWS, GCP, Azure, OCI, DigitalOcean…
		"169.254.170.2",   // AWS ECS task metadata
		"fd00:ec2::254",   // AWS IMDS over IPv6
		"100.100.100.200", // Alibaba Cloud
		"168.63.129.16":   // Azure WireServer
		return true
	}
	return false
}

// controlDial is net.Dialer.Control: it runs after DNS resolution and
// before connect, so an address the policy refuses is never sent a packet.
func (p Policy) controlDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse address %q: %v", ErrRefused, address, err)
	}
	if reason := p.refusedAddrPort(ap); reason != "" {
		return &RefusedError{Reason: fmt.Sprintf("%s is %s", ap.Addr(), reason)}
	}
	return nil
}

// Interface guards
var _ http.RoundTripper = (*checkedTransport)(nil)
