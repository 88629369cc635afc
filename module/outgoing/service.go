package outgoing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/returnto"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Statuses of a connection (Atlassian's names).
const (
	StatusValid         = "VALID"
	StatusRecoverable   = "RECOVERABLE"
	StatusUnrecoverable = "UNRECOVERABLE"
)

// Paths of the outgoing authorization.
const (
	ConnectPrefix  = "/applinks/connect/"
	CallbackPrefix = "/applinks/callback/"
)

const (
	pendingTTL = 10 * time.Minute
	// Skew: a token this close to its expiry is refreshed first (Atlassian
	// allows 60 s of clock skew).
	Skew = time.Minute
	// shortLifetime: a provider that gives no refresh token and an access
	// token living less than this gets a warning at connect time.
	shortLifetime = 24 * time.Hour
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

// ErrReadOnly means the link is declared in the configuration.
var ErrReadOnly = errors.New("outgoing link is declared in the configuration and read-only")

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

	mu      sync.Mutex
	runtime map[string]*Link // runtime links loaded so far
	// forgotten counts runtime links dropped from the cache, so that a
	// load that raced with an update or delete does not cache what it read.
	forgotten uint64

	refreshed func(outcome string)
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
	}
	for _, l := range links {
		s.links[l.Name] = l
		declared := Policy{PrivateOrigins: configuredURLs(l.Provider), Denied: reach.Denied}
		s.declaredClients[l.Name] = NewClient(30*time.Second, declared)
	}
	return s
}

// configuredURLs returns the URLs a provisioned provider module was
// configured with, placeholders resolved: its issuer and every
// *_endpoint of its JSON form.
func configuredURLs(p Provider) []string {
	raw, err := json.Marshal(p)
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

// Link returns the outgoing link with the given name, declared or created
// at runtime; store.ErrNotFound when there is none.
func (s *Service) Link(ctx context.Context, name string) (*Link, error) {
	if l, ok := s.links[name]; ok {
		return l, nil
	}
	s.mu.Lock()
	l, ok := s.runtime[name]
	seen := s.forgotten
	s.mu.Unlock()
	if ok {
		return l, nil
	}
	ol, err := s.store.GetOutgoingLink(ctx, name)
	if err != nil {
		return nil, err
	}
	l, err = s.fromStore(ol)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.forgotten == seen {
		s.runtime[name] = l
	}
	s.mu.Unlock()
	return l, nil
}

// forget drops a runtime link from the cache, so the next Link call reads
// it from the store.
func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.runtime, name)
	s.forgotten++
	s.mu.Unlock()
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

// Declared reports whether the outgoing link name is declared in the
// configuration (and so read-only).
func (s *Service) Declared(name string) bool {
	_, ok := s.links[name]
	return ok
}

// Names returns the names of the declared and runtime outgoing links,
// declared first, each group by name.
func (s *Service) Names(ctx context.Context) ([]string, error) {
	names := make([]string, 0, len(s.links))
	for n := range s.links {
		names = append(names, n)
	}
	slices.Sort(names)
	stored, err := s.store.ListOutgoingLinks(ctx)
	if err != nil {
		return nil, err
	}
	for _, ol := range stored {
		names = append(names, ol.Name)
	}
	return names, nil
}

// NewOutgoing is what an administrator enters to create an outgoing link.
type NewOutgoing struct {
	ConfigLink
	CreatedBy string
}

