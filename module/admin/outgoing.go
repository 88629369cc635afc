package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
)

// outgoingView is an outgoing link as the API shows it: never a secret.
type outgoingView struct {
	Name            string   `json:"name"`
	Direction       string   `json:"direction"`
	Source          string   `json:"source"`
	Mode            string   `json:"mode"`
	ClientID        string   `json:"client_id"`
	Scopes          []string `json:"scopes,omitempty"`
	RedirectURIPath string   `json:"redirect_uri_path"`
	// OAuth1 is set for an OAuth 1.0a link.
	OAuth1 *oauth1View `json:"oauth1,omitempty"`
}

// oauth1View is what an OAuth 1.0a link is, and what the administrator
// of the remote product enters as its incoming authentication.
type oauth1View struct {
	ApplicationURL string `json:"application_url"`
	// ConsumerKey is the key the link signs with: its own, or the
	// gateway's when OwnConsumerKey is false.
	ConsumerKey     string `json:"consumer_key"`
	OwnConsumerKey  bool   `json:"own_consumer_key,omitempty"`
	PublicKey       string `json:"public_key"`
	RequestTokenURL string `json:"request_token_url"`
	AuthorizeURL    string `json:"authorize_url"`
	AccessTokenURL  string `json:"access_token_url"`
}

func outgoingViewOf(r *http.Request, app *applinks.App, l *outgoing.Link) (outgoingView, error) {
	source := "runtime"
	if app.Outgoing().Declared(l.Name) {
		source = "config"
	}
	v := outgoingView{Name: l.Name, Direction: "outgoing", Source: source, Mode: l.Mode, ClientID: l.ClientID, Scopes: l.Scopes, RedirectURIPath: outgoing.CallbackPrefix + l.Name}
	if l.OAuth1 != nil {
		c, err := app.Outgoing().Consumer(r.Context())
		if err != nil {
			return v, err
		}
		ep := l.OAuth1.Endpoints()
		v.OAuth1 = &oauth1View{ApplicationURL: l.OAuth1.ApplicationURL, ConsumerKey: c.ConsumerKey(l), OwnConsumerKey: l.OAuth1.ConsumerKey != "",
			PublicKey: c.PublicKeyPEM(), RequestTokenURL: ep.RequestTokenURL, AuthorizeURL: ep.AuthorizeURL, AccessTokenURL: ep.AccessTokenURL}
	}
	return v, nil
}

// serveOutgoingLinks lists (GET) or creates (POST) outgoing links.
func (a *API) serveOutgoingLinks(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		names, err := app.Outgoing().Names(r.Context())
		if err != nil {
			return internal(err)
		}
		out := []outgoingView{}
		for _, n := range names {
			l, err := app.Outgoing().Link(r.Context(), n)
			if err != nil {
				return internal(err)
			}
			v, err := outgoingViewOf(r, app, l)
			if err != nil {
				return internal(err)
			}
			out = append(out, v)
		}
		return writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var in outgoing.ConfigLink
		if err := readJSON(r, &in); err != nil {
			return err
		}
		l, err := app.Outgoing().Create(r.Context(), outgoing.NewOutgoing{ConfigLink: in, CreatedBy: actor})
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict(fmt.Errorf("an outgoing link named %q exists", in.Name))
		}
		if err != nil {
			return bad(err)
		}
		made := map[string]string{"name": l.Name, "mode": l.Mode, "redirect_uri_path": outgoing.CallbackPrefix + l.Name}
		if l.OAuth1 != nil {
			v, err := outgoingViewOf(r, app, l)
			if err != nil {
				return internal(err)
			}
			made["consumer_key"], made["public_key"] = v.OAuth1.ConsumerKey, v.OAuth1.PublicKey
		}
		return writeJSON(w, http.StatusCreated, made)
	}
	return methodNotAllowed(w, "GET, POST")
}

