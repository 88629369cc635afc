// Command consumer is the OAuth 1.0a consumer of examples/oauth1: with
// the dghubble/oauth1 client and the demo shared secret it gets a request
// token, has the person allow it in the browser (oob: they paste the
// verifier), exchanges it and calls the guarded app, then calls it
// two-legged.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/dghubble/oauth1"
)

const gateway = "http://localhost:8080"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := &oauth1.Config{
		ConsumerKey:    "scripts-consumer",
		ConsumerSecret: "scripts-demo-secret-change-me",
		CallbackURL:    "oob",
		Endpoint: oauth1.Endpoint{
			RequestTokenURL: gateway + "/plugins/servlet/oauth/request-token",
			AuthorizeURL:    gateway + "/plugins/servlet/oauth/authorize",
			AccessTokenURL:  gateway + "/plugins/servlet/oauth/access-token",
		},
	}
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		return fmt.Errorf("request token: %w", err)
	}
	u, err := cfg.AuthorizationURL(rt)
	if err != nil {
		return err
	}
	fmt.Printf("Open %s, sign in (admin / admin-demo-password) and allow access.\nThen paste the verification code here: ", u)
	verifier, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return err
	}
	at, as, err := cfg.AccessToken(rt, rs, strings.TrimSpace(verifier))
	if err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	if err := call("three-legged", cfg.Client(context.Background(), oauth1.NewToken(at, as))); err != nil {
		return err
	}
	return call("two-legged (as reader)", cfg.Client(context.Background(), oauth1.NewToken("", "")))
}

// call sends a signed GET to the guarded app and prints its answer.
func call(what string, c *http.Client) error {
	resp, err := c.Get(gateway + "/api/hello?lang=en")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s %s\n", what, resp.Status, b)
	return nil
}