// Create checks and stores a runtime outgoing link, its client secret
// sealed.
func (s *Service) Create(ctx context.Context, in NewOutgoing) (*Link, error) {
	if _, ok := s.links[in.Name]; ok {
		return nil, fmt.Errorf("outgoing link %q: %w", in.Name, store.ErrAlreadyExists)
	}
	if in.ProviderRaw == nil {
		return nil, fmt.Errorf("outgoing link %q: a provider is required", in.Name)
	}
	p, err := s.loadRuntime(in.ProviderRaw)
	if err == nil {
		err = s.checkRuntimeURLs(in.ProviderRaw)
	}
	if err != nil {
		return nil, fmt.Errorf("outgoing link %q: provider: %w", in.Name, err)
	}
	l, err := NewLink(in.ConfigLink, p)
	if err != nil {
		return nil, err
	}
	ol := store.OutgoingLink{Name: l.Name, Provider: in.ProviderRaw, ClientID: l.ClientID, Scopes: l.Scopes, Mode: l.Mode, CreatedAt: s.now().UTC(), CreatedBy: in.CreatedBy}
	if l.ClientSecret != "" {
		ol.SealedSecret = s.keys.Seal([]byte(l.ClientSecret), secretBinding(l.Name))
	}
	if err := s.store.CreateOutgoingLink(ctx, ol); err != nil {
		return nil, err
	}
	s.audit.Info("outgoing link created", zap.String("link", l.Name), zap.String("by", in.CreatedBy))
	return l, nil
}

// Delete removes a runtime outgoing link with every connection of it.
func (s *Service) Delete(ctx context.Context, name, by string) error {
	if _, ok := s.links[name]; ok {
		return ErrReadOnly
	}
	if err := s.store.DeleteOutgoingLink(ctx, name); err != nil {
		return err
	}
	s.forget(name)
	s.audit.Info("outgoing link deleted", zap.String("link", name), zap.String("by", by))
	return nil
}

// EditOutgoing is what an administrator may change on a runtime outgoing
// link; its name, provider and connections stay.
type EditOutgoing struct {
	// ClientID is the gateway's client id at the provider. Required.
	ClientID string
	// ClientSecret replaces the client secret; empty keeps the current one.
	ClientSecret string
	// Scopes to ask the provider for.
	Scopes []string
	// Mode is per_user or shared. Default: per_user.
	Mode string
}

