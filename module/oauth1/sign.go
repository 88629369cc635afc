package oauth1

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Credentials are what a consumer signs a request with: its consumer key
// and RSA private key, and the token it acts with (the access token, the
// request token when exchanging it, none when asking for one).
type Credentials struct {
	ConsumerKey string
	Key         *rsa.PrivateKey
	Token       string
	// Callback (oauth_callback) goes on a request-token request,
	// Verifier (oauth_verifier) on an access-token request.
	Callback string
	Verifier string
}

// ErrProtocolParameter means the request to sign already carries an
// OAuth protocol parameter (a name starting oauth_) in its query or form
// body: signed, it would name the parameter twice, which the service
// provider refuses.
var ErrProtocolParameter = errors.New("the request already carries an OAuth protocol parameter")

// Sign signs r with RSA-SHA1 as c, for uri: the absolute URL the service
// provider will see the request at (the scheme, host and path it is sent
// to, and its query). The protocol parameters, with a fresh nonce and the
// timestamp of now, go in an `Authorization: OAuth …` header that replaces
// any Authorization header r had. The signature base string is built as
// Parse builds it on the service provider's side, every query and form
// parameter counted, duplicate names included; a form body
// (application/x-www-form-urlencoded) is read up to maxForm bytes and put
// back unchanged.
//
// Errors: ErrFormTooLarge, ErrProtocolParameter, or one of a URL that is
// not absolute or a query or form that is not percent-encoded.
func Sign(r *http.Request, uri string, c Credentials, now time.Time, maxForm int64) error {
	return sign(r, uri, c, strconv.FormatInt(now.Unix(), 10), rand.Text(), maxForm)
}

// sign is Sign with the timestamp and nonce given.
func sign(r *http.Request, uri string, c Credentials, timestamp, nonce string, maxForm int64) error {
	if c.Key == nil || c.ConsumerKey == "" {
		return errors.New("oauth1: signing needs a consumer key and an RSA private key")
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("oauth1: request URL %q is not absolute", uri)
	}
	query, err := formPairs(u.RawQuery)
	if err != nil {
		return fmt.Errorf("oauth1: the query is not percent-encoded correctly: %w", err)
	}
	body, err := formBody(r, maxForm)
	var p *Problem
	if errors.As(err, &p) {
		return fmt.Errorf("oauth1: the form body is not percent-encoded correctly")
	}
	if err != nil {
		return err
	}
	for _, q := range append(query, body...) {
		if strings.HasPrefix(q.name, "oauth_") {
			return fmt.Errorf("oauth1: %w: %s", ErrProtocolParameter, q.name)
		}
	}
	protocol := []pair{
		{"oauth_consumer_key", c.ConsumerKey},
		{"oauth_nonce", nonce},
		{"oauth_signature_method", RSASHA1},
		{"oauth_timestamp", timestamp},
		{"oauth_version", "1.0"},
	}
	for _, opt := range []pair{{"oauth_token", c.Token}, {"oauth_callback", c.Callback}, {"oauth_verifier", c.Verifier}} {
		if opt.value != "" {
			protocol = append(protocol, opt)
		}
	}
	all := make([]pair, 0, len(protocol)+len(query)+len(body))
	all = append(append(append(all, protocol...), query...), body...)
	digest := sha1.Sum([]byte(baseString(r.Method, u, all)))
	sig, err := rsa.SignPKCS1v15(nil, c.Key, crypto.SHA1, digest[:])
	if err != nil {
		return fmt.Errorf("oauth1: signing: %w", err)
	}
	protocol = append(protocol, pair{"oauth_signature", base64.StdEncoding.EncodeToString(sig)})
	r.Header.Set("Authorization", authorization(protocol))
	return nil
}

// authorization is the Authorization header of the protocol parameters
// (RFC 5849 §3.5.1), in name order, each value percent-encoded.
func authorization(protocol []pair) string {
	sort.Slice(protocol, func(i, j int) bool { return protocol[i].name < protocol[j].name })
	var b strings.Builder
	b.WriteString("OAuth ")
	for i, p := range protocol {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Encode(p.name))
		b.WriteString(`="`)
		b.WriteString(Encode(p.value))
		b.WriteByte('"')
	}
	return b.String()
}
