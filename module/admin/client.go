package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// client calls the admin API of a running Caddy for one command.
type client struct {
	addr string
	http *http.Client
}

// newClient returns a client of the admin endpoint named by the command's
// --address flag, or of the one Caddy's other commands would use.
func newClient(c *cobra.Command) (*client, error) {
	flag, _ := c.Flags().GetString("address")
	addr, err := caddycmd.DetermineAdminAPIAddress(flag, nil, "", "")
	if err != nil {
		return nil, fmt.Errorf("finding the admin address: %w", err)
	}
	na, err := caddy.ParseNetworkAddress(addr)
	if err != nil || na.PortRangeSize() > 1 {
		return nil, fmt.Errorf("admin address %q: want one host:port or unix/<path>", addr)
	}
	network, dial := na.Network, na.JoinHostPort(0)
	if na.IsUnixNetwork() {
		// A unix socket address may end in |<mode>, which is not part
		// of its path.
		dial, _, _ = strings.Cut(na.Host, "|")
	}
	hc := &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, dial)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &client{addr: addr, http: hc}, nil
}

// do sends one request to the admin API and decodes a JSON answer into
// out (when not nil). An error answer becomes one line: the API's error
// message and the HTTP status, never the raw body.
func (cl *client) do(method, path string, body, out any) error {
	resp, err := cl.send(method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of the admin API: %w", err)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("reading the answer of the admin API: %w", err)
	}
	return nil
}

// download GETs path from the admin API and copies the answer's body to
// w, returning how many bytes it copied and the answer's trailer.
func (cl *client) download(path string, w io.Writer) (int64, http.Header, error) {
	// No overall timeout: a large store takes longer than a minute.
	long := &client{addr: cl.addr, http: &http.Client{Transport: cl.http.Transport, CheckRedirect: cl.http.CheckRedirect}}
	resp, err := long.send(http.MethodGet, path, nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, nil, fmt.Errorf("reading the answer of the admin API: %w", err)
	}
	return n, resp.Trailer, nil
}

// send sends one request to the admin API and returns a successful
// answer, whose body the caller closes; an error answer becomes one line
// (see do).
func (cl *client) send(method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	// As caddy's own commands do: the endpoint's host:port as host and
	// origin; for a unix socket or file descriptor, a loopback host and
	// no origin.
	origin, tcp := "http://127.0.0.1", false
	if na, err := caddy.ParseNetworkAddress(cl.addr); err == nil && !na.IsUnixNetwork() && !na.IsFdNetwork() {
		origin, tcp = "http://"+na.JoinHostPort(0), true
	}
	req, err := http.NewRequest(method, origin+path, rd)
	if err != nil {
		return nil, fmt.Errorf("making the request: %w", err)
	}
	if tcp {
		req.Header.Set("Origin", origin)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Caddy's admin API at %s (is Caddy running? is --address right?): %s", cl.addr, oneLine(unwrapURLError(err).Error()))
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, apiError(resp.StatusCode, raw)
	}
	return resp, nil
}

// apiStatusError is an error answer of the admin API, as one line.
type apiStatusError struct {
	status int
	msg    string
}

func (e *apiStatusError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.msg, e.status) }

// apiError is the one line saying what an error answer of the admin API
// means: its {"error": …} message, or the start of a body that is not
// JSON, and the status.
func apiError(status int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.Error
	}
	if msg == "" {
		msg = string(body)
	}
	msg = oneLine(msg)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &apiStatusError{status: status, msg: msg}
}

// unwrapURLError drops the method and URL net/http puts before the cause.
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

// oneLine makes s fit one terminal line: control characters (line breaks
// and escape sequences included) become spaces, runs of spaces one, and
// a long text is cut.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if !printableRune(r) {
			return ' '
		}
		return r
	}, s)), " ")
	const maxLen = 400
	if len(s) > maxLen {
		s = strings.ToValidUTF8(s[:maxLen], "") + "…"
	}
	return s
}