// Update changes a runtime outgoing link's client credentials, scopes and
// mode, checked as for a new link; its provider and connections stay. A
// new secret is sealed like Create seals it. The next Link call returns
// the updated link.
func (s *Service) Update(ctx context.Context, name string, in EditOutgoing, by string) (*Link, error) {
	if _, ok := s.links[name]; ok {
		return nil, ErrReadOnly
	}
	mode, err := checkClient(ConfigLink{Name: name, ClientID: in.ClientID, Mode: in.Mode})
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if in.ClientSecret != "" {
		sealed = s.keys.Seal([]byte(in.ClientSecret), secretBinding(name))
	}
	_, err = s.store.UpdateOutgoingLink(ctx, name, func(l *store.OutgoingLink) error {
		l.ClientID, l.Scopes, l.Mode = in.ClientID, slices.Clone(in.Scopes), mode
		if sealed != nil {
			l.SealedSecret = sealed
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.forget(name)
	s.audit.Info("outgoing link updated", zap.String("link", name), zap.String("client_id", in.ClientID), zap.String("mode", mode), zap.Bool("secret_replaced", sealed != nil), zap.String("by", by))
	return s.Link(ctx, name)
}

// Probe loads a provider module from its JSON (with its "provider" key)
// and resolves its endpoints as connecting a runtime link does, through
// the client of runtime links (no loopback or private address unless
// allow_private_endpoints, never Caddy's admin endpoint). It lets an
// administrator check that a provider (such as another gateway's RFC 8414
// metadata) answers before saving a link. A refused endpoint's error wraps
// ErrRefused, an unreachable one's ErrProviderUnavailable.
func (s *Service) Probe(ctx context.Context, providerRaw json.RawMessage) (oauth2.Endpoint, error) {
	if providerRaw == nil {
		return oauth2.Endpoint{}, errors.New("a provider is required")
	}
	p, err := s.loadRuntime(providerRaw)
	if err == nil {
		err = s.checkRuntimeURLs(providerRaw)
	}
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("provider: %w", err)
	}
	ep, err := p.Endpoint(ctx, s.runtimeClient)
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	return ep, nil
}

// ErrPlaceholder means a provider created at runtime holds a Caddy
// placeholder such as {env.X}: provider modules expand those, so an
// administrator could read the server's environment or files through them.
var ErrPlaceholder = errors.New("'{' and '}' are not allowed here: placeholders such as {env.NAME} work only in the Caddyfile")

// loadRuntime loads the provider of a link created at runtime, refusing
// placeholders in its settings.
func (s *Service) loadRuntime(raw json.RawMessage) (Provider, error) {
	var settings any
	if err := json.Unmarshal(raw, &settings); err != nil {
		return nil, fmt.Errorf("decoding the provider: %w", err)
	}
	if hasPlaceholder(settings) {
		return nil, ErrPlaceholder
	}
	return s.load(raw)
}

// checkRuntimeURLs checks, with CheckRuntimeEndpoint, the URLs in the
// settings of a provider created at runtime: its issuer and every
// *_endpoint. Refusing them here gives the administrator the reason at
// once; the runtime client refuses them again when connecting.
func (s *Service) checkRuntimeURLs(raw json.RawMessage) error {
	var settings map[string]any
	if err := json.Unmarshal(raw, &settings); err != nil {
		return fmt.Errorf("decoding the provider: %w", err)
	}
	for _, u := range providerURLs(settings) {
		if err := s.CheckRuntimeEndpoint(u); err != nil {
			return err
		}
	}
	return nil
}

// CheckNoPlaceholder returns ErrPlaceholder when value, a setting of a
// provider created at runtime, has a brace in it.
func CheckNoPlaceholder(value string) error {
	if strings.ContainsAny(value, "{}") {
		return ErrPlaceholder
	}
	return nil
}

// hasPlaceholder reports whether a decoded JSON value has a string that
// CheckNoPlaceholder refuses.
func hasPlaceholder(v any) bool {
	switch t := v.(type) {
	case string:
		return CheckNoPlaceholder(t) != nil
	case []any:
		return slices.ContainsFunc(t, hasPlaceholder)
	case map[string]any:
		for _, e := range t {
			if hasPlaceholder(e) {
				return true
			}
		}
	}
	return false
}

// secretBinding is the additional data a runtime link's client secret is
// sealed with, so a sealed secret opens only as that link's.
func secretBinding(name string) []byte { return []byte("outgoing link " + name) }

// fromStore rebuilds a runtime link: its provider module and secret.
func (s *Service) fromStore(ol store.OutgoingLink) (*Link, error) {
	p, err := s.loadRuntime(ol.Provider)
	if err != nil {
		return nil, fmt.Errorf("outgoing link %q: provider: %w", ol.Name, err)
	}
	var sec []byte
	if ol.SealedSecret != nil {
		if sec, err = s.keys.Open(ol.SealedSecret, secretBinding(ol.Name)); err != nil {
			return nil, fmt.Errorf("outgoing link %q: %w", ol.Name, err)
		}
	}
	return NewLink(ConfigLink{Name: ol.Name, ClientID: ol.ClientID, ClientSecret: string(sec), Scopes: ol.Scopes, Mode: ol.Mode}, p)
}

// Endpoint returns the authorization and token endpoints the link uses,
// resolved (discovered, for an issuer) as connecting it does, through the
// link's own client. An unreachable provider's error wraps
// ErrProviderUnavailable.
func (s *Service) Endpoint(ctx context.Context, l *Link) (oauth2.Endpoint, error) {
	ep, err := l.Provider.Endpoint(ctx, s.client(l))
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	return ep, nil
}

// oauthConfig is the OAuth 2.0 client configuration of a link.
func (s *Service) oauthConfig(ctx context.Context, l *Link, issuer string) (*oauth2.Config, error) {
	ep, err := l.Provider.Endpoint(ctx, s.client(l))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	return &oauth2.Config{
		ClientID:     l.ClientID,
		ClientSecret: l.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  issuer + CallbackPrefix + l.Name,
		Scopes:       l.Provider.Scopes(l.Scopes),
	}, nil
}

// Start stores a pending authorization for user (empty for a shared link)
// and returns the provider URL to send the browser to. returnTo is kept
// only if returnto accepts it.
func (s *Service) Start(ctx context.Context, l *Link, userID, issuer, returnTo string) (string, error) {
	conf, err := s.oauthConfig(ctx, l, issuer)
	if err != nil {
		return "", err
	}
	state, verifier := token.New(token.Session), oauth2.GenerateVerifier()
	now := s.now().UTC()
	err = s.store.CreatePending(ctx, store.Pending{
		StateHash:      token.Hash(state),
		LinkID:         l.Name,
		UserID:         userID,
		SealedVerifier: s.keys.Seal([]byte(verifier), []byte("pending "+l.Name)),
		ReturnTo:       returnto.Path(returnTo),
		CreatedAt:      now,
		ExpiresAt:      now.Add(pendingTTL),
	})
	if err != nil {
		return "", fmt.Errorf("storing pending authorization: %w", err)
	}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, l.Provider.AuthCodeOptions()...)
	return conf.AuthCodeURL(state, opts...), nil
}

// CallbackError is a refused callback, with a message for people.
type CallbackError struct {
	Status  int
	Message string
}

func (e *CallbackError) Error() string { return e.Message }

// Caller is who brings the provider's answer to the callback: the person
// signed in to the gateway in that browser.
type Caller struct {
	UserID string
	Admin  bool
}

// Finish completes an authorization at the callback: it takes the pending
// authorization of the state (once), checks that the caller is who started
// it (RFC 6749 §10.12: an answer carried to another user's browser must
// not connect an account to the wrong user), that its iss, if any, is the
// provider's (RFC 9207), exchanges the code and stores
// the provider's token. It returns the pending authorization (who
// connected, where to return) and a warning for people, if any. Nothing is
// stored when it fails.
func (s *Service) Finish(ctx context.Context, l *Link, q url.Values, issuer string, caller Caller) (store.Pending, string, error) {
	state := q.Get("state")
	if !token.Valid(state, token.Session) {
		return store.Pending{}, "", &CallbackError{http.StatusBadRequest, "The answer from the provider has no valid state: start connecting again."}
	}
	p, err := s.store.TakePending(ctx, token.Hash(state))
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.LinkID != l.Name) {
		return store.Pending{}, "", &CallbackError{http.StatusBadRequest, "This answer from the provider expired or was already used: start connecting again."}
	}
	if err != nil {
		return store.Pending{}, "", err
	}
	if (l.Mode == ModePerUser && (caller.UserID == "" || caller.UserID != p.UserID)) || (l.Mode == ModeShared && !caller.Admin) {
		return p, "", &CallbackError{http.StatusForbidden, "This authorization was started by someone else or in another browser: sign in to the gateway and start connecting again from here."}
	}
	if foreignIssuer(l, q) {
		s.audit.Info("outgoing authorization from another issuer refused", zap.String("link", l.Name), zap.String("user", p.UserID))
		return p, "", &CallbackError{http.StatusBadRequest, "The answer names another issuer than the provider of this link (mix-up): start connecting again."}
	}
	if e := q.Get("error"); e != "" {
		return p, "", &CallbackError{http.StatusBadGateway, fmt.Sprintf("The provider refused the authorization: %s %s", e, q.Get("error_description"))}
	}
	verifier, err := s.keys.Open(p.SealedVerifier, []byte("pending "+l.Name))
	if err != nil {
		return p, "", err
	}
	conf, err := s.oauthConfig(ctx, l, issuer)
	if err != nil {
		return p, "", &CallbackError{http.StatusBadGateway, "The provider cannot be reached right now."}
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.client(l)), q.Get("code"), oauth2.VerifierOption(string(verifier)))
	if err != nil {
		s.audit.Info("outgoing authorization failed", zap.String("link", l.Name), zap.String("user", p.UserID), zap.String("reason", oautherror.ClientErrorText(err)))
		if strings.Contains(err.Error(), "missing access_token") {
			return p, "", &CallbackError{http.StatusBadGateway, "The provider's answer has no access token."}
		}
		return p, "", &CallbackError{http.StatusBadGateway, "The provider did not accept the authorization code."}
	}
	now := s.now().UTC()
	c := store.Connection{LinkID: l.Name, UserID: p.UserID, Status: StatusValid, Generation: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.seal(&c, tok); err != nil {
		return p, "", err
	}
	if err := s.store.PutConnection(ctx, c); err != nil {
		return p, "", fmt.Errorf("storing connection: %w", err)
	}
	s.audit.Info("outgoing link connected", zap.String("link", l.Name), zap.String("user", p.UserID))
	var warning string
	if tok.RefreshToken == "" && (tok.Expiry.IsZero() || tok.Expiry.Sub(now) < shortLifetime) {
		warning = "The refresh token is not present and the access token lifetime is too short: connect again when it expires, or configure the provider to issue refresh tokens (offline access)."
	}
	return p, warning, nil
}

