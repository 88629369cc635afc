package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// linkView is an incoming link as the API shows it: never a secret.
type linkView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Direction    string   `json:"direction"`
	Source       string   `json:"source"`
	ClientID     string   `json:"client_id"`
	RedirectURIs []string `json:"redirect_uris"`
	Scope        string   `json:"scope"`
	RequirePKCE  bool     `json:"require_pkce,omitempty"`
	// Public: a client without a secret (token_endpoint_auth_method none).
	Public bool `json:"public,omitempty"`
	// ClientCredentials is the user the link acts as with the
	// client_credentials grant.
	ClientCredentials string `json:"client_credentials,omitempty"`
	// Registered: the client registered itself (RFC 7591).
	Registered bool `json:"registered,omitempty"`
	// Disabled: the link may not authorize, and its tokens are refused,
	// until enabled again.
	Disabled bool `json:"disabled,omitempty"`
	// Authentication is how the application authenticates: oauth2, or
	// oauth1 for an OAuth 1.0a consumer (then described by OAuth1).
	Authentication string        `json:"authentication"`
	OAuth1         *consumerView `json:"oauth1,omitempty"`
	CreatedAt      time.Time     `json:"created_at,omitzero"`
	CreatedBy      string        `json:"created_by,omitempty"`
	// ClientSecret is set only in the answer that creates or rotates it.
	ClientSecret string `json:"client_secret,omitempty"`
}

func view(l links.Link) linkView {
	v := linkView{ID: l.ID, Name: l.Name, Direction: "incoming", Source: l.Source, ClientID: l.ClientID, RedirectURIs: l.RedirectURIs, Scope: l.Ceiling.String(), RequirePKCE: l.RequirePKCE, Public: l.Public, ClientCredentials: l.ServiceUser, Registered: l.Registered, Disabled: l.Disabled, Authentication: "oauth2", CreatedAt: l.CreatedAt, CreatedBy: l.CreatedBy}
	if l.IsOAuth1() {
		v.Authentication, v.OAuth1 = "oauth1", consumerOf(l)
	}
	return v
}

// serveLinks lists (GET) or creates (POST) incoming links.
func (a *API) serveLinks(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		all, err := app.Links().List(r.Context())
		if err != nil {
			return internal(err)
		}
		out := make([]linkView, len(all))
		for i, l := range all {
			out[i] = view(l)
		}
		return writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var in struct {
			Name         string   `json:"name"`
			RedirectURIs []string `json:"redirect_uris"`
			Scope        string   `json:"scope"`
			RequirePKCE  bool     `json:"require_pkce"`
			Public       bool     `json:"public"`
			// OAuth1 creates an OAuth 1.0a consumer instead.
			OAuth1 *newConsumer `json:"oauth1"`
		}
		if err := readJSON(r, &in); err != nil {
			return err
		}
		ceiling, err := scope.Parse(in.Scope)
		if err != nil {
			return bad(err)
		}
		if in.OAuth1 != nil {
			if len(in.RedirectURIs) > 0 || in.RequirePKCE || in.Public {
				return bad(errors.New("an OAuth 1.0a consumer has no redirect_uris, require_pkce or public"))
			}
			return a.createConsumer(w, r, app, in.Name, ceiling, *in.OAuth1)
		}
		l, sec, err := app.Links().Create(r.Context(), links.NewLink{Name: in.Name, RedirectURIs: in.RedirectURIs, Ceiling: ceiling, RequirePKCE: in.RequirePKCE, Public: in.Public, CreatedBy: actor})
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict(fmt.Errorf("a link named %q exists, or it is another link's id", in.Name))
		}
		if err != nil {
			return bad(err)
		}
		v := view(l)
		v.ClientSecret = sec
		return writeJSON(w, http.StatusCreated, v)
	}
	return methodNotAllowed(w, "GET, POST")
}

