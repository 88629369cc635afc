package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestOutgoingTokenUnknownLinkSaysOneSentence: an outgoing_token naming a
// link that is neither declared nor created at runtime used to stop Caddy
// with a 400-character chain of module names; the error now is one
// sentence naming the link, the nearest existing one and how to declare
// it, and the failed load leaves the store free for the next one.
func TestOutgoingTokenUnknownLinkSaysOneSentence(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
	admin localhost:2999
	http_port %d
	https_port 9443
	grace_period 1ns
	applinks {
		storage badger %s
		outgoing drive {
			provider oauth2 https://drive.example/authorize https://drive.example/token
			client_id gateway
			client_secret s3cret
		}
	}
}
:%d {
	applinks
	route /files/* {
		outgoing_token driev
		respond "files"
	}
}
`, httpPort, dir, httpPort)
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	if err != nil {
		t.Fatalf("adapting (a link may be created at runtime, so this is no adapt error): %v", err)
	}
	err = caddy.Load(adapted, true)
	if err == nil {
		_ = caddy.Stop()
		t.Fatal("the gateway started with an outgoing_token naming no link")
	}
	msg := err.Error()
	want := `outgoing_token driev: there is no outgoing link of this name (did you mean "drive"?); declare it with outgoing driev in the applinks global option or create it in the admin UI`
	if !strings.Contains(msg, want) {
		t.Errorf("error %q\ndoes not say %q", msg, want)
	}
	for _, chain := range []string{"http.handlers", "subroute", "position 0", "provision"} {
		if strings.Contains(msg, chain) {
			t.Errorf("error %q still holds the module chain (%q)", msg, chain)
		}
	}
	// The failed start released the database: a gateway opens it.
	startGateway(t, gatewayOptions{dir: dir})
}
