// Package caddyfile parses the Caddyfile syntax of caddy-applinks: the
// `applinks` global option and the `applinks` directive. It only builds
// the modules' exported config structs.
package caddyfile

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/internal/nearest"
	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/gateway"
	"github.com/applinks/caddy-applinks/module/guard"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/outgoing/inject"
	"github.com/applinks/caddy-applinks/module/resource"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/users"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("applinks", parseGlobal)
	httpcaddyfile.RegisterHandlerDirective("applinks", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("applinks", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("require_token", parseRequireToken)
	httpcaddyfile.RegisterDirectiveOrder("require_token", httpcaddyfile.After, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("outgoing_token", parseOutgoingToken)
	httpcaddyfile.RegisterDirectiveOrder("outgoing_token", httpcaddyfile.After, "forward_auth")
}

// parseGlobal sets up the applinks app from the global option. Repeated
// blocks are merged.
//
// Syntax:
//
//	applinks {
//		storage <backend> [<args...>]
//		secret_key <passphrase>
//		previous_secret_key <passphrase>
//		previous_key_file <path>
//		issuer <url>
//		id_token_algorithm <ES256|RS256>
//		access_token_ttl <duration>
//		refresh_token_ttl <duration>
//		code_ttl <duration>
//		refresh_grace <duration>
//		session_ttl <duration>
//		secret_overlap <duration>
//		max_stale_validation <duration>
//		allow_private_endpoints
//		user <name> <bcrypt-hash> [<role>]
//		login oidc <issuer> {
//			name <button label>
//			client_id <id>
//			client_secret <secret>
//			scopes <scope...>
//			role_claim <claim>
//			role <claim value> <role>
//			default_role <role|NONE>
//			allowed_domains <domain...>
//			trusted_email on|off
//		}
//		outgoing <name> {
//			provider google|microsoft [<tenant>]|oidc <issuer>|oauth2 <authorize-url> <token-url>|oauth2 <issuer>
//			client_id <id>
//			client_secret <secret>
//			scopes <scope...>
//			mode per_user|shared
//		}
//		oauth1_token_ttl <duration>
//		oauth1_timestamp_window <duration>
//		outgoing <name> {
//			oauth1 <application URL> {
//				consumer_key <key>
//			}
//			mode per_user|shared
//		}
//		incoming <name> {
//			redirect_uri <uri...>
//			scope <READ|WRITE|ADMIN|SYSTEM_ADMIN>
//			client_id <id>
//			client_secret <secret>
//			require_pkce
//			public
//			client_credentials <user>
//			oauth1 <consumer_key> {
//				public_key <path>
//				shared_secret <secret>
//				callback <url>
//				two_legged [<user>]
//				impersonation
//			}
//		}
//		registration open|<initial-access-token> {
//			scope <READ|WRITE|ADMIN|SYSTEM_ADMIN>
//			redirect_uris <https|loopback|private_use...>
//			max_clients <n>
//			expire_unused <duration>
//		}
//		client_id_metadata_documents {
//			allow_hosts <host...>
//			scope <READ|WRITE|ADMIN|SYSTEM_ADMIN>
//			allow_loopback
//		}
//	}
func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(applinks.App)
	if existing != nil {
		prev, ok := existing.(httpcaddyfile.App)
		if !ok {
			return nil, d.Errf("unexpected existing value %T for applinks", existing)
		}
		if err := json.Unmarshal(prev.Value, app); err != nil {
			return nil, d.Errf("merging applinks blocks: %v", err)
		}
	}
	d.Next() // the option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := parseAppOption(d, app); err != nil {
			return nil, err
		}
	}
	return httpcaddyfile.App{Name: "applinks", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseAppOption(d *caddyfile.Dispenser, app *applinks.App) error {
	switch opt := d.Val(); opt {
	case "storage":
		if !d.NextArg() {
			return d.ArgErr()
		}
		name := d.Val()
		if err := knownModule(d, "storage backend", "applinks.storage", name); err != nil {
			return err
		}
		mod, err := caddyfile.UnmarshalModule(d, "applinks.storage."+name)
		if err != nil {
			return err
		}
		app.StorageRaw = caddyconfig.JSONModuleObject(mod, "backend", name, nil)
	case "secret_key":
		if err := singleArg(d, &app.SecretKey); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(app.SecretKey); !hasPlaceholder(app.SecretKey) && n < secret.MinPassphraseLen {
			return d.Errf("secret_key is %d characters long; it must have at least %d (or use a placeholder such as {env.APPLINKS_SECRET_KEY})", n, secret.MinPassphraseLen)
		}
		if slices.Contains(app.PreviousSecretKeys, app.SecretKey) {
			return d.Errf("secret_key is also a previous_secret_key: a previous key must be the one being rotated out")
		}
	case "previous_secret_key":
		var p string
		if err := singleArg(d, &p); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(p); !hasPlaceholder(p) && n < secret.MinPassphraseLen {
			return d.Errf("previous_secret_key is %d characters long; a secret_key has at least %d", n, secret.MinPassphraseLen)
		}
		if p == app.SecretKey {
			return d.Errf("previous_secret_key is the secret_key in use: a previous key must be the one being rotated out")
		}
		if slices.Contains(app.PreviousSecretKeys, p) {
			return d.Errf("previous_secret_key is given twice")
		}
		app.PreviousSecretKeys = append(app.PreviousSecretKeys, p)
	case "previous_key_file":
		var p string
		if err := singleArg(d, &p); err != nil {
			return err
		}
		if slices.Contains(app.PreviousKeyFiles, p) {
			return d.Errf("previous_key_file %s is given twice", p)
		}
		app.PreviousKeyFiles = append(app.PreviousKeyFiles, p)
	case "issuer":
		if err := singleArg(d, &app.Issuer); err != nil {
			return err
		}
		if !hasPlaceholder(app.Issuer) && !strings.HasPrefix(app.Issuer, "https://") && !strings.HasPrefix(app.Issuer, "http://") {
			return d.Errf("issuer %q must be an http(s) URL, e.g. https://gateway.example.com", app.Issuer)
		}
	case "id_token_algorithm":
		if err := singleArg(d, &app.IDTokenAlgorithm); err != nil {
			return err
		}
		if a := app.IDTokenAlgorithm; a != signing.ES256 && a != signing.RS256 {
			return d.Errf("id_token_algorithm %q: want ES256 or RS256%s", a, nearest.Suggest(a, []string{signing.ES256, signing.RS256}))
		}
	case "access_token_ttl":
		return durationArg(d, &app.AccessTokenTTL)
	case "refresh_token_ttl":
		return durationArg(d, &app.RefreshTokenTTL)
	case "code_ttl":
		return durationArg(d, &app.CodeTTL)
	case "refresh_grace":
		return durationArg(d, &app.RefreshGrace)
	case "session_ttl":
		return durationArg(d, &app.SessionTTL)
	case "secret_overlap":
		return durationArg(d, &app.SecretOverlap)
	case "max_stale_validation":
		return durationArg(d, &app.MaxStaleValidation)
	case "oauth1_token_ttl":
		return durationArg(d, &app.OAuth1TokenTTL)
	case "oauth1_timestamp_window":
		return durationArg(d, &app.OAuth1TimestampWindow)
	case "allow_private_endpoints":
		if d.NextArg() {
			return d.ArgErr()
		}
		app.AllowPrivateEndpoints = true
	case "user":
		args := d.RemainingArgs()
		if len(args) < 2 || len(args) > 3 {
			return d.ArgErr()
		}
		u := users.ConfigUser{Name: args[0], Password: args[1]}
		if len(args) == 3 {
			u.Role = args[2]
		}
		if err := u.Check(); err != nil {
			return d.WrapErr(err)
		}
		if slices.ContainsFunc(app.LocalUsers, func(o users.ConfigUser) bool { return o.Name == u.Name }) {
			return d.Errf("user %q is declared twice", u.Name)
		}
		app.LocalUsers = append(app.LocalUsers, u)
	case "login":
		at := here(d)
		l, err := parseLogin(d)
		if err != nil {
			return err
		}
		if err := l.Check(); err != nil {
			return at.WrapErr(err)
		}
		app.Logins = append(app.Logins, l)
		if err := checkLogins(app.Logins); err != nil {
			return at.WrapErr(err)
		}
	case "outgoing":
		at := here(d)
		l, err := parseOutgoing(d)
		if err != nil {
			return err
		}
		if err := l.Check(); err != nil {
			return at.WrapErr(err)
		}
		if slices.ContainsFunc(app.OutgoingLinks, func(o outgoing.ConfigLink) bool { return o.Name == l.Name }) {
			return at.Errf("outgoing link %q is declared twice", l.Name)
		}
		app.OutgoingLinks = append(app.OutgoingLinks, l)
	case "registration":
		reg, err := parseRegistration(d)
		if err != nil {
			return err
		}
		app.DynamicRegistration = reg
	case "client_id_metadata_documents":
		docs, err := parseDocuments(d)
		if err != nil {
			return err
		}
		app.Documents = docs
	case "incoming":
		at := here(d)
		l, err := parseIncoming(d)
		if err != nil {
			return err
		}
		if err := l.Check(); err != nil {
			return at.Errf("incoming link %q: %w", l.Name, err)
		}
		if err := checkIncoming(app.Incoming, l); err != nil {
			return at.WrapErr(err)
		}
		app.Incoming = append(app.Incoming, l)
	default:
		return unrecognized(d, "storage", "secret_key", "previous_secret_key", "previous_key_file", "issuer", "id_token_algorithm", "access_token_ttl", "refresh_token_ttl",
			"code_ttl", "refresh_grace", "session_ttl", "secret_overlap", "max_stale_validation", "oauth1_token_ttl", "oauth1_timestamp_window", "allow_private_endpoints", "user", "login", "outgoing", "incoming", "registration", "client_id_metadata_documents")
	}
	return nil
}

// checkIncoming refuses a link whose name or client id an earlier one
// has.
func checkIncoming(earlier []links.ConfigLink, l links.ConfigLink) error {
	clientID := clientIDOf(l)
	what := "client_id"
	if l.OAuth1 != nil {
		what = "consumer key"
	}
	for _, o := range earlier {
		if o.Name == l.Name {
			return fmt.Errorf("incoming link %q is declared twice", l.Name)
		}
		if clientIDOf(o) == clientID {
			return fmt.Errorf("incoming link %q: %s %q is used by incoming link %q", l.Name, what, clientID, o.Name)
		}
	}
	return nil
}

// clientIDOf is the client id a declared link gets: its consumer key, its
// client_id or its name.
func clientIDOf(l links.ConfigLink) string {
	if l.OAuth1 != nil {
		return l.OAuth1.ConsumerKey
	}
	return cmp.Or(l.ClientID, l.Name)
}

// checkLogins checks the sign-in providers against each other: with
// several, each says whether e-mail addresses name users, and no two
// share a button name.
func checkLogins(logins []users.OIDCConfig) error {
	names := map[string]string{}
	for _, c := range logins {
		if c.TrustedEmail == nil && len(logins) > 1 {
			return fmt.Errorf("login oidc %s: with several providers, each must say whether its verified e-mail addresses name users (trusted_email on|off)", c.Issuer)
		}
		name := c.Name
		if name == "" {
			if u, err := url.Parse(c.Issuer); err == nil {
				name = u.Host
			}
		}
		if other, dup := names[name]; dup {
			return fmt.Errorf("login oidc %s: the provider %s is named %q too; give one a different name", c.Issuer, other, name)
		}
		names[name] = c.Issuer
	}
	return nil
}

func parseLogin(d *caddyfile.Dispenser) (users.OIDCConfig, error) {
	var c users.OIDCConfig
	if !d.NextArg() {
		return c, d.ArgErr()
	}
	if d.Val() != "oidc" {
		return c, d.Errf("login %s: the only sign-in method besides local users is oidc%s", d.Val(), nearest.Suggest(d.Val(), []string{"oidc"}))
	}
	if !d.NextArg() {
		return c, d.Err("login oidc needs the provider's issuer URL")
	}
	c.Issuer = d.Val()
	if d.NextArg() {
		return c, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "name":
			if err := singleArg(d, &c.Name); err != nil {
				return c, err
			}
		case "client_id":
			if err := singleArg(d, &c.ClientID); err != nil {
				return c, err
			}
		case "client_secret":
			if err := singleArg(d, &c.ClientSecret); err != nil {
				return c, err
			}
		case "scopes":
			if err := appendArgs(d, &c.Scopes); err != nil {
				return c, err
			}
		case "role_claim":
			if err := singleArg(d, &c.RoleClaim); err != nil {
				return c, err
			}
		case "role":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return c, d.ArgErr()
			}
			if _, err := scope.Parse(args[1]); err != nil {
				return c, d.Errf("role %s: %w", args[0], err)
			}
			if c.Roles == nil {
				c.Roles = map[string]string{}
			}
			c.Roles[args[0]] = args[1]
		case "default_role":
			if err := singleArg(d, &c.DefaultRole); err != nil {
				return c, err
			}
			if c.DefaultRole != "NONE" {
				if _, err := scope.Parse(c.DefaultRole); err != nil {
					return c, d.Errf("default_role: %w (or NONE)", err)
				}
			}
		case "allowed_domains":
			if err := appendArgs(d, &c.AllowedDomains); err != nil {
				return c, err
			}
		case "trusted_email":
			var v string
			if err := singleArg(d, &v); err != nil {
				return c, err
			}
			if v != "on" && v != "off" {
				return c, d.Errf("trusted_email %s: want on or off", v)
			}
			trusted := v == "on"
			c.TrustedEmail = &trusted
		default:
			return c, unrecognized(d, "name", "client_id", "client_secret", "scopes", "role_claim", "role", "default_role", "allowed_domains", "trusted_email")
		}
	}
	return c, nil
}

