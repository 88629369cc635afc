package users

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/returnto"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/web"
)

// Paths of sign-in through OpenID Connect providers. Each provider has a
// redirect URI of its own, OIDCCallbackPath(name): an answer is only
// taken at the callback of the provider the sign-in was started with
// (RFC 9700 §4.4, mix-up).
const (
	OIDCStartPath = "/applinks/login/oidc"
	// OIDCCallbackPrefix starts every provider's callback path.
	OIDCCallbackPrefix = "/applinks/login/callback/"
	// OIDCLegacyCallbackPath was the one callback of all providers; it
	// now only tells that the redirect URI changed.
	OIDCLegacyCallbackPath = "/applinks/login/callback"
	discoveryRetry         = 2 * time.Second
)

// OIDCStateTTL is how long a sign-in through a provider may take: the
// lifetime of its sealed state cookie.
const OIDCStateTTL = 10 * time.Minute

// OIDCCallbackPath is the callback path (the redirect URI's path) of the
// provider of that name.
func OIDCCallbackPath(provider string) string {
	return OIDCCallbackPrefix + url.PathEscape(provider)
}

// OIDCConfig declares an OpenID Connect provider people sign in with.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL (discovery at
	// <issuer>/.well-known/openid-configuration).
	Issuer string `json:"issuer"`
	// Name labels the sign-in button and identifies the provider. Default:
	// the issuer's host.
	Name string `json:"name,omitempty"`
	// ClientID and ClientSecret are the gateway's credentials at the
	// provider; placeholders are resolved at provision time.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes asked for. Default: openid profile email.
	Scopes []string `json:"scopes,omitempty"`
	// RoleClaim names the ID-token claim (a string or a list of strings,
	// e.g. groups or roles) that Roles maps to gateway roles.
	RoleClaim string `json:"role_claim,omitempty"`
	// Roles maps values of RoleClaim to READ, WRITE, ADMIN or SYSTEM_ADMIN;
	// the highest match wins.
	Roles map[string]string `json:"roles,omitempty"`
	// DefaultRole applies when no value matches: a role, or NONE to refuse
	// sign-in. Default: READ.
	DefaultRole string `json:"default_role,omitempty"`
	// AllowedDomains, when set, admits only users with a verified e-mail
	// address in one of these domains.
	AllowedDomains []string `json:"allowed_domains,omitempty"`
	// TrustedEmail says whether the provider's verified e-mail address
	// names the user; when false, users are named <sub>@<issuer host>.
	// Any provider can assert any address, so with several providers each
	// must say whether it is trusted with the addresses it asserts. A name
	// stays with the provider that first signed it in either way. Default:
	// true when it is the only provider; required when there are several.
	TrustedEmail *bool `json:"trusted_email,omitempty"`
}

// OIDCButton is a sign-in button on the sign-in page.
type OIDCButton struct {
	Name string
	URL  string
}

// OIDCLogin signs people in through OpenID Connect providers: discovery,
// authorization code with PKCE, state and nonce, ID-token verification,
// claim-to-role mapping. Users it signs in are stored as runtime users
// whose role is set again at every sign-in; an administrator can still
// disable them locally.
type OIDCLogin struct {
	providers []*oidcProvider
	users     *Directory
	sessions  *Sessions
	keys      *secret.Keys
	pages     *web.Pages
	audit     *zap.Logger
	changed   func()
	issuerFor func(*http.Request) string
	now       func() time.Time
	// ctx lives as long as the configuration: provider key sets use it.
	ctx context.Context
	// observe is told each sign-in's outcome, for metrics.
	observe func(method, outcome string)
}

// OnSignIn sets a function told each sign-in's outcome (success or
// failure), for metrics.
func (l *OIDCLogin) OnSignIn(f func(method, outcome string)) { l.observe = f }

