// Package clientdoc fetches and checks client ID metadata documents
// (draft-ietf-oauth-client-id-metadata-document): a client names itself
// with an https URL as its client_id, and the JSON document served there
// describes it.
package clientdoc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
)

// Limits of a fetch and of the cache.
const (
	// MaxBytes bounds a document.
	MaxBytes = 64 << 10
	// Timeout bounds a fetch.
	Timeout = 5 * time.Second
	// DefaultTTL is how long a document without a usable Cache-Control
	// max-age is kept.
	DefaultTTL = 5 * time.Minute
	// MaxTTL is the longest a document is kept, whatever it says.
	MaxTTL = 24 * time.Hour
	// MaxEntries bounds how many documents are cached.
	MaxEntries = 1000
	// FailureTTL is how long a document that could not be fetched, or was
	// refused, is answered from the cache with the same refusal, so that
	// requests naming it do not each make the gateway fetch it again.
	FailureTTL = 30 * time.Second
)

// Document is the part of a client ID metadata document the gateway
// reads: RFC 7591 client metadata.
type Document struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
}

// Policy says which clients may identify themselves with a document.
type Policy struct {
	// AllowHosts are the hosts whose URLs may be client ids; empty for any
	// public host.
	AllowHosts []string
	// AllowLoopback lets documents be served on loopback addresses (over
	// http too): for tests and local development.
	AllowLoopback bool
	// Ceiling is the permission ceiling of such clients.
	Ceiling scope.Scope
	// Denied are addresses never connected to (Caddy's admin endpoint).
	Denied []netip.AddrPort
}

// Fetcher fetches documents through the SSRF policy and keeps them for
// as long as their Cache-Control allows, within bounds. It implements
// links.Documents.
type Fetcher struct {
	policy Policy
	client *http.Client
	now    func() time.Time

	// flight makes one fetch of a document for its concurrent callers.
	flight singleflight.Group

	mu    sync.Mutex
	cache map[string]entry
}

// entry is a cached document, or the refusal of one (err set).
type entry struct {
	doc     Document
	err     error
	expires time.Time
}

// New returns a fetcher for the policy.
func New(p Policy, now func() time.Time) *Fetcher {
	hosts := make([]string, len(p.AllowHosts))
	for i, h := range p.AllowHosts {
		hosts[i] = strings.TrimSuffix(strings.ToLower(h), ".")
	}
	p.AllowHosts = hosts
	client := outgoing.NewClient(Timeout, outgoing.Policy{Loopback: p.AllowLoopback, Denied: p.Denied})
	return &Fetcher{policy: p, client: client, now: now, cache: map[string]entry{}}
}

// Ceiling is the permission ceiling of clients identified by a document.
func (f *Fetcher) Ceiling() scope.Scope { return f.policy.Ceiling }

