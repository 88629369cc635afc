// Package guard is the require_token handler: it lets a request through to
// the upstream only with a valid gateway access token (or, optionally, a
// signed-in session) whose effective scope covers the request.
package guard

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/grants"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/resource"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/token"
	"github.com/applinks/caddy-applinks/module/unavailable"
	"github.com/applinks/caddy-applinks/module/users"
)

func init() {
	caddy.RegisterModule(new(Guard))
}

// Identity headers set for the upstream; the same headers sent by a client
// are always removed.
const (
	HeaderUser     = "X-Forwarded-User"
	HeaderScope    = "X-Forwarded-Scope"
	HeaderClientID = "X-Forwarded-Client-Id"
)

// identityVar is the request variable that carries the identity from the
// first require_token of a request to the next ones.
const identityVar = "applinks.identity"

// maxAuthorizationLen bounds the Authorization header we look at; longer
// values cannot hold one of our tokens.
const maxAuthorizationLen = 1024

// Guard requires a gateway access token, or a request signed by an OAuth
// 1.0a consumer (`Authorization: OAuth`, or the protocol parameters in the
// query or form body): with an access token of the gateway or, where its
// link allows, two-legged. With no scope it applies
// Confluence's rule: GET, HEAD and OPTIONS need READ, every other method
// WRITE; with MCP it judges the JSON-RPC messages instead. A scope adds a
// stricter ceiling for the requests it handles. Several guards on one
// request validate the token once.
//
// Every 401 and 403 names, in WWW-Authenticate, the scope the request
// needs and the RFC 9728 metadata of the protected resource. A token bound
// to another resource (RFC 8707) is refused. Signed OAuth 1.0a requests
// are refused as that protocol words it: `WWW-Authenticate: OAuth
// realm="…", oauth_problem="…"`, 403 permission_denied for too little
// permission; where some link is a consumer, a request without
// credentials is offered the OAuth scheme beside Bearer.
//
// The effective permission is min(token scope, the user's current role,
// the link's current ceiling), re-checked on every request: a revoked
// grant, a deleted link or a disabled user is refused on the next request,
// and a lowered role or link ceiling is felt on it.
//
// After a request passes, these placeholders are set and the upstream gets
// matching headers (client-sent copies are removed first); no credential
// of the gateway is forwarded (users.StripCredentials):
//
// Placeholder | Header | Description
// ------------|--------|------------
// `{http.auth.user.id}` | X-Forwarded-User | the user name
// `{http.auth.user.scope}` | X-Forwarded-Scope | the effective scope
// `{http.auth.user.client_id}` | X-Forwarded-Client-Id | the link's client id; empty for a session
type Guard struct {
	// Scope is the least scope matched requests need, on top of the
	// method rule: READ, WRITE, ADMIN or SYSTEM_ADMIN. Default: the method
	// rule alone.
	Scope string `json:"scope,omitempty"`
	// Session lets a person signed in to the gateway through with their
	// role as scope, so browsers and API clients share one guarded site.
	// Browsers without a session are sent to sign in. A request that is
	// not GET, HEAD or OPTIONS and comes from another site (Sec-Fetch-Site
	// or Origin) cannot use the session: 403.
	Session bool `json:"session,omitempty"`
	// Realm is sent in WWW-Authenticate. Default: applinks.
	Realm string `json:"realm,omitempty"`
	// Resource is the protected resource (RFC 9728, RFC 8707): a path of
	// the site, taken on the issuer's origin (/mcp), or an absolute URL.
	// Its metadata is served at the path-inserted well-known URL
	// (/.well-known/oauth-protected-resource/mcp), it is a resource
	// indicator the authorization server accepts, and tokens bound to
	// another resource are refused. Default: the issuer's origin, whose
	// metadata is /.well-known/oauth-protected-resource.
	Resource string `json:"resource,omitempty"`
	// MCP judges Model Context Protocol (JSON-RPC) requests by their
	// messages instead of their HTTP method. Default: off.
	MCP *MCP `json:"mcp,omitempty"`

	app    *applinks.App
	need   scope.Scope
	res    *resource.Resource
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (*Guard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.require_token",
		New: func() caddy.Module { return new(Guard) },
	}
}