func parseOutgoing(d *caddyfile.Dispenser) (outgoing.ConfigLink, error) {
	var l outgoing.ConfigLink
	if err := singleArg(d, &l.Name); err != nil {
		return l, err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "provider":
			if !d.NextArg() {
				return l, d.ArgErr()
			}
			name := d.Val()
			if err := knownModule(d, "provider", "applinks.providers", name); err != nil {
				return l, err
			}
			mod, err := caddyfile.UnmarshalModule(d, "applinks.providers."+name)
			if err != nil {
				return l, err
			}
			l.ProviderRaw = caddyconfig.JSONModuleObject(mod, "provider", name, nil)
		case "client_id":
			if err := singleArg(d, &l.ClientID); err != nil {
				return l, err
			}
		case "client_secret":
			if err := singleArg(d, &l.ClientSecret); err != nil {
				return l, err
			}
		case "scopes":
			if err := appendArgs(d, &l.Scopes); err != nil {
				return l, err
			}
		case "mode":
			if err := singleArg(d, &l.Mode); err != nil {
				return l, err
			}
			if l.Mode != outgoing.ModePerUser && l.Mode != outgoing.ModeShared {
				return l, d.Errf("mode %q: want per_user or shared%s", l.Mode, nearest.Suggest(l.Mode, []string{outgoing.ModePerUser, outgoing.ModeShared}))
			}
		case "oauth1":
			o, err := parseOutgoingOAuth1(d)
			if err != nil {
				return l, err
			}
			l.OAuth1 = o
		default:
			return l, unrecognized(d, "provider", "client_id", "client_secret", "scopes", "mode", "oauth1")
		}
	}
	return l, nil
}

