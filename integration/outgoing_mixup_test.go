package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/plugins/google"
)

// TestOutgoingMixUpAnswerFromAnotherIssuerIsRefused: connecting a Google
// link, an answer whose iss names another issuer than Google is refused
// before its code is redeemed and connects nothing (RFC 9207); Google's
// own iss is accepted.
func TestOutgoingMixUpAnswerFromAnotherIssuerIsRefused(t *testing.T) {
	f := newOutFake(t, true)
	g := outGateway(t, f, upstream(t), "gg", "google", "per_user", "")
	f.set(func(f *outFake) { f.iss = "https://evil.example" })
	c := outBrowser(t)
	resp, body := outConnect(t, c, "gg", "alice", "/done")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "mix-up") {
		t.Fatalf("answer from another issuer: %d %s", resp.StatusCode, body)
	}
	if n := get(f, func(f *outFake) int { return f.exchanges }); n != 0 {
		t.Fatalf("%d codes were redeemed", n)
	}
	if s := outStatus(t, g, "gg", "alice"); s != "" {
		t.Fatalf("status after the refused answer: %q", s)
	}
	f.set(func(f *outFake) { f.iss = google.Issuer })
	outConnected(t, c, "gg", "alice", "/done")
}