// serveOutgoingLink shows (GET), edits (PATCH) or deletes (DELETE)
// /applinks/outgoing/<name>, the latter with its connections.
func (a *API) serveOutgoingLink(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	name, action, err := pathRef(r, "/applinks/outgoing/")
	if err != nil {
		return err
	}
	if action != "" {
		return notFound("route", r.Method+" "+r.URL.Path)
	}
	switch r.Method {
	case http.MethodGet:
		l, err := app.Outgoing().Link(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("outgoing link", name)
		}
		if err != nil {
			return internal(err)
		}
		v, err := outgoingViewOf(r, app, l)
		if err != nil {
			return internal(err)
		}
		return writeJSON(w, http.StatusOK, v)
	case http.MethodPatch:
		return a.patchOutgoingLink(w, r, app, name)
	case http.MethodDelete:
		return a.deleteOutgoingLink(w, r, app, name)
	}
	return methodNotAllowed(w, "GET, PATCH, DELETE")
}

// deleteOutgoingLink deletes an outgoing link with its connections.
func (a *API) deleteOutgoingLink(w http.ResponseWriter, r *http.Request, app *applinks.App, name string) error {
	switch err := app.Outgoing().Delete(r.Context(), name, actor); {
	case errors.Is(err, store.ErrNotFound):
		return notFound("outgoing link", name)
	case errors.Is(err, outgoing.ErrReadOnly):
		return conflict(err)
	case err != nil:
		return internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchOutgoingLink edits an outgoing link's client credentials, scopes
// and mode, or an OAuth 1.0a link's application URL, consumer key (empty:
// the gateway's) and mode: the fields sent replace the link's, those left
// out (and an empty client_secret) stay. Its provider and connections
// stay.
func (a *API) patchOutgoingLink(w http.ResponseWriter, r *http.Request, app *applinks.App, name string) error {
	var in struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		Scopes       []string `json:"scopes"`
		Mode         string   `json:"mode"`
		OAuth1       *struct {
			ApplicationURL *string `json:"application_url"`
			ConsumerKey    *string `json:"consumer_key"`
		} `json:"oauth1"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	cur, err := app.Outgoing().Link(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("outgoing link", name)
	}
	if err != nil {
		return internal(err)
	}
	edit := outgoing.EditOutgoing{ClientID: cur.ClientID, ClientSecret: in.ClientSecret, Scopes: cur.Scopes, Mode: cur.Mode}
	if in.ClientID != "" {
		edit.ClientID = in.ClientID
	}
	if in.Scopes != nil {
		edit.Scopes = in.Scopes
	}
	if in.Mode != "" {
		edit.Mode = in.Mode
	}
	if cur.OAuth1 != nil {
		if in.ClientID != "" || in.ClientSecret != "" || in.Scopes != nil {
			return bad(fmt.Errorf("outgoing link %q is an OAuth 1.0a link: it has no client_id, client_secret or scopes; change its oauth1 application_url or consumer_key", name))
		}
		o := *cur.OAuth1
		if in.OAuth1 != nil && in.OAuth1.ApplicationURL != nil {
			o.ApplicationURL = *in.OAuth1.ApplicationURL
		}
		if in.OAuth1 != nil && in.OAuth1.ConsumerKey != nil {
			o.ConsumerKey = *in.OAuth1.ConsumerKey
		}
		edit = outgoing.EditOutgoing{Mode: edit.Mode, OAuth1: &o}
	} else if in.OAuth1 != nil {
		return bad(fmt.Errorf("outgoing link %q is an OAuth 2.0 link: it has no oauth1 settings", name))
	}
	l, err := app.Outgoing().Update(r.Context(), name, edit, actor)
	switch {
	case errors.Is(err, outgoing.ErrReadOnly):
		return conflict(err)
	case errors.Is(err, store.ErrNotFound):
		return notFound("outgoing link", name)
	case err != nil:
		return bad(err)
	}
	v, err := outgoingViewOf(r, app, l)
	if err != nil {
		return internal(err)
	}
	return writeJSON(w, http.StatusOK, v)
}
