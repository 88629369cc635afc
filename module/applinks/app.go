// Package applinks is the `applinks` Caddy app: it owns the store, the link
// registry, the token service, users and sessions that the gateway's HTTP
// handlers share, and survives config reloads by sharing the opened store.
package applinks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1/provider"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/ratelimit"
	"github.com/applinks/caddy-applinks/module/resource"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
	"github.com/applinks/caddy-applinks/module/web"
)

func init() {
	caddy.RegisterModule(new(App))
}

// Default lifetimes.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 90 * 24 * time.Hour
	DefaultCodeTTL         = 60 * time.Second
	DefaultRefreshGrace    = 10 * time.Second
	DefaultReplayMemory    = 30 * time.Minute
	DefaultSessionTTL      = 12 * time.Hour
)

// gcInterval is how often the store deletes expired records.
const gcInterval = 5 * time.Minute

// App is the applinks app: one per Caddy instance.
type App struct {
	// StorageRaw selects the storage backend. Default: badger in Caddy's
	// data directory + /applinks.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=applinks.storage inline_key=backend"`
	// SecretKey is a passphrase (≥ 32 characters) from which the key that
	// encrypts secrets at rest is derived; placeholders such as {env.X} are
	// resolved. Default: a random key kept in a 0600 file beside the data.
	SecretKey string `json:"secret_key,omitempty"`
	// PreviousSecretKeys are passphrases of at-rest keys being rotated
	// out: values they sealed still open (and their anti-CSRF tokens and
	// cookies still pass), are re-sealed with the current key in the
	// background, and nothing new is sealed with them. Placeholders are
	// resolved. Default: none.
	PreviousSecretKeys []string `json:"previous_secret_keys,omitempty"`
	// PreviousKeyFiles are key files (32 bytes, mode 0600) of at-rest
	// keys being rotated out, like PreviousSecretKeys; a file must exist.
	// Default: none.
	PreviousKeyFiles []string `json:"previous_key_files,omitempty"`
	// Issuer is the gateway's public base URL, e.g. https://app.example.com.
	// Default: the scheme and host of each request.
	Issuer string `json:"issuer,omitempty"`
	// AccessTokenTTL is the lifetime of access tokens. Default: 1h.
	AccessTokenTTL caddy.Duration `json:"access_token_ttl,omitempty"`
	// RefreshTokenTTL is the lifetime of refresh tokens. Default: 90d.
	RefreshTokenTTL caddy.Duration `json:"refresh_token_ttl,omitempty"`
	// CodeTTL is the lifetime of authorization codes. Default: 60s.
	CodeTTL caddy.Duration `json:"code_ttl,omitempty"`
	// RefreshGrace is how long a used refresh token may be presented again
	// without being taken for a replay. Default: 10s.
	RefreshGrace caddy.Duration `json:"refresh_grace,omitempty"`
	// SessionTTL is how long a sign-in session lasts. Default: 12h.
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`
	// OAuth1TokenTTL is the lifetime of the access tokens of OAuth 1.0a
	// consumers, which do not refresh. Default: 5 years (43800h), as
	// Atlassian's products issue them.
	OAuth1TokenTTL caddy.Duration `json:"oauth1_token_ttl,omitempty"`
	// OAuth1TimestampWindow is how far the oauth_timestamp of a signed
	// request may be from the gateway's clock, either way; nonces are
	// remembered that long. Default: 5m.
	OAuth1TimestampWindow caddy.Duration `json:"oauth1_timestamp_window,omitempty"`
	// SecretOverlap is how long a rotated-out client secret stays valid.
	// Default: 24h.
	SecretOverlap caddy.Duration `json:"secret_overlap,omitempty"`
	// MaxStaleValidation is how long the guard honours a cached token
	// validation while it cannot hear the revocations of the other
	// gateways sharing the store (cluster mode, its connection to the
	// database lost). Default: 0 (every request is checked against the
	// store then).
	MaxStaleValidation caddy.Duration `json:"max_stale_validation,omitempty"`
	// IDTokenAlgorithm signs OpenID Connect ID tokens: ES256 or RS256 (for
	// old clients; an RSA signature costs about 25 times more CPU).
	// Default: ES256.
	IDTokenAlgorithm string `json:"id_token_algorithm,omitempty"`
	// LocalUsers are local users declared in the configuration.
	LocalUsers []users.ConfigUser `json:"users,omitempty"`
	// Logins are OpenID Connect providers people can sign in with.
	Logins []users.OIDCConfig `json:"login_oidc,omitempty"`
	// Outgoing are outgoing links declared in the configuration.
	OutgoingLinks []outgoing.ConfigLink `json:"outgoing,omitempty"`
	// Incoming are incoming links declared in the configuration.
	Incoming []links.ConfigLink `json:"incoming,omitempty"`
	// DynamicRegistration turns on dynamic client registration (RFC
	// 7591). Default: off.
	DynamicRegistration *RegistrationConfig `json:"registration,omitempty"`
	// Documents turns on client ID metadata documents: https URLs as
	// client ids. Default: off.
	Documents *DocumentsConfig `json:"client_id_metadata_documents,omitempty"`
	// AllowPrivateEndpoints lets outgoing links created at runtime (admin
	// UI and API) reach providers on loopback and private addresses, as
	// links declared in the configuration may. Caddy's admin endpoint is
	// refused whatever this says. Default: false (public addresses only).
	AllowPrivateEndpoints bool `json:"allow_private_endpoints,omitempty"`

	backend  store.Backend
	store    store.Store // a lazyStore until opened; see open
	keys     *secret.Keys
	links    *links.Registry
	users    *users.Directory
	sessions *users.Sessions
	oidc     *users.OIDCLogin
	outgoing *outgoing.Service
	loadMu   sync.Mutex
	metrics  *Metrics
	activity *Activity
	grants   *grants.Service
	epoch    *grants.Epoch
	tokens   *grants.Validator
	oauth1   *provider.Service
	keyring  *signing.Keyring
	// shared is the store when other gateways share it; nil otherwise.
	shared store.Shared
	pages  *web.Pages
	limits Limits
	// holdsLimits is whether this config counts as a user of limitsPool.
	holdsLimits bool
	logger      *zap.Logger
	audit       *zap.Logger
	ctx         caddy.Context
	// opening is what open does once; see opening.go.
	opening opening
	// resources are what the guards of this config protect; see
	// resources.go.
	resources resource.Set
	// resealing is the state of the background re-seal of a rotation of
	// the at-rest key; see reseal.go.
	resealing resealing
}

// Limits are the rate limiters of sign-in and the token endpoint.
type Limits struct {
	// LoginByAddress limits sign-in attempts per client address.
	LoginByAddress *ratelimit.Limiter
	// LoginByUser limits sign-in attempts per user name.
	LoginByUser *ratelimit.Limiter
	// ClientFailures limits failed client authentications per address
	// (an IPv6 /64 counts as one address).
	ClientFailures *ratelimit.Limiter
	// ClientFailuresByID limits failed client authentications per
	// client_id, against guessing from many addresses. It does not apply
	// to an address that authenticated as that client lately
	// (KnownClients), so such a flood cannot lock the real client out.
	ClientFailuresByID *ratelimit.Limiter
	// KnownSignIns remembers the user names and addresses of recent
	// sign-ins; LoginByUser does not hold them back.
	KnownSignIns *ratelimit.Limiter
	// KnownClients remembers the client ids and addresses of recent
	// successful client authentications.
	KnownClients *ratelimit.Limiter
	// PasswordChecks bounds concurrent password (bcrypt) checks to half
	// the CPUs, at least one.
	PasswordChecks *ratelimit.Gate
}

// newLimits returns the limits with their fixed sizes; every table is
// bounded and evicts its least recently seen key when full.
func newLimits() Limits {
	return Limits{
		LoginByAddress:     ratelimit.New(6*time.Second, 20, 100_000),
		LoginByUser:        ratelimit.New(12*time.Second, 10, 100_000),
		ClientFailures:     ratelimit.New(time.Second, 50, 100_000),
		ClientFailuresByID: ratelimit.New(500*time.Millisecond, 100, 100_000),
		KnownClients:       ratelimit.New(time.Hour, 1, 100_000),
		KnownSignIns:       ratelimit.New(time.Hour, 1, 100_000),
		PasswordChecks:     ratelimit.NewGate(runtime.NumCPU()/2, 4*runtime.NumCPU(), 2*time.Second),
	}
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "applinks",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision checks the configuration and builds the services. It opens no
// database and writes no file, so that `caddy validate` works while the
// gateway runs: the store is opened and a new key file written by Start,
// or by a request that comes first.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	a.audit = a.logger.Named("audit")
	a.setDefaults()
	repl := caddy.NewReplacer()

	var mod any
	var err error
	if a.StorageRaw != nil {
		mod, err = ctx.LoadModule(a, "StorageRaw")
	} else {
		mod, err = ctx.LoadModuleByID("applinks.storage.badger", json.RawMessage("{}"))
	}
	if err != nil {
		return fmt.Errorf("loading storage: %w", err)
	}
	backend, ok := mod.(store.Backend)
	if !ok {
		return fmt.Errorf("storage module %T is not a store.Backend", mod)
	}
	a.backend = backend
	// The storage module is cleaned up (releasing the store it opened) by
	// Caddy with the other modules of this config.
	a.store = &lazyStore{open: a.open}

	if a.keys, err = a.loadKeys(repl); err != nil {
		return err
	}
	if a.Issuer, err = repl.ReplaceOrErr(a.Issuer, false, true); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	a.Issuer = strings.TrimSuffix(a.Issuer, "/")

	declaredUsers := make([]users.ConfigUser, len(a.LocalUsers))
	for i, u := range a.LocalUsers {
		if u.Password, err = repl.ReplaceOrErr(u.Password, true, true); err != nil {
			return fmt.Errorf("user %q: password: %w", u.Name, err)
		}
		declaredUsers[i] = u
	}
	if a.limits, err = acquireLimits(); err != nil {
		return err
	}
	a.holdsLimits = true
	if a.users, err = users.NewDirectory(a.store, declaredUsers, a.limits.PasswordChecks); err != nil {
		return err
	}
	declaredLinks := make([]links.ConfigLink, len(a.Incoming))
	for i, l := range a.Incoming {
		if l.OAuth1 != nil {
			if l, err = resolveConsumer(repl, l); err != nil {
				return err
			}
			declaredLinks[i] = l
			continue
		}
		if l.ClientSecret, err = repl.ReplaceOrErr(l.ClientSecret, true, true); err != nil {
			return fmt.Errorf("incoming link %q: client_secret: %w", l.Name, err)
		}
		declaredLinks[i] = l
	}
	if a.DynamicRegistration != nil {
		if err := a.DynamicRegistration.provision(repl); err != nil {
			return err
		}
	}
	a.epoch = new(grants.Epoch)
	if a.links, err = links.New(a.store, a.keys, declaredLinks, time.Now, a.audit, a.epoch.Bump); err != nil {
		return err
	}
	a.sessions = users.NewSessions(a.store, a.users, a.keys, users.Cookies{Issuer: a.Issuer}, time.Duration(a.SessionTTL), time.Now)
	a.grants = grants.New(a.store, a.users, a.links, a.epoch, grants.Config{
		AccessTTL:    time.Duration(a.AccessTokenTTL),
		RefreshTTL:   time.Duration(a.RefreshTokenTTL),
		CodeTTL:      time.Duration(a.CodeTTL),
		RefreshGrace: time.Duration(a.RefreshGrace),
		ReplayMemory: DefaultReplayMemory,
		OAuth1TTL:    time.Duration(a.OAuth1TokenTTL),
	}, time.Now, a.audit)
	if a.metrics, err = newMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	a.activity = NewActivity(time.Now)
	a.grants.SetObserver(tokenObserver{Metrics: a.metrics, activity: a.activity})
	a.tokens = grants.NewValidator(a.grants, a.epoch, grants.DefaultCacheEntries, time.Now)
	a.tokens.SetMaxStale(time.Duration(a.MaxStaleValidation))
	a.oauth1 = provider.New(a.store, a.links, a.users, a.grants, a.tokens, provider.Config{
		TimestampWindow: time.Duration(a.OAuth1TimestampWindow),
	}, time.Now, a.audit)
	if a.pages, err = web.New(); err != nil {
		return fmt.Errorf("loading pages: %w", err)
	}
	logins := make([]users.OIDCConfig, len(a.Logins))
	for i, l := range a.Logins {
		if l.ClientID, err = repl.ReplaceOrErr(l.ClientID, true, true); err != nil {
			return fmt.Errorf("login oidc %s: client_id: %w", l.Issuer, err)
		}
		if l.ClientSecret != "" {
			if l.ClientSecret, err = repl.ReplaceOrErr(l.ClientSecret, true, true); err != nil {
				return fmt.Errorf("login oidc %s: client_secret: %w", l.Issuer, err)
			}
		}
		logins[i] = l
	}
	// The gateway never connects to Caddy's admin endpoint as a client.
	denied := adminAddresses(ctx, adminListen(ctx))
	if ce := a.logger.Check(zapcore.DebugLevel, "provider clients refuse the admin endpoint"); ce != nil {
		ce.Write(zap.Stringers("addresses", denied), zap.Bool("allow_private_endpoints", a.AllowPrivateEndpoints))
	}
	if a.Documents != nil {
		docs, err := a.Documents.fetcher(denied)
		if err != nil {
			return err
		}
		a.links.SetDocuments(docs)
	}
	if a.outgoing, err = a.provisionOutgoing(ctx, repl, denied); err != nil {
		return err
	}
	a.outgoing.OnRefresh(a.metrics.Refreshed)
	loginClient := func(issuer string) *http.Client {
		return outgoing.NewClient(10*time.Second, outgoing.Policy{PrivateOrigins: []string{issuer}, Denied: denied})
	}
	if a.oidc, err = users.NewOIDCLogin(ctx, logins, a.users, a.sessions, a.keys, a.pages, a.audit, a.epoch.Bump, a.IssuerFor, loginClient, time.Now); err != nil {
		return err
	}
	a.oidc.OnSignIn(a.metrics.SignedIn)
	return nil
}

// Validate checks the configuration.
func (a *App) Validate() error {
	for name, d := range map[string]caddy.Duration{
		"access_token_ttl": a.AccessTokenTTL, "refresh_token_ttl": a.RefreshTokenTTL, "code_ttl": a.CodeTTL,
		"session_ttl": a.SessionTTL, "secret_overlap": a.SecretOverlap,
		"oauth1_token_ttl": a.OAuth1TokenTTL, "oauth1_timestamp_window": a.OAuth1TimestampWindow,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	if a.RefreshGrace < 0 {
		return errors.New("refresh_grace must not be negative")
	}
	if a.MaxStaleValidation < 0 {
		return errors.New("max_stale_validation must not be negative")
	}
	if a.IDTokenAlgorithm != signing.ES256 && a.IDTokenAlgorithm != signing.RS256 {
		return fmt.Errorf("id_token_algorithm %q: want ES256 or RS256", a.IDTokenAlgorithm)
	}
	if a.Issuer != "" && !strings.HasPrefix(a.Issuer, "https://") && !strings.HasPrefix(a.Issuer, "http://") {
		return fmt.Errorf("issuer %q must be an http(s) URL", a.Issuer)
	}
	if a.DynamicRegistration != nil {
		if err := a.DynamicRegistration.Check(); err != nil {
			return err
		}
	}
	if a.Documents != nil {
		return a.Documents.Check()
	}
	return nil
}

// Start opens the store (see open), checks that the outgoing links the
// handlers name exist, fetches the sign-in providers' discovery documents
// and begins background upkeep: sweeping idle rate-limit buckets,
// refreshing outgoing tokens before they expire and having the store
// delete expired records.
func (a *App) Start() error {
	if _, err := a.open(); err != nil {
		return err
	}
	if err := a.checkRequiredLinks(); err != nil {
		return err
	}
	a.oidc.Prefetch()
	go a.sweep()
	go a.refreshOutgoing()
	go a.collectGarbage()
	if len(a.keys.Previous()) > 0 {
		go a.resealInBackground()
	}
	return nil
}

// Stop does nothing: background work ends when the config's context does.
func (a *App) Stop() error { return nil }

// Links returns the incoming link registry.
func (a *App) Links() *links.Registry { return a.links }

// Users returns the user directory.
func (a *App) Users() *users.Directory { return a.users }

// Sessions returns the sign-in sessions.
func (a *App) Sessions() *users.Sessions { return a.sessions }

// Outgoing returns the outgoing links' service.
func (a *App) Outgoing() *outgoing.Service { return a.outgoing }

// Metrics returns the gateway's Prometheus counters.
func (a *App) Metrics() *Metrics { return a.metrics }

// Activity returns the per-link counts of the last day (in memory, per
// process).
func (a *App) Activity() *Activity { return a.activity }

// OIDCLogin returns sign-in through OpenID Connect providers.
func (a *App) OIDCLogin() *users.OIDCLogin { return a.oidc }

// PasswordSignIn reports whether the sign-in page shows the password form:
// when local users are declared, no OpenID Connect provider is, or a local
// user with a password has been created at runtime (admin API).
func (a *App) PasswordSignIn(r *http.Request) bool {
	if len(a.LocalUsers) > 0 || len(a.Logins) == 0 {
		return true
	}
	stored, err := a.users.ListStored(r.Context())
	if err != nil {
		return true // show the form rather than lock local users out
	}
	for _, u := range stored {
		if u.Provider == "" && u.PasswordHash != "" {
			return true
		}
	}
	return false
}

// Grants returns the token service.
func (a *App) Grants() *grants.Service { return a.grants }

// Tokens returns the cached access-token validator used by the guard.
func (a *App) Tokens() *grants.Validator { return a.tokens }

// OAuth1 returns the OAuth 1.0a service provider.
func (a *App) OAuth1() *provider.Service { return a.oauth1 }

// Keyring returns the keys that sign ID tokens, opening the store if
// needed (they are kept there).
func (a *App) Keyring() (*signing.Keyring, error) {
	if _, err := a.open(); err != nil {
		return nil, err
	}
	return a.keyring, nil
}

// Epoch returns the revocation counter; bump it after revoking access by
// other means than the token service and the link registry (e.g. demoting
// or disabling a user).
func (a *App) Epoch() *grants.Epoch { return a.epoch }

// Pages returns the HTML page renderer.
func (a *App) Pages() *web.Pages { return a.pages }

// Limits returns the rate limiters.
func (a *App) Limits() Limits { return a.limits }

// Audit returns the audit logger (named applinks.audit).
func (a *App) Audit() *zap.Logger { return a.audit }

// Logger returns the app's logger.
func (a *App) Logger() *zap.Logger { return a.logger }

// IssuerFor returns the issuer: the configured one, else the scheme (see
// IsHTTPS) and host of the request.
func (a *App) IssuerFor(r *http.Request) string {
	if a.Issuer != "" {
		return a.Issuer
	}
	scheme := "http"
	if a.IsHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// IsHTTPS reports whether the browser reached the gateway over HTTPS (see
// users.IsHTTPS); cookies are Secure and __Host- named exactly then.
func (a *App) IsHTTPS(r *http.Request) bool { return users.IsHTTPS(r, a.Issuer) }

func (a *App) setDefaults() {
	def := func(d *caddy.Duration, v time.Duration) {
		if *d == 0 {
			*d = caddy.Duration(v)
		}
	}
	def(&a.AccessTokenTTL, DefaultAccessTokenTTL)
	def(&a.RefreshTokenTTL, DefaultRefreshTokenTTL)
	def(&a.CodeTTL, DefaultCodeTTL)
	def(&a.RefreshGrace, DefaultRefreshGrace)
	def(&a.SessionTTL, DefaultSessionTTL)
	def(&a.SecretOverlap, links.DefaultSecretOverlap)
	def(&a.OAuth1TokenTTL, provider.DefaultTokenTTL)
	def(&a.OAuth1TimestampWindow, provider.DefaultTimestampWindow)
	if a.IDTokenAlgorithm == "" {
		a.IDTokenAlgorithm = signing.ES256
	}
}

// loadKeys loads the at-rest key (see loadCurrentKey) with the previous
// keys of a rotation. A previous key that is the current one, or given
// twice, is an error naming the option, never the key.
func (a *App) loadKeys(repl *caddy.Replacer) (*secret.Keys, error) {
	keys, err := a.loadCurrentKey(repl)
	if err != nil {
		return nil, err
	}
	var previous []*secret.Keys
	add := func(name string, k *secret.Keys) error {
		if _, err := keys.WithPrevious(k); err != nil {
			return fmt.Errorf("%s is the at-rest key in use; a previous key must be the one being rotated out", name)
		}
		if _, err := keys.WithPrevious(append(previous, k)...); err != nil {
			return fmt.Errorf("%s is given twice", name)
		}
		previous = append(previous, k)
		return nil
	}
	for i, p := range a.PreviousSecretKeys {
		name := fmt.Sprintf("previous_secret_key %d", i+1)
		pass, err := repl.ReplaceOrErr(p, true, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		k, err := secret.FromPassphrase(pass)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := add(name, k); err != nil {
			return nil, err
		}
	}
	for _, path := range a.PreviousKeyFiles {
		k, missing, err := secret.ReadKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("previous_key_file: %w", err)
		}
		if missing {
			return nil, fmt.Errorf("previous_key_file %s does not exist", path)
		}
		if err := add("previous_key_file "+path, k); err != nil {
			return nil, err
		}
	}
	if len(previous) == 0 {
		return keys, nil
	}
	return keys.WithPrevious(previous...)
}

// loadCurrentKey loads the at-rest key: from secret_key, else from the
// backend's key file (generated when missing, and written by open).
func (a *App) loadCurrentKey(repl *caddy.Replacer) (*secret.Keys, error) {
	if a.SecretKey != "" {
		pass, err := repl.ReplaceOrErr(a.SecretKey, true, true)
		if err != nil {
			return nil, fmt.Errorf("secret_key: %w", err)
		}
		return secret.FromPassphrase(pass)
	}
	path := a.backend.KeyFile()
	if path == "" {
		// A backend that several gateways share keeps no key file of its
		// own: each gateway must be given the same key.
		name := "this"
		if m, ok := a.backend.(caddy.Module); ok {
			name = m.CaddyModule().ID.Name()
		}
		return nil, fmt.Errorf("%s storage needs secret_key (the same on every node) or key_file", name)
	}
	// A missing key file is written when the store is opened, not here.
	keys, missing, err := secret.ReadKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading at-rest key: %w", err)
	}
	if missing {
		a.opening.keyFile = path
	}
	return keys, nil
}

// provisionOutgoing loads the providers of the declared outgoing links;
// no link connects to the denied addresses.
func (a *App) provisionOutgoing(ctx caddy.Context, repl *caddy.Replacer, denied []netip.AddrPort) (*outgoing.Service, error) {
	var links []*outgoing.Link
	seen := map[string]bool{}
	for i := range a.OutgoingLinks {
		c := a.OutgoingLinks[i]
		var p outgoing.Provider
		if c.ProviderRaw != nil {
			mod, err := ctx.LoadModule(&a.OutgoingLinks[i], "ProviderRaw")
			if err != nil {
				return nil, fmt.Errorf("outgoing link %q: loading provider: %w", c.Name, err)
			}
			var ok bool
			if p, ok = mod.(outgoing.Provider); !ok {
				return nil, fmt.Errorf("outgoing link %q: module %T is not a provider", c.Name, mod)
			}
		}
		var err error
		if c.OAuth1 == nil {
			if c.ClientID, err = repl.ReplaceOrErr(c.ClientID, true, true); err != nil {
				return nil, fmt.Errorf("outgoing link %q: client_id: %w", c.Name, err)
			}
		}
		if c.ClientSecret != "" {
			if c.ClientSecret, err = repl.ReplaceOrErr(c.ClientSecret, true, true); err != nil {
				return nil, fmt.Errorf("outgoing link %q: client_secret: %w", c.Name, err)
			}
		}
		if c.OAuth1 != nil {
			o := *c.OAuth1
			if o.ApplicationURL, err = repl.ReplaceOrErr(o.ApplicationURL, true, true); err != nil {
				return nil, fmt.Errorf("outgoing link %q: oauth1: %w", c.Name, err)
			}
			if o.ConsumerKey, err = repl.ReplaceOrErr(o.ConsumerKey, false, true); err != nil {
				return nil, fmt.Errorf("outgoing link %q: oauth1 consumer_key: %w", c.Name, err)
			}
			c.OAuth1 = &o
		}
		l, err := outgoing.NewLink(c, p)
		if err != nil {
			return nil, err
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("outgoing link %q declared twice", l.Name)
		}
		seen[l.Name] = true
		links = append(links, l)
	}
	reach := outgoing.Reach{Denied: denied, PrivateRuntime: a.AllowPrivateEndpoints}
	return outgoing.NewService(links, a.store, a.keys, a.loadProvider, a.audit.Named("outgoing"), time.Now, reach), nil
}

// loadProvider loads a provider module from its JSON with its "provider"
// key, for outgoing links created at runtime.
func (a *App) loadProvider(raw json.RawMessage) (outgoing.Provider, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("reading provider: %w", err)
	}
	var name string
	if err := json.Unmarshal(fields["provider"], &name); err != nil || name == "" {
		return nil, errors.New("the provider has no name (google, microsoft, oidc or oauth2)")
	}
	delete(fields, "provider")
	rest, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	// The Caddy context records the modules it loads, which is not safe
	// for concurrent use once the config runs.
	a.loadMu.Lock()
	mod, err := a.ctx.LoadModuleByID("applinks.providers."+name, rest)
	a.loadMu.Unlock()
	if err != nil {
		return nil, err
	}
	p, ok := mod.(outgoing.Provider)
	if !ok {
		return nil, fmt.Errorf("module %T is not a provider", mod)
	}
	return p, nil
}

// refreshOutgoing refreshes outgoing tokens that expire within two
// minutes, every 30 seconds, until the config is unloaded.
func (a *App) refreshOutgoing() {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
			a.outgoing.RefreshDue(a.ctx, 2*time.Minute)
		}
	}
}

// collectGarbage has the store delete expired records (Badger reclaims
// value-log space) every gcInterval, until the config is unloaded.
func (a *App) collectGarbage() {
	t := time.NewTicker(gcInterval)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case now := <-t.C:
			a.expireRegistrations(now)
			n, err := a.store.GarbageCollect(a.ctx, now)
			if err != nil {
				if a.ctx.Err() == nil {
					a.logger.Warn("deleting expired records", zap.Error(err))
				}
				continue
			}
			if ce := a.logger.Check(zapcore.DebugLevel, "deleted expired records"); ce != nil && n > 0 {
				ce.Write(zap.Int("records", n))
			}
		}
	}
}

func (a *App) sweep() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case now := <-t.C:
			for _, l := range []*ratelimit.Limiter{a.limits.LoginByAddress, a.limits.LoginByUser, a.limits.ClientFailures, a.limits.ClientFailuresByID} {
				l.Sweep(now, 10*time.Minute)
			}
			// A client that refreshes once a day stays known.
			a.limits.KnownClients.Sweep(now, 25*time.Hour)
			a.limits.KnownSignIns.Sweep(now, 30*24*time.Hour)
		}
	}
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ caddy.Destructor   = pooledLimits{}
)