// Token returns a usable access token of the link for user (empty for a
// shared link), refreshing it first when it expires within Skew. Of many
// concurrent callers, one refreshes.
func (s *Service) Token(ctx context.Context, l *Link, userID string) (string, error) {
	c, err := s.store.GetConnection(ctx, l.Name, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotConnected
	}
	if err != nil {
		return "", err
	}
	tok, err := s.open(c)
	if err != nil {
		return "", err
	}
	if c.Status == StatusUnrecoverable {
		return "", ErrNotConnected
	}
	now := s.now()
	if fresh(tok, now) {
		return tok.AccessToken, nil
	}
	if c.Status == StatusRecoverable && now.Before(c.RetryAt) {
		// Backing off: no call to the provider before RetryAt.
		if tok.Expiry.IsZero() || now.Before(tok.Expiry) {
			return tok.AccessToken, nil
		}
		return "", ErrProviderUnavailable
	}
	v, err, _ := s.flight.Do(l.Name+"\x00"+userID, func() (any, error) {
		return s.refresh(context.WithoutCancel(ctx), l, userID)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// Refresh renews the token now (background refresher, admin action),
// one at a time per connection.
func (s *Service) Refresh(ctx context.Context, l *Link, userID string) error {
	_, err, _ := s.flight.Do(l.Name+"\x00"+userID, func() (any, error) {
		return s.refresh(ctx, l, userID)
	})
	return err
}

// refresh renews a connection's token and records the outcome.
func (s *Service) refresh(ctx context.Context, l *Link, userID string) (string, error) {
	c, err := s.store.GetConnection(ctx, l.Name, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotConnected
	}
	if err != nil {
		return "", err
	}
	old, err := s.open(c)
	if err != nil {
		return "", err
	}
	now := s.now()
	if c.Status != StatusUnrecoverable && fresh(old, now) {
		return old.AccessToken, nil // refreshed by someone else meanwhile
	}
	if old.RefreshToken == "" {
		s.setStatus(ctx, c, StatusUnrecoverable, "the access token expired and the provider gave no refresh token")
		return "", ErrNotConnected
	}
	conf, err := s.oauthConfig(ctx, l, "")
	var tok *oauth2.Token
	if err == nil {
		expired := *old
		expired.Expiry = now.Add(-time.Hour) // make the token source refresh
		tok, err = conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, s.client(l)), &expired).Token()
	}
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && permanent(re) {
			s.setStatus(ctx, c, StatusUnrecoverable, "the provider refused the refresh token: "+re.ErrorCode)
			return "", ErrNotConnected
		}
		s.setStatus(ctx, c, StatusRecoverable, "refreshing failed for a temporary reason: "+oautherror.ClientErrorText(err))
		if old.Expiry.IsZero() || now.Before(old.Expiry) {
			return old.AccessToken, nil // still usable for now
		}
		return "", ErrProviderUnavailable
	}
	if tok.AccessToken == "" {
		s.setStatus(ctx, c, StatusRecoverable, "the provider's answer had no access token")
		return "", ErrProviderUnavailable
	}
	_, err = s.store.UpdateConnection(ctx, l.Name, userID, func(cur *store.Connection) error {
		cur.Status, cur.LastError, cur.Failures, cur.RetryAt = StatusValid, "", 0, time.Time{}
		cur.Generation++
		cur.UpdatedAt = s.now().UTC()
		return s.seal(cur, tok)
	})
	if err != nil {
		return "", fmt.Errorf("storing refreshed token: %w", err)
	}
	s.refreshed("ok")
	if ce := s.audit.Check(zap.InfoLevel, "outgoing token refreshed"); ce != nil {
		ce.Write(zap.String("link", l.Name), zap.String("user", userID))
	}
	return tok.AccessToken, nil
}

