package caddyfile

import (
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
)

// parseOAuth1 reads the oauth1 block of an incoming link: the link is an
// OAuth 1.0a consumer. public_key reads the PEM file now, relative to the
// Caddyfile's directory (as import does), and puts its text in the JSON.
//
// Syntax:
//
//	oauth1 <consumer_key> {
//		public_key <path>
//		shared_secret <secret>
//		callback <url>
//		two_legged [<user>]
//		impersonation
//	}
func parseOAuth1(d *caddyfile.Dispenser) (*links.OAuth1Config, error) {
	c := new(links.OAuth1Config)
	if err := singleArg(d, &c.ConsumerKey); err != nil {
		return nil, err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "public_key":
			var path string
			if err := singleArg(d, &path); err != nil {
				return nil, err
			}
			pem, err := readPublicKey(d.File(), path)
			if err != nil {
				return nil, d.Errf("oauth1 public_key: %v", err)
			}
			c.PublicKey = pem
		case "shared_secret":
			if err := singleArg(d, &c.SharedSecret); err != nil {
				return nil, err
			}
		case "callback":
			if err := singleArg(d, &c.Callback); err != nil {
				return nil, err
			}
		case "two_legged":
			c.TwoLegged = true
			if d.NextArg() {
				c.ExecuteAs = d.Val()
				if d.NextArg() {
					return nil, d.ArgErr()
				}
			}
		case "impersonation":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			c.Impersonation = true
		default:
			return nil, unrecognized(d, "public_key", "shared_secret", "callback", "two_legged", "impersonation")
		}
	}
	return c, nil
}

// readPublicKey reads the consumer's public key file named in the
// Caddyfile caddyfileName and checks that it holds an RSA public key.
func readPublicKey(caddyfileName, path string) (string, error) {
	if !filepath.IsAbs(path) && caddyfileName != "" {
		path = filepath.Join(filepath.Dir(caddyfileName), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if _, err := oauth1.ParsePublicKey(b); err != nil {
		return "", err
	}
	return string(b), nil
}
