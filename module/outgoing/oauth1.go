package outgoing

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	client "github.com/dghubble/oauth1"
)

// Paths of an Atlassian product's OAuth 1.0a service provider, under its
// application URL.
const (
	OAuth1RequestTokenPath = "/plugins/servlet/oauth/request-token"
	OAuth1AuthorizePath    = "/plugins/servlet/oauth/authorize"
	OAuth1AccessTokenPath  = "/plugins/servlet/oauth/access-token"
	// ConsumerInfoPath is where a product serves its consumer identity,
	// as XML, for another product's application link wizard to read; the
	// gateway serves its own there too.
	ConsumerInfoPath = "/plugins/servlet/oauth/consumer-info"
)

// OAuth1Config makes an outgoing link an OAuth 1.0a link to an Atlassian
// product (Jira, Confluence, Bitbucket Data Center) or another service
// provider at Atlassian's paths, instead of an OAuth 2.0 one: the gateway
// is its consumer and signs each proxied request with RSA-SHA1.
type OAuth1Config struct {
	// ApplicationURL is the remote product's base URL, e.g.
	// https://jira.example.com or https://example.com/jira: its endpoints
	// are <url>/plugins/servlet/oauth/request-token, /authorize and
	// /access-token, and outgoing_token signs requests for its scheme,
	// host and port. Global placeholders such as {env.X} are resolved at
	// provision time.
	ApplicationURL string `json:"application_url"`
	// ConsumerKey is the consumer key the remote product knows the
	// gateway by. Default: the gateway's own consumer key, served with
	// its public key at /plugins/servlet/oauth/consumer-info.
	ConsumerKey string `json:"consumer_key,omitempty"`
}

// errOAuth1Exclusive means an oauth1 link names what only an OAuth 2.0
// link has.
var errOAuth1Exclusive = errors.New("an oauth1 link has no provider, client_id, client_secret or scopes: the gateway signs with its consumer key and RSA key instead")

// check checks the application URL (CheckEndpoint: https, or http on a
// loopback host) and the consumer key. A URL with a placeholder, in the
// configuration, is checked once it is resolved.
func (c *OAuth1Config) check() error {
	if c.ApplicationURL == "" {
		return errors.New("oauth1: the remote product's application URL is required")
	}
	if strings.ContainsAny(c.ApplicationURL, "{}") {
		return nil
	}
	if err := CheckEndpoint(c.ApplicationURL); err != nil {
		return fmt.Errorf("oauth1 %s: %w", c.ApplicationURL, err)
	}
	u, _ := url.Parse(c.ApplicationURL)
	if u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("oauth1 %s: the application URL is a base URL, without a query", c.ApplicationURL)
	}
	if strings.ContainsAny(c.ConsumerKey, " \t\r\n") {
		return fmt.Errorf("oauth1: consumer key %q: no spaces", c.ConsumerKey)
	}
	return nil
}

// base is the application URL without a trailing slash.
func (c *OAuth1Config) base() string { return strings.TrimRight(c.ApplicationURL, "/") }

// Endpoints returns the remote product's request-token, authorize and
// access-token endpoints.
func (c *OAuth1Config) Endpoints() client.Endpoint {
	return client.Endpoint{
		RequestTokenURL: c.base() + OAuth1RequestTokenPath,
		AuthorizeURL:    c.base() + OAuth1AuthorizePath,
		AccessTokenURL:  c.base() + OAuth1AccessTokenPath,
	}
}

// SignedURL is the URL a request proxied to the remote product is signed
// for: the scheme, host and port of the application URL, then the path
// and query of r as the handler sees them (after any rewrite, as
// reverse_proxy sends them).
func (c *OAuth1Config) SignedURL(r *http.Request) string {
	u, _ := url.Parse(c.ApplicationURL)
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	return out.String()
}
