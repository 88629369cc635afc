package adminui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// providers are the kinds of outgoing link the create form offers.
var providers = map[string]string{"google": providerLabels["google"], "microsoft": providerLabels["microsoft"], "custom": providerLabels["oauth2"], "oauth1": oauth1Label}

// redirectURL is this gateway's redirect URI for an outgoing link.
func (u *UI) redirectURL(r *http.Request, name string) string {
	return u.app.IssuerFor(r) + outgoing.CallbackPrefix + name
}

// outgoingSettings are the fields every outgoing link has beside its
// provider; secretHint says what an empty secret means.
func outgoingSettings(clientID, scopes, mode, secretHint string) []Field {
	return []Field{
		{Name: "client_id", Label: "Client ID", Type: "text", Value: clientID, Required: true, Autocomplete: "off", Hint: "Given by the provider when you registered the redirect URL."},
		{Name: "client_secret", Label: "Client secret", Type: "password", Autocomplete: "new-password", Required: secretHint == "", Hint: secretHint},
		{Name: "scopes", Label: "Scopes", Type: "text", Value: scopes, Hint: "Space-separated, as the provider names them."},
		modeField(mode),
	}
}

// modeField is the choice of an outgoing link's mode, mode selected.
func modeField(mode string) Field {
	f := Field{Name: "mode", Label: "Accounts", Type: "select", Options: []Option{
		{Value: outgoing.ModePerUser, Label: "Each user connects their own account"},
		{Value: outgoing.ModeShared, Label: "One shared account, connected by an administrator"},
	}}
	for i := range f.Options {
		f.Options[i].Selected = f.Options[i].Value == mode
	}
	return f
}

// newOutgoingForm is the create form for provider (google, microsoft or
// custom).
func (u *UI) newOutgoingForm(s users.Session, provider string) *Form {
	f := &Form{Action: Path + "/new/outgoing", CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path + "/new",
		Hidden: []Hidden{{"provider", provider}}}
	f.Fields = append(f.Fields, Field{Name: "name", Label: "Name", Type: "text", Required: true, Hint: "Used in outgoing_token <name> and in the redirect URL: letters, digits, '-', '_' and '.'."})
	switch provider {
	case "microsoft":
		f.Fields = append(f.Fields, Field{Name: "tenant", Label: "Tenant", Type: "text", Value: "common", Hint: "common, organizations, consumers, a tenant ID or a verified domain."})
	case "custom":
		f.Fields = append(f.Fields,
			Field{Name: "authorization_endpoint", Label: "Authorization endpoint", Type: "url", Required: true, Hint: "HTTPS URL where users authorize this site."},
			Field{Name: "token_endpoint", Label: "Token endpoint", Type: "url", Required: true, Hint: "HTTPS URL where this site gets tokens."})
	}
	if provider != "custom" {
		f.Fields = append(f.Fields,
			Field{Name: "authorization_endpoint", Label: "Authorization endpoint", Type: "url", ReadOnly: true},
			Field{Name: "token_endpoint", Label: "Token endpoint", Type: "url", ReadOnly: true})
	}
	f.Fields = append(f.Fields, outgoingSettings("", "", outgoing.ModePerUser, "")...)
	f.Buttons = []Button{{Value: "preview", Label: "Show redirect URL", Class: "secondary"}, {Value: "save", Label: "Create"}}
	return f
}

// providerJSON is the provider module of the form's provider.
func providerJSON(provider string, f *Form) json.RawMessage {
	m := map[string]string{}
	switch provider {
	case "google":
		m["provider"] = "google"
	case "microsoft":
		m["provider"] = "microsoft"
		if t := f.field("tenant").Value; t != "" {
			m["tenant"] = t
		}
	default:
		m["provider"] = "oauth2"
		m["authorization_endpoint"] = f.field("authorization_endpoint").Value
		m["token_endpoint"] = f.field("token_endpoint").Value
	}
	raw, _ := json.Marshal(m)
	return raw
}