// parseOutgoingOAuth1 reads an outgoing link's oauth1 line and block.
//
// Syntax:
//
//	oauth1 <application URL> {
//		consumer_key <key>
//	}
func parseOutgoingOAuth1(d *caddyfile.Dispenser) (*outgoing.OAuth1Config, error) {
	o := new(outgoing.OAuth1Config)
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	o.ApplicationURL = d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "consumer_key":
			if err := singleArg(d, &o.ConsumerKey); err != nil {
				return nil, err
			}
		default:
			return nil, unrecognized(d, "consumer_key")
		}
	}
	return o, nil
}

// parseOutgoingToken sets up the outgoing_token handler.
//
// Syntax:
//
//	outgoing_token [<matcher>] <link> {
//		allow_anonymous
//	}
func parseOutgoingToken(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next()
	handler := new(inject.Handler)
	if !h.NextArg() {
		return nil, h.Err("outgoing_token needs the name of an outgoing link")
	}
	handler.Link = h.Val()
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		switch sub := h.Val(); sub {
		case "allow_anonymous":
			if h.NextArg() {
				return nil, h.ArgErr()
			}
			handler.AllowAnonymous = true
		default:
			return nil, unrecognized(h.Dispenser, "allow_anonymous")
		}
	}
	return handler, nil
}