type oidcProvider struct {
	cfg         OIDCConfig
	host        string
	client      *http.Client // every request to the provider
	roles       map[string]scope.Scope
	defaultRole scope.Scope // None: refuse
	// trustedEmail: a verified e-mail address names the user.
	trustedEmail bool

	// found runs one discovery at a time; callers meanwhile wait for it.
	found     singleflight.Group
	mu        sync.Mutex
	discovery *oidc.Provider
	lastTry   time.Time
	lastErr   error
}

// NewOIDCLogin checks the provider configurations (issuer URLs, roles) and
// starts discovering them in the background: a provider that is down does
// not stop the gateway from starting. changed is called when a sign-in
// changes a user's role; issuerFor gives the gateway's base URL for a
// request, from which the redirect URI is made. client returns the HTTP
// client for a provider's issuer: discovery, key sets and code exchanges
// all go through it (outgoing.NewClient, refusing Caddy's admin endpoint
// and private addresses other than the issuer's own).
func NewOIDCLogin(ctx context.Context, cfgs []OIDCConfig, dir *Directory, sessions *Sessions, keys *secret.Keys, pages *web.Pages, audit *zap.Logger, changed func(), issuerFor func(*http.Request) string, client func(issuer string) *http.Client, now func() time.Time) (*OIDCLogin, error) {
	l := &OIDCLogin{users: dir, sessions: sessions, keys: keys, pages: pages, audit: audit, changed: changed, issuerFor: issuerFor, now: now, ctx: ctx, observe: func(string, string) {}}
	for _, c := range cfgs {
		if err := c.Check(); err != nil {
			return nil, err
		}
		u, _ := url.Parse(c.Issuer) // checked
		if c.TrustedEmail == nil && len(cfgs) > 1 {
			return nil, fmt.Errorf("login oidc %s: with several providers, each must say whether its verified e-mail addresses name users (trusted_email on|off)", c.Issuer)
		}
		p := &oidcProvider{cfg: c, host: u.Hostname(), client: client(c.Issuer), roles: map[string]scope.Scope{}, defaultRole: scope.Read, trustedEmail: c.TrustedEmail == nil || *c.TrustedEmail}
		if p.cfg.Name == "" {
			p.cfg.Name = u.Host
		}
		if len(p.cfg.Scopes) == 0 {
			p.cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
		} else if !slices.Contains(p.cfg.Scopes, oidc.ScopeOpenID) {
			p.cfg.Scopes = append([]string{oidc.ScopeOpenID}, p.cfg.Scopes...)
		}
		for i, d := range p.cfg.AllowedDomains {
			p.cfg.AllowedDomains[i] = asciiLower(d)
		}
		for v, r := range c.Roles {
			p.roles[v], _ = scope.Parse(r) // checked
		}
		switch c.DefaultRole {
		case "":
		case "NONE":
			p.defaultRole = scope.None
		default:
			p.defaultRole, _ = scope.Parse(c.DefaultRole) // checked
		}
		for _, other := range l.providers {
			if other.cfg.Name == p.cfg.Name {
				return nil, fmt.Errorf("login oidc: two providers are named %q", p.cfg.Name)
			}
		}
		l.providers = append(l.providers, p)
	}
	return l, nil
}

// Prefetch fetches every provider's discovery document in the background,
// so that the first sign-in does not wait for it. It is for a running
// configuration (the app's Start): a configuration only being checked
// (caddy validate) fetches nothing.
func (l *OIDCLogin) Prefetch() {
	for _, p := range l.providers {
		go func() { _, _ = l.discover(p) }()
	}
}

// Buttons returns a sign-in button per provider that comes back to
// returnTo.
func (l *OIDCLogin) Buttons(returnTo string) []OIDCButton {
	if l == nil {
		return nil
	}
	out := make([]OIDCButton, len(l.providers))
	for i, p := range l.providers {
		q := url.Values{"provider": {p.cfg.Name}}
		if returnTo != "" {
			q.Set("return_to", returnTo)
		}
		out[i] = OIDCButton{Name: p.cfg.Name, URL: OIDCStartPath + "?" + q.Encode()}
	}
	return out
}

