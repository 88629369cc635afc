package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/returnto"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
	"github.com/applinks/caddy-applinks/module/web"
)

// connectedPage is the page shown after connecting an outgoing link.
type connectedPage struct {
	Link     string
	Warning  string
	ReturnTo string
}

// outgoingLink finds the link named by the rest of the path after prefix.
func (h *Handler) outgoingLink(r *http.Request, prefix string) (*outgoing.Link, bool, error) {
	l, err := h.app.Outgoing().Link(r.Context(), strings.TrimPrefix(r.URL.Path, prefix))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	return l, err == nil, err
}

// unknownLink answers for a link that does not exist (err nil) or could
// not be loaded.
func (h *Handler) unknownLink(w http.ResponseWriter, err error) error {
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h.app.Pages().Error(w, http.StatusNotFound, "Unknown link", "This gateway has no outgoing link of that name.")
	return nil
}

// serveConnect starts connecting an outgoing link: per_user for the
// signed-in person, shared for an administrator.
func (h *Handler) serveConnect(w http.ResponseWriter, r *http.Request) error {
	l, ok, err := h.outgoingLink(r, outgoing.ConnectPrefix)
	if err != nil || !ok {
		return h.unknownLink(w, err)
	}
	sess, signedIn, err := h.app.Sessions().Current(r)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if !signedIn {
		http.Redirect(w, r, users.LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
		return nil
	}
	userID := sess.User.Name
	if l.Mode == outgoing.ModeShared {
		if !sess.User.Role.Includes(scope.Admin) {
			h.app.Pages().Error(w, http.StatusForbidden, "Administrators only", "Only an administrator can connect the shared account of "+l.Name+".")
			return nil
		}
		userID = ""
	}
	target, err := h.app.Outgoing().Start(r.Context(), l, userID, h.app.IssuerFor(r), returnto.Path(r.URL.Query().Get("return_to")))
	if errors.Is(err, outgoing.ErrProviderUnavailable) {
		h.app.Pages().Error(w, http.StatusBadGateway, "Provider unavailable", "The provider of "+l.Name+" cannot be reached right now. Try again in a moment.")
		return nil
	}
	var refusal *outgoing.RemoteRefusal
	if errors.As(err, &refusal) {
		h.app.Pages().Error(w, http.StatusBadGateway, l.Name+" refused this gateway", refusalAdvice(l.Name, refusal.Problem))
		return nil
	}
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	web.SetSecurityHeaders(w)
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// serveCallback finishes connecting: the provider's redirect URI.
func (h *Handler) serveCallback(w http.ResponseWriter, r *http.Request) error {
	l, ok, err := h.outgoingLink(r, outgoing.CallbackPrefix)
	if err != nil || !ok {
		return h.unknownLink(w, err)
	}
	var caller outgoing.Caller
	sess, signedIn, err := h.app.Sessions().Current(r)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if signedIn {
		caller = outgoing.Caller{UserID: sess.User.Name, Admin: sess.User.Role.Includes(scope.Admin)}
	}
	p, warning, err := h.app.Outgoing().Finish(r.Context(), l, r.URL.Query(), h.app.IssuerFor(r), caller)
	var ce *outgoing.CallbackError
	if errors.As(err, &ce) {
		h.app.Pages().Error(w, ce.Status, "Connecting "+l.Name+" failed", ce.Message)
		return nil
	}
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	back := returnto.Path(p.ReturnTo)
	if warning == "" && back != "" {
		returnto.Redirect(w, back)
		return nil
	}
	h.app.Pages().Render(w, http.StatusOK, "connected.html", web.Page{Title: "Connected", User: p.UserID, Data: connectedPage{Link: l.Name, Warning: warning, ReturnTo: back}})
	return nil
}

// refusalAdvice says what to do when the remote product of an OAuth 1.0a
// link refused the gateway's request for a request token.
func refusalAdvice(link, problem string) string {
	switch problem {
	case "consumer_key_unknown":
		return link + " does not know this gateway's consumer key. An administrator of " + link + " enters the consumer key and public key shown on this link's page in the gateway's administration as incoming authentication of its application link, then you connect again."
	case "signature_invalid":
		return link + " has another public key for this gateway's consumer key. An administrator of " + link + " enters the public key shown on this link's page in the gateway's administration as incoming authentication, then you connect again."
	case "timestamp_refused":
		return "The clocks of this gateway and " + link + " disagree by more than " + link + " allows. Set both by NTP, then connect again."
	}
	return link + " refused this gateway's request (oauth_problem=" + problem + "). Ask an administrator of " + link + " to check the incoming authentication of its application link."
}