func parseIncoming(d *caddyfile.Dispenser) (links.ConfigLink, error) {
	var l links.ConfigLink
	if err := singleArg(d, &l.Name); err != nil {
		return l, err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "redirect_uri":
			uris := d.RemainingArgs()
			if len(uris) == 0 {
				return l, d.ArgErr()
			}
			l.RedirectURIs = append(l.RedirectURIs, uris...)
		case "scope":
			if err := singleArg(d, &l.Scope); err != nil {
				return l, err
			}
			if _, err := scope.Parse(l.Scope); err != nil {
				return l, d.WrapErr(err)
			}
		case "client_id":
			if err := singleArg(d, &l.ClientID); err != nil {
				return l, err
			}
		case "client_secret":
			if err := singleArg(d, &l.ClientSecret); err != nil {
				return l, err
			}
		case "require_pkce":
			if d.NextArg() {
				return l, d.ArgErr()
			}
			l.RequirePKCE = true
		case "public":
			if d.NextArg() {
				return l, d.ArgErr()
			}
			l.Public = true
		case "client_credentials":
			if err := singleArg(d, &l.ClientCredentials); err != nil {
				return l, err
			}
		case "oauth1":
			if l.OAuth1 != nil {
				return l, d.Err("oauth1 given twice")
			}
			c, err := parseOAuth1(d)
			if err != nil {
				return l, err
			}
			l.OAuth1 = c
		default:
			return l, unrecognized(d, "redirect_uri", "scope", "client_id", "client_secret", "require_pkce", "public", "client_credentials", "oauth1")
		}
	}
	return l, nil
}