// setStatus records a failed refresh; a recoverable one is retried with
// exponential backoff (capped at 15 minutes).
func (s *Service) setStatus(ctx context.Context, c store.Connection, status, why string) {
	s.refreshed(strings.ToLower(status))
	now := s.now().UTC()
	_, err := s.store.UpdateConnection(ctx, c.LinkID, c.UserID, func(cur *store.Connection) error {
		cur.Status, cur.LastError, cur.UpdatedAt = status, why, now
		cur.Failures++
		backoff := min(time.Duration(1<<min(cur.Failures, 10))*time.Second, 15*time.Minute)
		cur.RetryAt = now.Add(backoff)
		return nil
	})
	if err != nil {
		s.audit.Error("recording outgoing token status", zap.String("link", c.LinkID), zap.Error(err))
		return
	}
	s.audit.Warn("outgoing token refresh failed", zap.String("link", c.LinkID), zap.String("user", c.UserID), zap.String("status", status), zap.String("reason", why))
}

// RefreshDue refreshes, in the background, every connection whose token
// expires within lead and whose retry time has come.
func (s *Service) RefreshDue(ctx context.Context, lead time.Duration) {
	conns, err := s.store.ListConnections(ctx, store.ConnectionFilter{})
	if err != nil {
		s.audit.Error("listing outgoing connections", zap.Error(err))
		return
	}
	now := s.now()
	for _, c := range conns {
		if c.Status == StatusUnrecoverable || c.Expiry.IsZero() || c.Expiry.Sub(now) > lead || now.Before(c.RetryAt) {
			continue
		}
		l, err := s.Link(ctx, c.LinkID)
		if err != nil {
			continue
		}
		_ = s.Refresh(ctx, l, c.UserID)
	}
}

