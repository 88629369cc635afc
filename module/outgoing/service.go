package outgoing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
)

// Errors of Token.
var (
	// ErrNotConnected means there is no usable token: someone must connect
	// (again) at the provider.
	ErrNotConnected = errors.New("not connected")
	// ErrProviderUnavailable means the token expired and refreshing it
	// failed for a temporary reason (network, 5xx).
	ErrProviderUnavailable = errors.New("provider unavailable")
)

// ProviderLoader loads a provider module from its JSON (with its
// "provider" key), as the app's Caddy context does.
type ProviderLoader func(raw json.RawMessage) (Provider, error)

// Service connects outgoing links and keeps their provider tokens fresh.
type Service struct {
	links map[string]*Link // declared in the configuration
	store store.OutgoingStore
	keys  *secret.Keys
	load  ProviderLoader
	// declaredClients serve the declared links, by name; runtimeClient
	// those created at runtime, whose policy is runtimePolicy.
	declaredClients map[string]*http.Client
	runtimeClient   *http.Client
	runtimePolicy   Policy
	audit           *zap.Logger
	now             func() time.Time
	flight          singleflight.Group

	// consumer is the OAuth 1.0a consumer identity once loaded.
	consumerMu sync.Mutex
	consumer   *Consumer

	mu      sync.Mutex
	runtime map[string]*Link // runtime links loaded so far
	// forgotten counts runtime links dropped from the cache, so that a
	// load that raced with an update or delete does not cache what it read.
	forgotten uint64

	refreshed func(outcome string)
	// exclusive runs a refresh holding a lock of every gateway sharing
	// the store; changed tells them a runtime link changed. See
	// InCluster.
	exclusive func(ctx context.Context, name string, fn func(context.Context) error) error
	changed   func()
}

// InCluster makes the service one of several gateways sharing its store:
// a connection's token is refreshed under exclusive, a lock of all of
// them, so that one refreshes it at a time and the others find the token
// it stored; changed is called after a runtime link is edited or
// deleted, to tell the others to forget their copy (see ForgetRuntime).
func (s *Service) InCluster(exclusive func(ctx context.Context, name string, fn func(context.Context) error) error, changed func()) {
	s.exclusive, s.changed = exclusive, changed
}

// OnRefresh sets a function told the outcome of every refresh: ok,
// recoverable or unrecoverable (for metrics).
func (s *Service) OnRefresh(f func(outcome string)) { s.refreshed = f }

// Reach is which addresses the service's links may connect to.
type Reach struct {
	// Denied are addresses no link may connect to, declared or not: those
	// Caddy's admin endpoint listens on.
	Denied []netip.AddrPort
	// PrivateRuntime lets links created at runtime (admin UI and API)
	// reach loopback and private addresses, as declared links may: the
	// operator's allow_private_endpoints.
	PrivateRuntime bool
}

// NewService returns the service of the declared links and of those
// created at runtime in st, whose providers it loads with load. A declared
// link may reach loopback and private addresses at the hosts its
// configuration names (its issuer or endpoints), and only there; runtime
// links nowhere but public addresses unless reach.PrivateRuntime; no link
// reaches reach.Denied.
func NewService(links []*Link, st store.OutgoingStore, keys *secret.Keys, load ProviderLoader, audit *zap.Logger, now func() time.Time, reach Reach) *Service {
	runtime := Policy{Private: reach.PrivateRuntime, Denied: reach.Denied}
	s := &Service{
		links: map[string]*Link{}, store: st, keys: keys, load: load,
		declaredClients: map[string]*http.Client{}, runtimeClient: NewClient(30*time.Second, runtime), runtimePolicy: runtime,
		audit: audit, now: now, runtime: map[string]*Link{}, refreshed: func(string) {},
		exclusive: func(ctx context.Context, _ string, fn func(context.Context) error) error { return fn(ctx) },
		changed:   func() {},
	}
	for _, l := range links {
		s.links[l.Name] = l
		declared := Policy{PrivateOrigins: l.configuredURLs(), Denied: reach.Denied}
		s.declaredClients[l.Name] = NewClient(30*time.Second, declared)
	}
	return s
}

// configuredURLs returns the URLs a declared link was configured with,
// placeholders resolved: an OAuth 1.0a link's application URL, or its
// provider module's issuer and every *_endpoint of its JSON form.
func (l *Link) configuredURLs() []string {
	if l.OAuth1 != nil {
		return []string{l.OAuth1.ApplicationURL}
	}
	raw, err := json.Marshal(l.Provider)
	if err != nil {
		return nil
	}
	var settings map[string]any
	if json.Unmarshal(raw, &settings) != nil {
		return nil
	}
	return providerURLs(settings)
}

// providerURLs returns the issuer and *_endpoint strings of a provider's
// settings.
func providerURLs(settings map[string]any) []string {
	var urls []string
	for k, v := range settings {
		if str, ok := v.(string); ok && str != "" && (k == "issuer" || strings.HasSuffix(k, "_endpoint")) {
			urls = append(urls, str)
		}
	}
	slices.Sort(urls)
	return urls
}

// client returns the HTTP client of link l: a declared link's may reach
// loopback and private addresses at the hosts it names, a runtime link's
// follows the runtime policy.
func (s *Service) client(l *Link) *http.Client {
	if d, ok := s.links[l.Name]; ok && d == l {
		return s.declaredClients[l.Name]
	}
	return s.runtimeClient
}

// CheckRuntimeEndpoint reports whether raw may be an endpoint or issuer
// of a link created at runtime: CheckEndpoint, and no loopback or private
// address unless allow_private_endpoints, nor Caddy's admin endpoint.
// Host names are judged again, resolved, when the gateway connects.
func (s *Service) CheckRuntimeEndpoint(raw string) error {
	return s.runtimePolicy.Check(raw)
}

func (s *Service) seal(c *store.Connection, tok *oauth2.Token) error {
	raw, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("encoding provider token: %w", err)
	}
	c.Sealed = s.keys.Seal(raw, connectionBinding(c.LinkID, c.UserID))
	c.Expiry = tok.Expiry.UTC()
	return nil
}

func (s *Service) open(c store.Connection) (*oauth2.Token, error) {
	raw, err := s.keys.Open(c.Sealed, connectionBinding(c.LinkID, c.UserID))
	if err != nil {
		return nil, fmt.Errorf("opening provider token: %w", err)
	}
	var tok oauth2.Token
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, fmt.Errorf("decoding provider token: %w", err)
	}
	return &tok, nil
}

// connectionBinding is the additional data a connection's provider token
// is sealed with, so that it opens only as that link's for that user.
func connectionBinding(linkID, userID string) []byte {
	return []byte("connection " + linkID + "\x00" + userID)
}