// serveNewOutgoing creates an outgoing link to Google, Microsoft or a
// custom OAuth 2.0 provider, or an OAuth 1.0a one (serveNewOAuth1). "Show redirect URL" checks the name (and a
// custom provider's endpoints) and shows the redirect URL to register at
// the provider before saving.
func (u *UI) serveNewOutgoing(w http.ResponseWriter, r *http.Request, s users.Session) error {
	provider := r.FormValue("provider")
	label, ok := providers[provider]
	if !ok {
		u.notFound(w, s, "Choose Google, Microsoft, Custom OAuth 2.0 or OAuth 1.0 (Atlassian) from Create link.")
		return nil
	}
	if provider == "oauth1" {
		return u.serveNewOAuth1(w, r, s)
	}
	f := u.newOutgoingForm(s, provider)
	page := formPage{Tab: "links", Heading: "Create an outgoing link: " + label, Form: f, Intro: []string{
		"This site will call the provider's API with each user's account (or one shared account). Register the redirect URL below at the provider to get a client ID and secret.",
	}}
	if provider == "custom" {
		page.Intro = append(page.Intro, "Enter the provider's endpoints and a name, then choose Show redirect URL.")
	} else if r.Method != http.MethodPost {
		// As Atlassian does, the redirect URL to register is on the page
		// at once: the name starts as the provider's, which is free.
		name, err := u.freeName(r, provider)
		if err != nil {
			return err
		}
		f.field("name").Value = name
		page.Copies = []Copy{{Name: "redirect_uri", Label: "Redirect URL to register at " + label, Value: u.redirectURL(r, name),
			Hint: "For the name " + name + ". Another name gives another redirect URL: choose Show redirect URL after changing it."}}
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		f.fill(r)
		name := f.field("name").Value
		nameOK := f.check("name", outgoing.ValidateName(name)) && f.check("name", u.nameFree(r, name))
		for _, e := range []string{"authorization_endpoint", "token_endpoint", "tenant"} {
			if fl := f.field(e); fl != nil && !fl.ReadOnly {
				f.check(e, outgoing.CheckNoPlaceholder(fl.Value))
			}
		}
		if provider == "custom" {
			for _, e := range []string{"authorization_endpoint", "token_endpoint"} {
				if v := f.field(e).Value; v == "" {
					f.check(e, errors.New("this endpoint is required"))
				} else {
					f.check(e, u.app.Outgoing().CheckRuntimeEndpoint(v))
				}
			}
		}
		if nameOK {
			page.Copies = []Copy{{Name: "redirect_uri", Label: "Redirect URL to register at " + label, Value: u.redirectURL(r, name)}}
		}
		if r.PostFormValue("action") == "save" {
			scopes := strings.Fields(f.field("scopes").Value)
			if f.field("client_id").Value == "" {
				f.check("client_id", errors.New("the client ID is required"))
			}
			if f.field("client_secret").Value == "" {
				f.check("client_secret", errors.New("the client secret is required"))
			}
			if !f.invalid() {
				_, err := u.app.Outgoing().Create(r.Context(), outgoing.NewOutgoing{CreatedBy: s.User.Name, ConfigLink: outgoing.ConfigLink{
					Name: name, ProviderRaw: providerJSON(provider, f), ClientID: f.field("client_id").Value, ClientSecret: f.field("client_secret").Value,
					Scopes: scopes, Mode: f.field("mode").Value,
				}})
				if !refusedCreation(f, &page, name, err) {
					u.redirect(w, r, s, Path, "Outgoing link "+name+" created. Register "+u.redirectURL(r, name)+" at "+label+" if you have not yet.")
					return nil
				}
			}
			if page.Error == "" {
				page.Error = "The link was not created: correct the fields marked below."
			}
		}
		if f.invalid() || page.Error != "" {
			status = http.StatusUnprocessableEntity
		}
	}
	if provider != "custom" {
		if ep, err := u.app.Outgoing().Probe(r.Context(), providerJSON(provider, f)); err == nil {
			f.field("authorization_endpoint").Value, f.field("token_endpoint").Value = ep.AuthURL, ep.TokenURL
		} else if !f.check("tenant", err) && f.field("tenant") == nil && page.Error == "" {
			page.Error = forPerson(err)
		}
	}
	u.render(w, s, status, page)
	return nil
}

// endpointWait bounds resolving a link's endpoints for its edit page.
const endpointWait = 5 * time.Second

