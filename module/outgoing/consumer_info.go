package outgoing

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/applinks/caddy-applinks/module/oauth1"
)

// maxConsumerInfo bounds the consumer-info document the gateway reads.
const maxConsumerInfo = 64 << 10

// ErrNoConsumerInfo means a URL did not serve a usable consumer-info
// document: another status than 200, not XML, no consumer key, or a
// public key that is not RSA.
var ErrNoConsumerInfo = errors.New("no usable OAuth 1.0a consumer-info")

// ConsumerInfo is an OAuth 1.0a consumer identity in the XML that
// Atlassian products serve at ConsumerInfoPath, for the application link
// wizard of another product to read: the key, a name, the public key as
// the base64 of its DER on one line, and a description. The gateway
// serves its own in it and reads another gateway's or product's with
// FetchConsumerInfo. Atlassian adds <callback> only for a consumer with
// one callback; the gateway's callback is per link, so it writes none.
type ConsumerInfo struct {
	XMLName     xml.Name `xml:"consumer"`
	Key         string   `xml:"key"`
	Name        string   `xml:"name"`
	PublicKey   string   `xml:"publicKey"`
	Description string   `xml:"description"`
	Callback    string   `xml:"callback,omitempty"`
}

// Marshal is the document as served: the XML declaration, then the
// consumer element.
func (c ConsumerInfo) Marshal() ([]byte, error) {
	body, err := xml.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), body...), nil
}

// ParseConsumerInfo reads a consumer-info document: a <consumer> element
// with a key (as a consumer key may be: no spaces or control characters)
// and an RSA public key (base64 DER or PEM). Its errors wrap
// ErrNoConsumerInfo.
func ParseConsumerInfo(doc []byte) (ConsumerInfo, error) {
	var c ConsumerInfo
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	if err := d.Decode(&c); err != nil {
		return ConsumerInfo{}, fmt.Errorf("%w: not a <consumer> XML document: %v", ErrNoConsumerInfo, err)
	}
	c.Key, c.Name = strings.TrimSpace(c.Key), strings.TrimSpace(c.Name)
	c.PublicKey = strings.Join(strings.Fields(c.PublicKey), "")
	switch {
	case c.Key == "":
		return ConsumerInfo{}, fmt.Errorf("%w: no consumer key", ErrNoConsumerInfo)
	case len(c.Key) > 200 || strings.ContainsFunc(c.Key, func(r rune) bool { return r <= 0x20 || r == 0x7f }):
		return ConsumerInfo{}, fmt.Errorf("%w: the consumer key has spaces or control characters, or is too long", ErrNoConsumerInfo)
	case c.PublicKey == "":
		return ConsumerInfo{}, fmt.Errorf("%w: no public key", ErrNoConsumerInfo)
	}
	if _, err := oauth1.ParsePublicKey([]byte(c.PublicKey)); err != nil {
		return ConsumerInfo{}, fmt.Errorf("%w: %w", ErrNoConsumerInfo, err)
	}
	return c, nil
}

// FetchConsumerInfo reads the consumer-info of the product or gateway at
// applicationURL (its base URL) through the client of runtime links, as
// Probe does: no loopback or private address unless
// allow_private_endpoints, never Caddy's admin endpoint, no redirects
// followed elsewhere than that client allows. A refused URL's error wraps
// ErrRefused, an unreachable one's ErrProviderUnavailable, a document
// that is not usable ErrNoConsumerInfo.
func (s *Service) FetchConsumerInfo(ctx context.Context, applicationURL string) (ConsumerInfo, error) {
	if err := s.CheckRuntimeEndpoint(applicationURL); err != nil {
		return ConsumerInfo{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(applicationURL, "/")+ConsumerInfoPath, nil)
	if err != nil {
		return ConsumerInfo{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	req.Header.Set("Accept", "application/xml, text/xml")
	resp, err := s.runtimeClient.Do(req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return ConsumerInfo{}, err
		}
		return ConsumerInfo{}, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ConsumerInfo{}, fmt.Errorf("%w: %s answered %s", ErrNoConsumerInfo, ConsumerInfoPath, resp.Status)
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, maxConsumerInfo+1))
	if err != nil {
		return ConsumerInfo{}, fmt.Errorf("%w: reading consumer-info: %w", ErrProviderUnavailable, err)
	}
	if len(doc) > maxConsumerInfo {
		return ConsumerInfo{}, fmt.Errorf("%w: the document is over %d bytes", ErrNoConsumerInfo, maxConsumerInfo)
	}
	return ParseConsumerInfo(doc)
}
