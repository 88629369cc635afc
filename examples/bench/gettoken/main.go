// Command gettoken signs a user in to a caddy-applinks gateway, consents
// for an incoming link and prints the access token it obtains: the
// authorization-code flow with PKCE, driven over HTTP as a browser and a
// client app would. It is how examples/bench gets a token for its load.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/applinks/caddy-applinks/internal/flow"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8484", "gateway base URL")
	user := flag.String("user", "bench", "user name")
	password := flag.String("password", "bench-password", "password")
	clientID := flag.String("client-id", "bench", "incoming link client id")
	secret := flag.String("client-secret", "bench-secret-0123456789", "incoming link client secret")
	redirect := flag.String("redirect-uri", "http://127.0.0.1:8489/callback", "registered redirect URI")
	scope := flag.String("scope", "", "scope to request (default: the link's ceiling)")
	flag.Parse()
	tok, err := flow.Run(*issuer, *user, *password, *clientID, *secret, *redirect, *scope)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gettoken:", err)
		os.Exit(1)
	}
	fmt.Println(tok.AccessToken)
}