// outgoingEndpoints are what the edit page shows of the endpoints l uses:
// its provider, its authorization and token endpoints (or why they could
// not be resolved) and the redirect URL registered at the provider.
func (u *UI) outgoingEndpoints(r *http.Request, l *outgoing.Link) []Copy {
	provider := providerName(l.Provider)
	copies := []Copy{{Name: "provider", Label: "Provider", Value: provider}}
	// A slow provider does not hold the page for the client's whole
	// timeout.
	ctx, cancel := context.WithTimeout(r.Context(), endpointWait)
	defer cancel()
	if ep, err := u.app.Outgoing().Endpoint(ctx, l); err != nil {
		u.logCause("outgoing link's endpoints not resolved", err)
		copies = append(copies, Copy{Name: "endpoints_error", Label: "Endpoints", Value: "Not resolved now: " + unreachable(err) + "."})
	} else {
		copies = append(copies,
			Copy{Name: "authorization_endpoint", Label: "Authorization endpoint", Value: ep.AuthURL},
			Copy{Name: "token_endpoint", Label: "Token endpoint", Value: ep.TokenURL})
	}
	return append(copies, Copy{Name: "redirect_uri", Label: "Redirect URL registered at " + provider, Value: u.redirectURL(r, l.Name)})
}

// freeName is base, or base-2, base-3… whichever no link has yet.
func (u *UI) freeName(r *http.Request, base string) (string, error) {
	name := base
	for i := 2; ; i++ {
		err := u.nameFree(r, name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, errNameTaken) {
			return "", err
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// nameFree returns an error when an incoming or outgoing link has name.
func (u *UI) nameFree(r *http.Request, name string) error {
	names, err := u.app.Outgoing().Names(r.Context())
	if err != nil {
		return err
	}
	in, err := u.app.Links().List(r.Context())
	if err != nil {
		return err
	}
	if slices.Contains(names, name) || slices.ContainsFunc(in, func(l links.Link) bool { return l.Name == name }) {
		return nameTaken(name)
	}
	return nil
}

// serveEditOutgoing changes an outgoing link's client credentials, scopes
// and mode; its connections stay.
func (u *UI) serveEditOutgoing(w http.ResponseWriter, r *http.Request, s users.Session) error {
	name := r.PathValue("name")
	l, err := u.app.Outgoing().Link(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, s, "This outgoing link does not exist (any more).")
		return nil
	} else if err != nil {
		return err
	}
	if l.OAuth1 != nil {
		return u.serveEditOAuth1(w, r, s, l)
	}
	declared := u.app.Outgoing().Declared(name)
	f := &Form{Action: Path + "/outgoing/" + name, CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path,
		Fields:  outgoingSettings(l.ClientID, strings.Join(l.Scopes, " "), l.Mode, "Leave empty to keep the current secret."),
		Buttons: []Button{{Value: "save", Label: "Save"}}}
	page := formPage{Tab: "links", Heading: "Edit " + name, Form: f, Copies: u.outgoingEndpoints(r, l)}
	if declared {
		f.readOnly()
		page.Intro = []string{"This link is declared in the Caddyfile: change it there."}
	}
	if r.Method == http.MethodPost && declared {
		page.Error = "Nothing was saved: this link is declared in the Caddyfile."
		u.render(w, s, http.StatusConflict, page)
		return nil
	}
	if r.Method == http.MethodPost {
		f.fill(r)
		if f.field("client_id").Value == "" {
			f.check("client_id", errors.New("the client ID is required"))
		}
		if !f.invalid() {
			_, err := u.app.Outgoing().Update(r.Context(), name, outgoing.EditOutgoing{ClientID: f.field("client_id").Value, ClientSecret: f.field("client_secret").Value, Scopes: strings.Fields(f.field("scopes").Value), Mode: f.field("mode").Value}, s.User.Name)
			u.finishEdit(w, r, s, page, name, "outgoing", err)
			return nil
		}
		u.refused(w, s, page, "Nothing was saved: correct the fields marked below.")
		return nil
	}
	u.render(w, s, http.StatusOK, page)
	return nil
}

// errNameTaken is what nameTaken's errors wrap.
var errNameTaken = errors.New("already exists: choose another name")

// nameTaken is the error of a link name in use.
func nameTaken(name string) error {
	return fmt.Errorf("a link named %q %w", name, errNameTaken)
}

// refusedCreation reports whether err, a link creation's answer, refused
// it, and says why: a name in use on the name field, anything else above
// the form.
func refusedCreation(f *Form, page *formPage, name string, err error) bool {
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		f.check("name", nameTaken(name))
	case err != nil:
		page.Error = forPerson(err)
	default:
		return false
	}
	return true
}
