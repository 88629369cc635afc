package adminui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/users"
)

// serveChooser offers the kinds of link to create.
func (u *UI) serveChooser(w http.ResponseWriter, _ *http.Request, s users.Session) error {
	u.app.Pages().Render(w, http.StatusOK, "admin_new.html", u.page(s, "Create link", false, nil))
	return nil
}

// incomingForm is the form of an incoming link; a new one also has a name.
func (u *UI) incomingForm(s users.Session, action string, l links.Link, isNew bool) *Form {
	f := &Form{Action: action, CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path}
	f.Fields = append(f.Fields, Field{Name: "name", Label: "Name", Type: "text", Value: l.Name, Required: true, ReadOnly: !isNew,
		Hint: "The application's name, shown to users when it asks for access."})
	f.Fields = append(f.Fields,
		Field{Name: "redirect_uris", Label: "Redirect URL", Type: "textarea", Value: strings.Join(l.RedirectURIs, "\n"), Required: true,
			Hint: "Where the application receives the authorization code, e.g. https://app.example.com/oauth/callback. One per line; HTTPS, or http://localhost for development."},
		permissionField("scope", "Permission", l.Ceiling.String()),
		Field{Name: "require_pkce", Label: "Require PKCE (for applications that cannot keep a secret)", Type: "checkbox", Checked: l.RequirePKCE},
	)
	if isNew {
		f.Fields = append(f.Fields, Field{Name: "public", Label: "Public client: no secret (desktop, mobile and command-line applications)", Type: "checkbox", Checked: l.Public,
			Hint: "The application identifies itself by its client ID alone and must use PKCE; an http://127.0.0.1 or http://localhost redirect URL then matches any port."})
	}
	f.field("scope").Hint = "The most the application may do. Each user also limits it to their own role."
	label := "Save"
	if isNew {
		label = "Create"
	}
	f.Buttons = []Button{{Value: "save", Label: label}}
	return f
}

// readIncoming fills the form from the request and checks it, one
// message per field.
func readIncoming(r *http.Request, f *Form) (redirects []string, ceiling scope.Scope) {
	f.fill(r)
	redirects = lines(f.field("redirect_uris").Value)
	f.check("redirect_uris", links.ValidateRedirectURIs(redirects))
	ceiling, err := scope.Parse(f.field("scope").Value)
	f.check("scope", err)
	return redirects, ceiling
}

// serveNewIncoming creates an incoming link and shows its credentials:
// an OAuth 2.0 client, or with authentication=oauth1 an OAuth 1.0a
// consumer (see serveNewConsumer).
func (u *UI) serveNewIncoming(w http.ResponseWriter, r *http.Request, s users.Session) error {
	if r.FormValue("authentication") == authOAuth1 {
		return u.serveNewConsumer(w, r, s)
	}
	f := u.incomingForm(s, Path+"/new/incoming", links.Link{}, true)
	page := formPage{Tab: "links", Heading: "Create an incoming link", Tabs: authenticationTabs(""), Form: f,
		Intro: []string{"An external application will call this site's API on behalf of its users, within the permission you choose. Saving gives you a client ID and secret to copy into it."}}
	if r.Method == http.MethodPost {
		redirects, ceiling := readIncoming(r, f)
		name := f.field("name").Value
		if name == "" {
			f.check("name", errors.New("a name is required"))
		}
		// Names are unique across incoming and outgoing links: an incoming
		// and an outgoing link of one name are one (Two-way) application.
		f.check("name", u.nameFree(r, name))
		if !f.invalid() {
			l, sec, err := u.app.Links().Create(r.Context(), links.NewLink{Name: name, RedirectURIs: redirects, Ceiling: ceiling, RequirePKCE: f.field("require_pkce").Checked, Public: f.field("public").Checked, CreatedBy: s.User.Name})
			if !refusedCreation(f, &page, name, err) {
				u.credentials(w, r, s, l, sec, "Incoming link "+l.Name+" created", []string{"Copy the " + credentialNames(l) + " into " + l.Name + " to complete the link. You can see them again later with View credentials."})
				return nil
			}
		}
		u.refused(w, s, page, "The link was not created: correct the fields marked below.")
		return nil
	}
	u.render(w, s, http.StatusOK, page)
	return nil
}

// serveEditIncoming changes an incoming link's redirect URLs, permission
// and PKCE requirement, or an OAuth 1.0a consumer's settings and
// permission; a lower permission applies to existing tokens at their next
// request. A link declared in the Caddyfile is shown read-only.
func (u *UI) serveEditIncoming(w http.ResponseWriter, r *http.Request, s users.Session) error {
	l, ok, err := u.incoming(w, r, s)
	if !ok {
		return err
	}
	act, err := u.activity(r, l.ID)
	if err != nil {
		return err
	}
	action := Path + "/incoming/" + l.ID
	f := u.incomingForm(s, action, l, false)
	intro := "Client ID: " + l.ClientID + ". A lower permission applies to the tokens the application already holds at their next request."
	if l.IsOAuth1() {
		f = u.consumerForm(s, action, l, false)
		intro = "Consumer key: " + l.ClientID + ". This application links with OAuth 1.0. A lower permission applies to the tokens it already holds at their next request."
	}
	page := formPage{Tab: "links", Heading: "Edit " + l.Name, Form: f, Activity: act, Intro: []string{intro},
		ActionsHeading: "Access", Actions: u.accessActions(s, l)}
	if l.Disabled {
		page.Intro = append(page.Intro, "This link is disabled: it cannot ask for access or get tokens, and the tokens it holds are refused.")
	}
	if l.Source == links.SourceConfig {
		f.readOnly()
		page.Intro = append(page.Intro, "This link is declared in the Caddyfile: change it there.")
		if r.Method == http.MethodPost {
			page.Error = "Nothing was saved: this link is declared in the Caddyfile."
			u.render(w, s, http.StatusConflict, page)
			return nil
		}
	}
	switch {
	case r.Method != http.MethodPost:
		u.render(w, s, http.StatusOK, page)
		return nil
	case l.IsOAuth1():
		return u.saveConsumer(w, r, s, l, page)
	}
	redirects, ceiling := readIncoming(r, f)
	if !f.invalid() {
		_, err := u.app.Links().Update(r.Context(), l.ID, links.Edit{RedirectURIs: redirects, Ceiling: ceiling, RequirePKCE: f.field("require_pkce").Checked}, s.User.Name)
		u.finishEdit(w, r, s, page, l.Name, "incoming", err)
		return nil
	}
	u.refused(w, s, page, "Nothing was saved: correct the fields marked below.")
	return nil
}