// discover returns the provider's discovery, trying again at most every
// discoveryRetry while it fails.
func (l *OIDCLogin) discover(p *oidcProvider) (*oidc.Provider, error) {
	p.mu.Lock()
	d, lastErr, lastTry := p.discovery, p.lastErr, p.lastTry
	p.mu.Unlock()
	if d != nil {
		return d, nil
	}
	if lastErr != nil && l.now().Sub(lastTry) < discoveryRetry {
		return nil, lastErr
	}
	v, err, _ := p.found.Do("discover", func() (any, error) {
		// The context outlives this call: the provider's key set fetches
		// keys with it later.
		d, err := oidc.NewProvider(oidc.ClientContext(l.ctx, p.client), p.cfg.Issuer)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.lastTry = l.now()
		if err != nil {
			p.lastErr = err
			l.audit.Warn("OpenID Connect provider unavailable", zap.String("provider", p.cfg.Name), zap.Error(err))
			return nil, err
		}
		p.discovery, p.lastErr = d, nil
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*oidc.Provider), nil
}

// oidcState is kept sealed in a cookie between the start of a sign-in and
// the provider's callback.
type oidcState struct {
	Provider string    `json:"p"`
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	ReturnTo string    `json:"r"`
	Expires  time.Time `json:"e"`
}

// ServeStart sends the browser to the provider's authorization endpoint.
func (l *OIDCLogin) ServeStart(w http.ResponseWriter, r *http.Request) error {
	p := l.provider(r.URL.Query().Get("provider"))
	if p == nil {
		l.pages.Error(w, http.StatusNotFound, "Unknown sign-in provider", "This gateway has no sign-in provider of that name.")
		return nil
	}
	d, err := l.discover(p)
	if err != nil {
		l.pages.Error(w, http.StatusBadGateway, "Sign-in provider unavailable", fmt.Sprintf("%s cannot be reached right now. Try again in a moment.", p.cfg.Name))
		return nil
	}
	st := oidcState{
		Provider: p.cfg.Name,
		State:    oauth2.GenerateVerifier(),
		Nonce:    oauth2.GenerateVerifier(),
		Verifier: oauth2.GenerateVerifier(),
		ReturnTo: returnto.Path(r.URL.Query().Get("return_to")),
		Expires:  l.now().Add(OIDCStateTTL),
	}
	raw, _ := json.Marshal(st)
	l.sessions.Cookies().Set(w, r, oidcCookie, base64.RawURLEncoding.EncodeToString(l.keys.Seal(raw, []byte(oidcCookie))), OIDCStateTTL)
	conf := l.oauthConfig(r, p, d)
	http.Redirect(w, r, conf.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusSeeOther)
	return nil
}

// ServeCallback finishes a sign-in at the callback of the provider named
// by the path: it checks state, that the sign-in was started with this
// provider and that the answer's iss (RFC 9207) is its issuer, exchanges
// the code, verifies the ID token and its nonce, maps the role and starts
// a session.
func (l *OIDCLogin) ServeCallback(w http.ResponseWriter, r *http.Request) error {
	fail := func(status int, msg string, fields ...zap.Field) error {
		l.observe("oidc", "failure")
		l.audit.Info("sign-in failed", append(fields, zap.String("reason", msg))...)
		l.pages.Error(w, status, "Sign-in failed", msg)
		return nil
	}
	callback, named := strings.CutPrefix(r.URL.Path, OIDCCallbackPrefix)
	if !named {
		return fail(http.StatusNotFound, "This is not the redirect URI of a sign-in provider any more: each provider now has its own, "+l.issuerFor(r)+OIDCCallbackPrefix+"<provider name>. Register it at the provider.")
	}
	st, ok := l.takeState(w, r)
	if !ok {
		return fail(http.StatusBadRequest, "This sign-in link expired or was already used. Please sign in again.")
	}
	q := r.URL.Query()
	if q.Get("state") == "" || q.Get("state") != st.State {
		return fail(http.StatusBadRequest, "The sign-in answer does not belong to this browser's sign-in (state mismatch). Please sign in again.")
	}
	if callback != st.Provider {
		return fail(http.StatusBadRequest, "The sign-in answer came back to the callback of another provider than the one the sign-in was started with. Please sign in again.", zap.String("provider", st.Provider), zap.String("callback", callback))
	}
	p := l.provider(st.Provider)
	if p == nil {
		return fail(http.StatusBadRequest, "The sign-in provider is no longer configured.")
	}
	d, err := l.discover(p)
	if err != nil {
		return fail(http.StatusBadGateway, fmt.Sprintf("%s cannot be reached right now. Try again in a moment.", p.cfg.Name))
	}
	if msg := p.checkIssuer(d, q); msg != "" {
		return fail(http.StatusBadRequest, msg, zap.String("provider", p.cfg.Name))
	}
	if e := q.Get("error"); e != "" {
		return fail(http.StatusUnauthorized, fmt.Sprintf("%s refused the sign-in: %s %s", p.cfg.Name, e, q.Get("error_description")), zap.String("provider", p.cfg.Name))
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	ctx = oidc.ClientContext(ctx, p.client) // also oauth2.HTTPClient, for the exchange
	tok, err := l.oauthConfig(r, p, d).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return fail(http.StatusBadGateway, fmt.Sprintf("%s did not accept the sign-in code.", p.cfg.Name), zap.String("provider", p.cfg.Name), zap.String("error", oautherror.ClientErrorText(err)))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return fail(http.StatusBadGateway, fmt.Sprintf("%s sent no ID token.", p.cfg.Name), zap.String("provider", p.cfg.Name))
	}
	idt, err := d.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: l.now}).Verify(ctx, raw)
	if err != nil {
		return fail(http.StatusUnauthorized, fmt.Sprintf("The ID token from %s is not valid: %v", p.cfg.Name, err), zap.String("provider", p.cfg.Name))
	}
	if idt.Nonce != st.Nonce {
		return fail(http.StatusUnauthorized, fmt.Sprintf("The ID token from %s was not issued for this sign-in (nonce mismatch).", p.cfg.Name), zap.String("provider", p.cfg.Name))
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return fail(http.StatusBadGateway, "The ID token's claims could not be read.")
	}
	name, err := p.userName(idt.Subject, claims)
	if err != nil {
		return fail(http.StatusForbidden, err.Error(), zap.String("provider", p.cfg.Name))
	}
	role := p.role(claims)
	if err := l.saveUser(r.Context(), p, name, idt.Subject, role); err != nil {
		var refused refusal
		if errors.As(err, &refused) {
			return fail(http.StatusForbidden, refused.msg, zap.String("provider", p.cfg.Name), zap.String("user", name))
		}
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if role == scope.None {
		return fail(http.StatusForbidden, "Your account has no role on this gateway.", zap.String("provider", p.cfg.Name), zap.String("user", name))
	}
	u, err := l.users.Get(r.Context(), name)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if err := l.sessions.Start(r.Context(), w, r, u); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	l.observe("oidc", "success")
	l.audit.Info("signed in", zap.String("user", name), zap.String("provider", p.cfg.Name), zap.String("role", role.String()), zap.String("remote_ip", ClientAddress(r)))
	redirectSignedIn(w, u, st.ReturnTo)
	return nil
}