// Accepts reports, without I/O, whether clientID is a URL the policy
// accepts as a client id; nil when it does.
func (f *Fetcher) Accepts(clientID string) error {
	u, err := url.Parse(clientID)
	if err != nil {
		return fmt.Errorf("%w: the client_id is not a URL", links.ErrBadDocument)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	loopback := links.IsLoopback(host)
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && loopback && f.policy.AllowLoopback):
		return fmt.Errorf("%w: the client_id URL must use https", links.ErrBadDocument)
	case u.Host == "" || host == "":
		return fmt.Errorf("%w: the client_id URL has no host", links.ErrBadDocument)
	case u.User != nil:
		return fmt.Errorf("%w: the client_id URL must not contain a user name or password", links.ErrBadDocument)
	case u.Fragment != "" || strings.Contains(clientID, "#"):
		return fmt.Errorf("%w: the client_id URL must not have a fragment", links.ErrBadDocument)
	case u.Path == "" || u.Path == "/":
		return fmt.Errorf("%w: the client_id URL must have a path", links.ErrBadDocument)
	case hasDotSegment(u.Path):
		return fmt.Errorf("%w: the client_id URL must not have . or .. path segments", links.ErrBadDocument)
	case strings.ContainsFunc(clientID, func(r rune) bool { return r <= 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: the client_id URL contains spaces or control characters", links.ErrBadDocument)
	case len(clientID) > 2000:
		return fmt.Errorf("%w: the client_id URL is too long", links.ErrBadDocument)
	case loopback && !f.policy.AllowLoopback:
		return fmt.Errorf("%w: the client_id URL is on a loopback host", links.ErrBadDocument)
	case len(f.policy.AllowHosts) > 0 && !slices.Contains(f.policy.AllowHosts, host):
		return fmt.Errorf("%w: clients of host %s may not identify themselves by a document here", links.ErrBadDocument, host)
	}
	return nil
}

func hasDotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// Fetch returns the checked document of clientID, from the cache while it
// is fresh. Errors wrap links.ErrBadDocument, with a text for the client's
// developer.
func (f *Fetcher) Fetch(ctx context.Context, clientID string) (Document, error) {
	if err := f.Accepts(clientID); err != nil {
		return Document{}, err
	}
	f.mu.Lock()
	e, ok := f.cache[clientID]
	f.mu.Unlock()
	if ok && f.now().Before(e.expires) {
		return e.doc, e.err
	}
	// One fetch for every concurrent caller, which the first caller's
	// going away does not cut short.
	v, err, _ := f.flight.Do(clientID, func() (any, error) {
		return f.fetchAndRemember(context.WithoutCancel(ctx), clientID)
	})
	if err != nil {
		return Document{}, err
	}
	return v.(Document), nil
}

// fetchAndRemember fetches and checks the document of clientID and caches
// it for as long as its Cache-Control allows, or the refusal for
// FailureTTL.
func (f *Fetcher) fetchAndRemember(ctx context.Context, clientID string) (Document, error) {
	doc, ttl, err := f.fetch(ctx, clientID)
	if err == nil {
		err = check(doc, clientID)
	}
	now := f.now()
	if err != nil {
		f.remember(clientID, entry{err: err, expires: now.Add(FailureTTL)}, now)
		return Document{}, err
	}
	if ttl > 0 {
		f.remember(clientID, entry{doc: doc, expires: now.Add(ttl)}, now)
	}
	return doc, nil
}

// remember caches a document, first dropping expired entries, then an
// arbitrary one, when the cache is full.
func (f *Fetcher) remember(clientID string, e entry, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.cache[clientID]; !ok && len(f.cache) >= MaxEntries {
		for k, old := range f.cache {
			if !now.Before(old.expires) {
				delete(f.cache, k)
			}
		}
		for k := range f.cache {
			if len(f.cache) < MaxEntries {
				break
			}
			delete(f.cache, k)
		}
	}
	f.cache[clientID] = e
}

// fetch GETs the document and returns it with how long it may be kept.
func (f *Fetcher) fetch(ctx context.Context, clientID string) (Document, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	if err != nil {
		return Document{}, 0, fmt.Errorf("%w: the client_id is not a URL", links.ErrBadDocument)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		// The cause stays unsaid: it would tell which addresses and
		// ports answer behind the gateway.
		return Document{}, 0, fmt.Errorf("%w: fetching it failed (unreachable, timed out, or an address this gateway does not connect to)", links.ErrBadDocument)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Document{}, 0, fmt.Errorf("%w: fetching it answered HTTP %d, want 200", links.ErrBadDocument, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return Document{}, 0, fmt.Errorf("%w: it is served as %q, want application/json", links.ErrBadDocument, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBytes+1))
	if err != nil {
		return Document{}, 0, fmt.Errorf("%w: reading it failed: %w", links.ErrBadDocument, err)
	}
	if len(body) > MaxBytes {
		return Document{}, 0, fmt.Errorf("%w: it is larger than %d KiB", links.ErrBadDocument, MaxBytes>>10)
	}
	var doc Document
	if err := json.Unmarshal(body, &doc); err != nil {
		return Document{}, 0, fmt.Errorf("%w: it is not a JSON object of client metadata", links.ErrBadDocument)
	}
	return doc, cacheTTL(resp.Header), nil
}

// cacheTTL is how long a response may be kept by its Cache-Control:
// none for no-store or no-cache, max-age up to MaxTTL, else DefaultTTL.
func cacheTTL(h http.Header) time.Duration {
	ttl := DefaultTTL
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(strings.ToLower(d)), "=")
			switch name {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				var secs int64
				if _, err := fmt.Sscan(strings.Trim(val, `"`), &secs); err == nil && secs >= 0 {
					ttl = min(time.Duration(secs)*time.Second, MaxTTL)
				}
			}
		}
	}
	return ttl
}

// check reports the first reason doc does not describe the client at
// clientID as a public client of the authorization code flow.
func check(doc Document, clientID string) error {
	switch {
	case doc.ClientID != clientID:
		return fmt.Errorf("%w: its client_id is %q, not the URL it was fetched from", links.ErrBadDocument, doc.ClientID)
	case doc.ClientSecret != "" || doc.ClientSecretExpiresAt != nil:
		return fmt.Errorf("%w: it must not contain a client_secret", links.ErrBadDocument)
	case doc.TokenEndpointAuthMethod != "" && doc.TokenEndpointAuthMethod != "none":
		return fmt.Errorf("%w: token_endpoint_auth_method must be none: such clients are public here", links.ErrBadDocument)
	case len(doc.GrantTypes) > 0 && !slices.Contains(doc.GrantTypes, "authorization_code"):
		return fmt.Errorf("%w: grant_types must include authorization_code", links.ErrBadDocument)
	case len(doc.ResponseTypes) > 0 && !slices.Contains(doc.ResponseTypes, "code"):
		return fmt.Errorf("%w: response_types must include code", links.ErrBadDocument)
	case len(doc.ClientName) > 200 || strings.ContainsFunc(doc.ClientName, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: client_name must be at most 200 characters without control characters", links.ErrBadDocument)
	}
	if err := links.ValidateRedirectURIs(doc.RedirectURIs); err != nil {
		return fmt.Errorf("%w: redirect_uris: %w", links.ErrBadDocument, err)
	}
	return nil
}

// Resolve fetches the document of clientID and describes the client for
// the links registry.
func (f *Fetcher) Resolve(ctx context.Context, clientID string) (links.DocumentClient, error) {
	doc, err := f.Fetch(ctx, clientID)
	if err != nil {
		return links.DocumentClient{}, err
	}
	return links.DocumentClient{ClientName: doc.ClientName, RedirectURIs: doc.RedirectURIs}, nil
}

// Interface guards
var _ links.Documents = (*Fetcher)(nil)
