package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// consumerView is an incoming link's OAuth 1.0a consumer as the API shows
// it: its consumer key is the link's client_id.
type consumerView struct {
	ConsumerKey string `json:"consumer_key"`
	// SignatureMethod is RSA-SHA1 (PublicKey set) or HMAC-SHA1 (a shared
	// secret, shown by …/credentials).
	SignatureMethod string `json:"signature_method"`
	PublicKey       string `json:"public_key,omitempty"`
	Callback        string `json:"callback,omitempty"`
	TwoLegged       bool   `json:"two_legged,omitempty"`
	ExecuteAs       string `json:"execute_as,omitempty"`
	Impersonation   bool   `json:"impersonation,omitempty"`
	// SharedSecret is set only in the answer that creates it.
	SharedSecret string `json:"shared_secret,omitempty"`
}

func consumerOf(l links.Link) *consumerView {
	c := l.OAuth1
	v := &consumerView{ConsumerKey: l.ClientID, SignatureMethod: oauth1.RSASHA1, PublicKey: c.PublicKey, Callback: c.Callback, TwoLegged: c.TwoLegged, ExecuteAs: c.ExecuteAs, Impersonation: c.Impersonation}
	if c.PublicKey == "" {
		v.SignatureMethod = oauth1.HMACSHA1
	}
	return v
}

// newConsumer is the oauth1 object of a request that creates a consumer.
type newConsumer struct {
	ConsumerKey string `json:"consumer_key"`
	// PublicKey is the consumer's RSA public key in PEM; empty to have the
	// gateway generate a shared secret for HMAC-SHA1.
	PublicKey     string `json:"public_key"`
	Callback      string `json:"callback"`
	TwoLegged     bool   `json:"two_legged"`
	ExecuteAs     string `json:"execute_as"`
	Impersonation bool   `json:"impersonation"`
}

// createConsumer creates an incoming link that is an OAuth 1.0a consumer;
// a generated shared secret is in the answer, this once.
func (a *API) createConsumer(w http.ResponseWriter, r *http.Request, app *applinks.App, name string, ceiling scope.Scope, in newConsumer) error {
	l, sec, err := app.Links().CreateConsumer(r.Context(), links.NewConsumer{
		Name: name, ConsumerKey: in.ConsumerKey, PublicKey: in.PublicKey, Callback: in.Callback,
		TwoLegged: in.TwoLegged || in.ExecuteAs != "", ExecuteAs: in.ExecuteAs, Impersonation: in.Impersonation,
		Ceiling: ceiling, CreatedBy: actor,
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return conflict(fmt.Errorf("a link named %q, or one with consumer key %q, exists", name, in.ConsumerKey))
	}
	if err != nil {
		return bad(err)
	}
	v := view(l)
	v.OAuth1.SharedSecret = sec
	return writeJSON(w, http.StatusCreated, v)
}

// consumerPatch is the oauth1 object of a PATCH of a consumer: the fields
// sent replace the consumer's, those left out stay.
type consumerPatch struct {
	// PublicKey replaces an RSA-SHA1 consumer's public key (PEM).
	PublicKey     *string `json:"public_key"`
	Callback      *string `json:"callback"`
	TwoLegged     *bool   `json:"two_legged"`
	ExecuteAs     *string `json:"execute_as"`
	Impersonation *bool   `json:"impersonation"`
}

// patchConsumer changes consumer l's scope (when scopeName is not empty)
// and the settings in p (when not nil).
func patchConsumer(r *http.Request, app *applinks.App, l links.Link, scopeName string, p *consumerPatch) (links.Link, error) {
	c := l.OAuth1
	edit := links.ConsumerEdit{PublicKey: c.PublicKey, Callback: c.Callback, TwoLegged: c.TwoLegged, ExecuteAs: c.ExecuteAs, Impersonation: c.Impersonation, Ceiling: l.Ceiling}
	if scopeName != "" {
		ceiling, err := scope.Parse(scopeName)
		if err != nil {
			return links.Link{}, bad(err)
		}
		edit.Ceiling = ceiling
	}
	if p != nil {
		set(&edit.PublicKey, p.PublicKey)
		set(&edit.Callback, p.Callback)
		set(&edit.TwoLegged, p.TwoLegged)
		set(&edit.ExecuteAs, p.ExecuteAs)
		set(&edit.Impersonation, p.Impersonation)
	}
	updated, err := app.Links().UpdateConsumer(r.Context(), l.ID, edit, actor)
	if err != nil {
		return links.Link{}, linkChangeError(err, l.ID, bad)
	}
	return updated, nil
}

// set replaces *dst with *v when v is not nil.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// consumerCredentials shows what the consumer's application is set up
// with: its consumer key and shared secret, or its public key.
func consumerCredentials(w http.ResponseWriter, app *applinks.App, l links.Link) error {
	out := map[string]string{"consumer_key": l.ClientID}
	if l.OAuth1.PublicKey != "" {
		out["public_key"] = l.OAuth1.PublicKey
		return writeJSON(w, http.StatusOK, out)
	}
	sec, err := app.Links().Secret(l)
	if err != nil {
		return internal(err)
	}
	out["shared_secret"] = sec
	return writeJSON(w, http.StatusOK, out)
}