type refusal struct{ msg string }

func (r refusal) Error() string { return r.msg }

// saveUser creates or updates the runtime user of a provider sign-in (see
// Directory.saveSignIn) and says when its role changed.
func (l *OIDCLogin) saveUser(ctx context.Context, p *oidcProvider, name, subject string, role scope.Scope) error {
	changed, err := l.users.saveSignIn(ctx, p.cfg.Issuer, p.cfg.Name, name, subject, role, l.now())
	if err != nil {
		return err
	}
	if changed {
		l.changed()
	}
	return nil
}

// takeState reads and clears the sealed state cookie; single use.
func (l *OIDCLogin) takeState(w http.ResponseWriter, r *http.Request) (oidcState, bool) {
	c, ok := l.sessions.Cookies().Value(r, oidcCookie)
	l.sessions.Cookies().Clear(w, r, oidcCookie)
	if !ok {
		return oidcState{}, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return oidcState{}, false
	}
	raw, err := l.keys.Open(sealed, []byte(oidcCookie))
	if err != nil {
		return oidcState{}, false
	}
	var st oidcState
	if json.Unmarshal(raw, &st) != nil || !l.now().Before(st.Expires) {
		return oidcState{}, false
	}
	return st, true
}

func (l *OIDCLogin) provider(name string) *oidcProvider {
	for _, p := range l.providers {
		if p.cfg.Name == name {
			return p
		}
	}
	return nil
}