// Provision connects the guard to the applinks app.
func (g *Guard) Provision(ctx caddy.Context) error {
	g.logger = ctx.Logger()
	if g.Realm == "" {
		g.Realm = "applinks"
	}
	if g.Scope != "" {
		s, err := scope.Parse(g.Scope)
		if err != nil {
			return err
		}
		g.need = s
	}
	app, err := ctx.App("applinks")
	if err != nil {
		return err
	}
	g.app = app.(*applinks.App)
	if g.Resource != "" {
		res, err := resource.Parse(g.Resource)
		if err != nil {
			return err
		}
		g.res = &res
		g.app.RegisterResource(res)
	}
	if g.MCP != nil {
		if err := g.MCP.provision(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the configuration.
func (g *Guard) Validate() error {
	if g.Scope != "" {
		if _, err := scope.Parse(g.Scope); err != nil {
			return err
		}
	}
	if g.Resource != "" {
		if _, err := resource.Parse(g.Resource); err != nil {
			return err
		}
	}
	if strings.ContainsAny(g.Realm, "\"\\") {
		return fmt.Errorf("realm %q must not contain quotes or backslashes", g.Realm)
	}
	return nil
}

// Identity is who a request acts for after the guard let it through.
type Identity struct {
	UserID   string
	ClientID string
	Scope    scope.Scope
	// Resource is the RFC 8707 resource the token is bound to; "" for
	// none (and for a session).
	Resource string
	// OAuth1: the request was signed by an OAuth 1.0a consumer, whose
	// refusals are worded as OAuth 1.0a's.
	OAuth1 bool
}

// ServeHTTP lets the request through or answers 401/403 per RFC 6750.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// The upstream never gets the gateway's cookies or token; this guard
	// still reads them from r.
	r = users.StripCredentials(r)
	need, err := g.needOf(r)
	if err != nil {
		var re *rpcError
		if errors.As(err, &re) {
			writeRPCError(w, re)
			return nil
		}
		return err
	}
	if id, ok := caddyhttp.GetVar(r.Context(), identityVar).(*Identity); ok && id != nil {
		if !g.accepts(r, id.Resource) {
			return g.refuse(w, r, errOtherResource, need)
		}
		if !id.Scope.Includes(need) {
			return g.insufficient(w, r, id, need)
		}
		return next.ServeHTTP(w, r)
	}
	// Never trust identity headers from the client.
	r.Header.Del(HeaderUser)
	r.Header.Del(HeaderScope)
	r.Header.Del(HeaderClientID)

	id, err := g.identify(w, r)
	if err != nil {
		return g.refuse(w, r, err, need)
	}
	if id == nil {
		return nil // answered (a browser sent to sign in)
	}
	if !g.accepts(r, id.Resource) {
		return g.refuse(w, r, errOtherResource, need)
	}
	if !id.Scope.Includes(need) {
		return g.insufficient(w, r, id, need)
	}
	caddyhttp.SetVar(r.Context(), identityVar, id)
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.auth.user.id", id.UserID)
	repl.Set("http.auth.user.scope", id.Scope.String())
	repl.Set("http.auth.user.client_id", id.ClientID)
	r.Header.Set(HeaderUser, id.UserID)
	r.Header.Set(HeaderScope, id.Scope.String())
	if id.ClientID != "" {
		r.Header.Set(HeaderClientID, id.ClientID)
	}
	return next.ServeHTTP(w, r)
}

// IdentityOf returns who a request acts for after a require_token let it
// through, or nil.
func IdentityOf(r *http.Request) *Identity {
	id, _ := caddyhttp.GetVar(r.Context(), identityVar).(*Identity)
	return id
}

// refusal is why a request is refused: 401, or status when set.
type refusal struct {
	code        string // "" when no credentials were sent
	description string
	status      int
}

func (e *refusal) Error() string { return e.description }

// errOtherResource refuses a token bound to a resource the guard does not
// protect.
var errOtherResource = &refusal{code: oautherror.InvalidToken, description: "the access token is for another resource"}

// identify finds who the request acts for: the access token of the
// Authorization header, else (with Session) the signed-in person. It
// returns a nil identity when it has answered the request itself.
func (g *Guard) identify(w http.ResponseWriter, r *http.Request) (*Identity, error) {
	if g.mayBeSigned(r) {
		if id, err := g.identifyOAuth1(w, r); id != nil || err != nil {
			return id, err
		}
	}
	tok, present, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	if !present {
		if g.Session {
			sess, ok, err := g.app.Sessions().Current(r)
			if err != nil {
				return nil, unavailable.Error(w, err)
			}
			if ok {
				if err := g.app.Sessions().CheckOrigin(r); err != nil {
					return nil, &refusal{code: oautherror.AccessDenied, description: "a cross-site request cannot act with the gateway session; send a bearer token", status: http.StatusForbidden}
				}
				return &Identity{UserID: sess.User.Name, Scope: sess.User.Role}, nil
			}
			if wantsHTML(r) {
				http.Redirect(w, r, users.LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
				return nil, nil
			}
		}
		return nil, &refusal{description: "a bearer token is required"}
	}
	a, err := g.app.Tokens().Validate(r.Context(), tok)
	if errors.Is(err, grants.ErrInvalidToken) {
		return nil, &refusal{code: oautherror.InvalidToken, description: "the access token is invalid, expired or revoked"}
	}
	if err != nil {
		// Refuse rather than trust a validation the store cannot confirm.
		return nil, unavailable.Error(w, fmt.Errorf("validating access token: %w", err))
	}
	return &Identity{UserID: a.UserID, ClientID: a.ClientID, Scope: a.Scope, Resource: a.Resource}, nil
}

// BearerToken reads a gateway access token from `Authorization: Bearer
// <token>` or from the password of Basic auth (Atlassian's way). present is
// false when no Authorization header was sent; err describes a malformed
// header or a token that is not one of the gateway's access tokens.
func BearerToken(r *http.Request) (tok string, present bool, err error) {
	return bearerToken(r)
}

func bearerToken(r *http.Request) (tok string, present bool, err error) {
	values := users.Authorization(r)
	if len(values) == 0 || len(values) == 1 && values[0] == "" {
		return "", false, nil
	}
	if len(values) > 1 {
		return "", true, &refusal{code: oautherror.InvalidToken, description: "the request has several Authorization headers"}
	}
	h := values[0]
	if len(h) > maxAuthorizationLen {
		return "", true, &refusal{code: oautherror.InvalidToken, description: "the Authorization header is too long to hold an access token"}
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimLeft(rest, " ")
	switch {
	case isScheme(scheme, "bearer"):
		tok = rest
	case isScheme(scheme, "basic"):
		// Strict decoding and the re-encoding check refuse the spellings the
		// lenient decoder lets through (CR/LF inside, non-zero padding bits),
		// so one token has one Basic header and nothing can hide in it.
		raw, derr := base64.StdEncoding.Strict().DecodeString(rest)
		if derr != nil || base64.StdEncoding.EncodeToString(raw) != rest {
			return "", true, &refusal{code: oautherror.InvalidToken, description: "the Basic credentials are not valid base64"}
		}
		_, tok, _ = strings.Cut(string(raw), ":")
	default:
		return "", true, &refusal{code: oautherror.InvalidToken, description: "the Authorization header must use the Bearer scheme"}
	}
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", true, &refusal{code: oautherror.InvalidToken, description: "the Authorization header holds no single token"}
	}
	if token.Kind(tok) != token.Access {
		return "", true, &refusal{code: oautherror.InvalidToken, description: "not an access token of this gateway (wrong prefix or checksum)"}
	}
	return tok, true, nil
}

// isScheme reports whether scheme is name (lower-case ASCII letters) in
// any ASCII case.
// strings.EqualFold would also take "baſic" (with U+017F, which folds to
// s), a scheme no other reader of the header recognises.
func isScheme(scheme, name string) bool {
	if len(scheme) != len(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := scheme[i]; c|0x20 != name[i] {
			return false
		}
	}
	return true
}

// refuse answers 401 per RFC 6750 §3 (with no error attributes in the
// challenge when no credentials came, §3.1), or the refusal's status;
// other errors go to Caddy. The challenge names need, the scope the
// request needs.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, err error, need scope.Scope) error {
	var o1 *oauth1Refusal
	if errors.As(err, &o1) {
		return g.refuseOAuth1(w, r, o1.p)
	}
	var rf *refusal
	if !errors.As(err, &rf) {
		return err
	}
	if ce := g.logger.Check(zapcore.DebugLevel, "request refused"); ce != nil {
		ce.Write(zap.String("reason", rf.description), zap.String("uri", r.URL.Path))
	}
	if rf.status != 0 {
		oautherror.Write(w, &oautherror.Error{Code: rf.code, Description: rf.description, Status: rf.status, Challenge: g.challenge(r, "", "", need)})
		return nil
	}
	challenge := g.challenge(r, rf.code, rf.description, need)
	code := rf.code
	var others []string
	if code == "" {
		code = oautherror.Unauthorized
		// Without credentials the client may not know which scheme to
		// use: OAuth 1.0a consumers are offered theirs too.
		if g.app.Links().HasConsumers(r.Context()) {
			others = []string{oauth1.Challenge(g.Realm, nil)}
		}
	}
	oautherror.Write(w, &oautherror.Error{Code: code, Description: rf.description, Status: http.StatusUnauthorized, Challenge: challenge, OtherChallenges: others})
	return nil
}

// insufficient answers 403 insufficient_scope with the scope needed.
func (g *Guard) insufficient(w http.ResponseWriter, r *http.Request, id *Identity, need scope.Scope) error {
	if id.OAuth1 {
		return g.insufficientOAuth1(w, id, need)
	}
	desc := fmt.Sprintf("request does not have %s scope (the token grants %s)", strings.ToLower(need.String()), id.Scope)
	oautherror.Write(w, &oautherror.Error{
		Code:        oautherror.InsufficientScope,
		Description: desc,
		Status:      http.StatusForbidden,
		Challenge:   g.challenge(r, oautherror.InsufficientScope, desc, need),
		Extra:       map[string]string{"scope": need.String()},
	})
	return nil
}

// needOf is the scope the request needs: that of its MCP messages or its
// method, and at least the guard's Scope.
func (g *Guard) needOf(r *http.Request) (scope.Scope, error) {
	if g.MCP == nil {
		return max(methodScope(r.Method), g.need), nil
	}
	need, err := g.MCP.need(r)
	return max(need, g.need), err
}

// methodScope is Confluence's rule: reading methods need READ, all else
// WRITE.
func methodScope(method string) scope.Scope {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return scope.Read
	}
	return scope.Write
}

// wantsHTML reports whether the request is a browser navigation.
func wantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Guard)(nil)
	_ caddy.Validator             = (*Guard)(nil)
	_ caddyhttp.MiddlewareHandler = (*Guard)(nil)
)
