// Package gateway is the `applinks` HTTP handler: it serves the gateway's
// own paths (OAuth endpoints, metadata, sign-in, consent, static assets)
// and passes every other request to the next handler.
package gateway

import (
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/adminui"
	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/oauth"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/unavailable"
	"github.com/applinks/caddy-applinks/module/users"
	"github.com/applinks/caddy-applinks/module/web"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Handler serves the paths of the gateway (SPEC §3) and passes all other
// requests on, without the gateway's cookies and token
// (users.StripCredentials). It needs no configuration: state lives in the
// applinks app.
type Handler struct {
	app    *applinks.App
	oauth  *oauth.Server
	signIn *users.SignIn
	admin  *adminui.UI
	routes map[string]func(http.ResponseWriter, *http.Request) error
}

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.applinks",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision connects the handler to the applinks app.
func (h *Handler) Provision(ctx caddy.Context) error {
	appIface, err := ctx.App("applinks")
	if err != nil {
		return err
	}
	h.app = appIface.(*applinks.App)
	h.oauth = oauth.New(h.app)
	h.admin = adminui.New(h.app)
	limits := h.app.Limits()
	h.signIn = &users.SignIn{
		Users:     h.app.Users(),
		Sessions:  h.app.Sessions(),
		Pages:     h.app.Pages(),
		ByAddress: limits.LoginByAddress,
		ByUser:    limits.LoginByUser,
		Known:     limits.KnownSignIns,
		Audit:     h.app.Audit(),
		Now:       time.Now,

		OIDC:         h.app.OIDCLogin(),
		PasswordForm: h.app.PasswordSignIn,
		Observe:      h.app.Metrics().SignedIn,
	}
	h.routes = map[string]func(http.ResponseWriter, *http.Request) error{
		oauth.AuthorizePath:           h.oauth.ServeAuthorize,
		oauth.TokenPath:               h.oauth.ServeToken,
		oauth.RevokePath:              h.oauth.ServeRevoke,
		oauth.IntrospectPath:          h.oauth.ServeIntrospect,
		oauth.RegisterPath:            h.oauth.ServeRegister,
		oauth.ConsentPath:             h.oauth.ServeConsent,
		oauth.ServerMetadataPath:      h.oauth.ServeServerMetadata,
		oauth.ResourceMetadataPath:    h.oauth.ServeResourceMetadata,
		oauth.OpenIDConfigurationPath: h.oauth.ServeOpenIDConfiguration,
		oauth.JWKSPath:                h.oauth.ServeJWKS,
		oauth.UserInfoPath:            h.oauth.ServeUserInfo,
		oauth.RequestTokenPath:        h.oauth.ServeRequestToken,
		oauth.OAuth1AuthorizePath:     h.oauth.ServeOAuth1Authorize,
		oauth.AccessTokenPath:         h.oauth.ServeAccessToken,
		users.LoginPath:               h.signIn.ServeLogin,
		users.LogoutPath:              h.signIn.ServeLogout,
		AccountPath:                   h.serveAccount,
		users.OIDCStartPath:           h.app.OIDCLogin().ServeStart,
		users.OIDCLegacyCallbackPath:  h.app.OIDCLogin().ServeCallback,
		outgoing.ConsumerInfoPath:     h.serveConsumerInfo,
	}
	return nil
}

// ServeHTTP serves a gateway path or calls next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if route, ok := h.routes[r.URL.Path]; ok {
		return h.unavailable(w, r, route(w, r))
	}
	if adminui.Owns(r.URL.Path) {
		h.admin.ServeHTTP(w, r)
		return nil
	}
	if strings.HasPrefix(r.URL.Path, users.OIDCCallbackPrefix) {
		return h.unavailable(w, r, h.app.OIDCLogin().ServeCallback(w, r))
	}
	if strings.HasPrefix(r.URL.Path, outgoing.ConnectPrefix) {
		return h.unavailable(w, r, h.serveConnect(w, r))
	}
	if strings.HasPrefix(r.URL.Path, outgoing.CallbackPrefix) {
		return h.unavailable(w, r, h.serveCallback(w, r))
	}
	if strings.HasPrefix(r.URL.Path, oauth.ResourceMetadataPath+"/") && h.oauth.ServeGuardedResourceMetadata(w, r) {
		return nil
	}
	if strings.HasPrefix(r.URL.Path, web.StaticPrefix) {
		h.app.Pages().ServeStatic(w, r)
		return nil
	}
	// The gateway's cookies and token never go on; require_token and
	// outgoing_token after this handler still find them.
	return next.ServeHTTP(w, users.StripCredentials(r))
}

// unavailable answers err, a route's error, with a page saying the
// service is unavailable (503, Retry-After) when the store cannot be
// reached (routes return errors before they write), or, for a client that
// does not ask for HTML, with a bare 503; any other error goes on to
// Caddy's error handling as it is.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) error {
	if !unavailable.Is(err) {
		return err
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return unavailable.Error(w, err)
	}
	if c := h.app.Logger().Check(zapcore.WarnLevel, "storage unavailable"); c != nil {
		c.Write(zap.String("path", r.URL.Path), zap.Error(err))
	}
	h.app.Pages().Unavailable(w, unavailable.RetryAfter)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