// parseHandler sets up the applinks handler, which takes no options.
//
// Syntax:
//
//	applinks
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next()
	if h.NextArg() || h.NextBlock(h.Nesting()) {
		return nil, h.Err("applinks takes no arguments; configure it in the global applinks option")
	}
	return new(gateway.Handler), nil
}

// parseRequireToken sets up the guard.
//
// Syntax:
//
//	require_token [<matcher>] [<scope>] {
//		session
//		realm <realm>
//		resource <path-or-URL>
//		mcp {
//			tool <name> <READ|WRITE|ADMIN|SYSTEM_ADMIN>
//		}
//	}
func parseRequireToken(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next()
	g := new(guard.Guard)
	if h.NextArg() {
		if _, err := scope.Parse(h.Val()); err != nil {
			return nil, h.Errf("require_token: %v", err)
		}
		g.Scope = h.Val()
		if h.NextArg() {
			return nil, h.ArgErr()
		}
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		switch sub := h.Val(); sub {
		case "session":
			if h.NextArg() {
				return nil, h.ArgErr()
			}
			g.Session = true
		case "realm":
			if err := singleArg(h.Dispenser, &g.Realm); err != nil {
				return nil, err
			}
		case "resource":
			if err := singleArg(h.Dispenser, &g.Resource); err != nil {
				return nil, err
			}
			if _, err := resource.Parse(g.Resource); err != nil {
				return nil, h.Errf("require_token: %v", err)
			}
		case "mcp":
			if g.MCP != nil {
				return nil, h.Err("require_token: mcp given twice")
			}
			m, err := parseMCP(h.Dispenser)
			if err != nil {
				return nil, err
			}
			g.MCP = m
		default:
			return nil, unrecognized(h.Dispenser, "session", "realm", "resource", "mcp")
		}
	}
	return g, nil
}

// parseMCP reads the mcp block of require_token.
//
// Syntax:
//
//	mcp {
//		tool <name> <READ|WRITE|ADMIN|SYSTEM_ADMIN>
//	}
func parseMCP(d *caddyfile.Dispenser) (*guard.MCP, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	m := &guard.MCP{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "tool":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.ArgErr()
			}
			if _, err := scope.Parse(args[1]); err != nil {
				return nil, d.Errf("mcp: tool %q: %v", args[0], err)
			}
			if _, dup := m.Tools[args[0]]; dup {
				return nil, d.Errf("mcp: tool %q given twice", args[0])
			}
			if m.Tools == nil {
				m.Tools = map[string]string{}
			}
			m.Tools[args[0]] = args[1]
		default:
			return nil, unrecognized(d, "tool")
		}
	}
	return m, nil
}

func singleArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// appendArgs appends the rest of the line's arguments, at least one, to dst.
func appendArgs(d *caddyfile.Dispenser, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	var s string
	if err := singleArg(d, &s); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%s: %v", d.Val(), err)
	}
	if v <= 0 {
		return d.Errf("duration %s must be positive", strconv.Quote(s))
	}
	*dst = caddy.Duration(v)
	return nil
}