// serveLink shows (GET), edits (PATCH) or deletes (DELETE)
// /applinks/links/<id or name>, shows its credentials (GET …/credentials)
// and rotates its secret (POST …/rotate-secret).
func (a *API) serveLink(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	ref, action, err := pathRef(r, "/applinks/links/")
	if err != nil {
		return err
	}
	l, err := findLink(r, app, ref)
	if err != nil {
		return err
	}
	switch {
	case action == "" && r.Method == http.MethodGet:
		return writeJSON(w, http.StatusOK, view(l))
	case action == "" && r.Method == http.MethodPatch:
		return a.patchLink(w, r, app, l)
	case action == "" && r.Method == http.MethodDelete:
		if err := app.Links().Delete(r.Context(), l.ID, actor); errors.Is(err, links.ErrReadOnly) {
			return conflict(err)
		} else if errors.Is(err, store.ErrNotFound) {
			return notFound("link", ref)
		} else if err != nil {
			return internal(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case action == "credentials" && r.Method == http.MethodGet:
		if l.IsOAuth1() {
			return consumerCredentials(w, app, l)
		}
		if l.Public {
			return writeJSON(w, http.StatusOK, map[string]string{"client_id": l.ClientID})
		}
		sec, err := app.Links().Secret(l)
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, map[string]string{"client_id": l.ClientID, "client_secret": sec})
	case action == "rotate-secret" && r.Method == http.MethodPost:
		return a.rotateSecret(w, r, app, l)
	}
	return notFound("route", r.Method+" "+r.URL.Path)
}

// findLink returns the incoming link whose id or name is ref, or the API
// error saying why there is none.
func findLink(r *http.Request, app *applinks.App, ref string) (links.Link, error) {
	l, err := app.Links().Find(r.Context(), ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return links.Link{}, notFound("link", ref)
	case errors.Is(err, links.ErrAmbiguous):
		return links.Link{}, conflict(err)
	case err != nil:
		return links.Link{}, internal(err)
	}
	return l, nil
}

// rotateSecret gives link l a new client secret; the previous ones keep
// working for the overlap.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, app *applinks.App, l links.Link) error {
	var in struct {
		// Overlap is how long the previous secrets keep working; 0
		// revokes them at once. Absent: secret_overlap.
		Overlap *caddy.Duration `json:"overlap"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(r, &in); err != nil {
			return err
		}
	}
	overlap := time.Duration(app.SecretOverlap)
	if in.Overlap != nil {
		overlap = time.Duration(*in.Overlap)
	}
	if overlap < 0 {
		return bad(errors.New("overlap must not be negative"))
	}
	if l.IsOAuth1() && l.OAuth1.PublicKey != "" {
		return conflict(errors.New("the OAuth 1.0a consumer signs with its RSA key: it has no shared secret to rotate"))
	}
	sec, err := app.Links().RotateSecret(r.Context(), l.ID, overlap, actor)
	if errors.Is(err, links.ErrReadOnly) || errors.Is(err, links.ErrPublic) {
		return conflict(err)
	} else if err != nil {
		return internal(err)
	}
	if l.IsOAuth1() {
		return writeJSON(w, http.StatusOK, map[string]string{"consumer_key": l.ClientID, "shared_secret": sec})
	}
	return writeJSON(w, http.StatusOK, map[string]string{"client_id": l.ClientID, "client_secret": sec})
}

// patchLink edits an incoming link: the fields sent replace the link's,
// those left out stay. Tokens already issued are held to a lowered scope
// from their next request on; "disabled" refuses them (and the link's
// requests for new ones) until it is false again.
func (a *API) patchLink(w http.ResponseWriter, r *http.Request, app *applinks.App, l links.Link) error {
	var in struct {
		RedirectURIs []string `json:"redirect_uris"`
		Scope        string   `json:"scope"`
		RequirePKCE  *bool    `json:"require_pkce"`
		Disabled     *bool    `json:"disabled"`
		// OAuth1 changes an OAuth 1.0a consumer's settings.
		OAuth1 *consumerPatch `json:"oauth1"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	if l.Source == links.SourceConfig {
		return conflict(links.ErrReadOnly)
	}
	updated := l
	switch {
	case l.IsOAuth1() && (in.RedirectURIs != nil || in.RequirePKCE != nil):
		return bad(errors.New("an OAuth 1.0a consumer has no redirect_uris or require_pkce: change its oauth1 settings"))
	case !l.IsOAuth1() && in.OAuth1 != nil:
		return bad(errors.New("oauth1 settings are for OAuth 1.0a consumers; this link is an OAuth 2.0 client"))
	case l.IsOAuth1() && (in.Scope != "" || in.OAuth1 != nil || in.Disabled == nil):
		var err error
		if updated, err = patchConsumer(r, app, l, in.Scope, in.OAuth1); err != nil {
			return err
		}
	case !l.IsOAuth1() && (in.RedirectURIs != nil || in.Scope != "" || in.RequirePKCE != nil || in.Disabled == nil):
		var err error
		if updated, err = applyEdit(r, app, l, in.RedirectURIs, in.Scope, in.RequirePKCE); err != nil {
			return err
		}
	}
	if in.Disabled != nil {
		var err error
		if updated, err = app.Links().SetDisabled(r.Context(), l.ID, *in.Disabled, actor); err != nil {
			return linkChangeError(err, l.ID, internal)
		}
	}
	return writeJSON(w, http.StatusOK, view(updated))
}

// applyEdit changes the redirect URIs, scope and PKCE requirement of link
// l to those given; nil or empty ones stay.
func applyEdit(r *http.Request, app *applinks.App, l links.Link, redirectURIs []string, scopeName string, requirePKCE *bool) (links.Link, error) {
	edit := links.Edit{RedirectURIs: l.RedirectURIs, Ceiling: l.Ceiling, RequirePKCE: l.RequirePKCE}
	if redirectURIs != nil {
		edit.RedirectURIs = redirectURIs
	}
	if scopeName != "" {
		ceiling, err := scope.Parse(scopeName)
		if err != nil {
			return links.Link{}, bad(err)
		}
		edit.Ceiling = ceiling
	}
	if requirePKCE != nil {
		edit.RequirePKCE = *requirePKCE
	}
	updated, err := app.Links().Update(r.Context(), l.ID, edit, actor)
	if err != nil {
		return links.Link{}, linkChangeError(err, l.ID, bad)
	}
	return updated, nil
}

// linkChangeError is the API error of a failed change of link id: a
// declared link is read-only, a gone one not found, the rest as other
// says.
func linkChangeError(err error, id string, other func(error) error) error {
	switch {
	case errors.Is(err, links.ErrReadOnly):
		return conflict(err)
	case errors.Is(err, store.ErrNotFound):
		return notFound("link", id)
	}
	return other(err)
}