func (l *OIDCLogin) oauthConfig(r *http.Request, p *oidcProvider, d *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     d.Endpoint(),
		RedirectURL:  l.issuerFor(r) + OIDCCallbackPath(p.cfg.Name),
		Scopes:       p.cfg.Scopes,
	}
}

// checkIssuer checks the iss parameter of an authorization response (RFC
// 9207): when present it must be the provider's issuer, and it must be
// present when the provider's metadata says it sends it. It returns why
// the answer is refused, or "".
func (p *oidcProvider) checkIssuer(d *oidc.Provider, q url.Values) string {
	if q.Has("iss") {
		if q.Get("iss") != p.cfg.Issuer {
			return fmt.Sprintf("The sign-in answer was issued by %q, not by %s (mix-up). Please sign in again.", q.Get("iss"), p.cfg.Name)
		}
		return ""
	}
	var md struct {
		IssParameter bool `json:"authorization_response_iss_parameter_supported"`
	}
	if d.Claims(&md) == nil && md.IssParameter {
		return fmt.Sprintf("The sign-in answer does not say it comes from %s (no iss). Please sign in again.", p.cfg.Name)
	}
	return ""
}

// userName is the gateway's name for the account: its verified e-mail
// address when the provider is trusted with e-mail addresses, else
// subject@issuer-host. AllowedDomains are checked here.
func (p *oidcProvider) userName(sub string, claims map[string]any) (string, error) {
	email, _ := claims["email"].(string)
	verified, _ := claims["email_verified"].(bool)
	if len(p.cfg.AllowedDomains) > 0 {
		_, domain, _ := strings.Cut(asciiLower(email), "@")
		if email == "" || !verified || !slices.Contains(p.cfg.AllowedDomains, domain) {
			return "", refusal{"Your account's e-mail address is not in a domain allowed to sign in here."}
		}
	}
	if email != "" && verified && p.trustedEmail {
		if name := asciiLower(email); plainClaimName(name) {
			return name, nil
		}
		return "", refusal{"Your account's e-mail address cannot name a user here."}
	}
	if sub == "" {
		return "", refusal{"The ID token has no subject."}
	}
	if name := sub + "@" + p.host; plainClaimName(name) {
		return name, nil
	}
	return "", refusal{"The ID token's subject cannot name a user here."}
}

// role maps the role claim: the highest mapped value, else the default.
func (p *oidcProvider) role(claims map[string]any) scope.Scope {
	best := scope.None
	for _, v := range claimValues(claims[p.cfg.RoleClaim]) {
		if s, ok := p.roles[v]; ok {
			best = max(best, s)
		}
	}
	if best == scope.None {
		return p.defaultRole
	}
	return best
}

// claimValues reads a claim that is a string or a list of strings.
func claimValues(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