// Status returns the status of the link's connection for user: VALID,
// RECOVERABLE, UNRECOVERABLE, or "" when not connected.
func (s *Service) Status(ctx context.Context, l *Link, userID string) (string, error) {
	c, err := s.store.GetConnection(ctx, l.Name, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return c.Status, err
}

func (s *Service) seal(c *store.Connection, tok *oauth2.Token) error {
	raw, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("encoding provider token: %w", err)
	}
	c.Sealed = s.keys.Seal(raw, []byte("connection "+c.LinkID+"\x00"+c.UserID))
	c.Expiry = tok.Expiry.UTC()
	return nil
}

func (s *Service) open(c store.Connection) (*oauth2.Token, error) {
	raw, err := s.keys.Open(c.Sealed, []byte("connection "+c.LinkID+"\x00"+c.UserID))
	if err != nil {
		return nil, fmt.Errorf("opening provider token: %w", err)
	}
	var tok oauth2.Token
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, fmt.Errorf("decoding provider token: %w", err)
	}
	return &tok, nil
}

// permanent reports whether a refused refresh needs someone to connect
// again: the provider rejected the grant or the client (a 4xx other than
// 408 Request Timeout and 429 Too Many Requests, which are temporary).
func permanent(re *oauth2.RetrieveError) bool {
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return true
	case "temporarily_unavailable", "server_error":
		return false
	}
	if re.Response == nil {
		return false
	}
	code := re.Response.StatusCode
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// fresh reports whether tok is usable for longer than Skew.
func fresh(tok *oauth2.Token, now time.Time) bool {
	return tok.AccessToken != "" && (tok.Expiry.IsZero() || tok.Expiry.Sub(now) > Skew)
}
