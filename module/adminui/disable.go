package adminui

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// accessActions is the Disable or Enable button of a runtime incoming
// link's page; nil for a link of the Caddyfile.
func (u *UI) accessActions(s users.Session, l links.Link) *Form {
	if l.Source == links.SourceConfig {
		return nil
	}
	b := Button{Value: "disable", Label: "Disable link", Class: "danger"}
	if l.Disabled {
		b = Button{Value: "enable", Label: "Enable link", Class: "secondary"}
	}
	return &Form{Action: disableURL(l), CSRF: u.app.Sessions().CSRFToken(s), Buttons: []Button{b}}
}

// serveDisable asks for confirmation (GET, or a POST without confirm=yes)
// and disables (action=disable) or enables again (action=enable) a
// runtime incoming link: while disabled, its requests for access and
// tokens are refused and so is every token it holds, at its next request.
func (u *UI) serveDisable(w http.ResponseWriter, r *http.Request, s users.Session) error {
	l, ok, err := u.incoming(w, r, s)
	if !ok {
		return err
	}
	if l.Source == links.SourceConfig {
		u.redirectRefused(w, r, s, Path, l.Name+" is declared in the Caddyfile: change it there.")
		return nil
	}
	action := r.PostFormValue("action")
	if action != "disable" && action != "enable" {
		action = "disable"
		if l.Disabled {
			action = "enable"
		}
	}
	if r.Method != http.MethodPost || r.PostFormValue("confirm") != "yes" {
		u.confirmDisable(w, s, l, action)
		return nil
	}
	_, err = u.app.Links().SetDisabled(r.Context(), l.ID, action == "disable", s.User.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u.notFound(w, s, "This incoming link was deleted meanwhile.")
		return nil
	case err != nil:
		return err
	}
	u.redirect(w, r, s, Path, l.Name+" "+action+"d.")
	return nil
}

// confirmDisable asks whether to disable or enable (action) link l,
// saying what it does to the tokens the link holds.
func (u *UI) confirmDisable(w http.ResponseWriter, s users.Session, l links.Link, action string) {
	form := &Form{Action: disableURL(l), CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path + "/incoming/" + l.ID,
		Hidden:  []Hidden{{"confirm", "yes"}},
		Buttons: []Button{{Value: action, Label: "Disable " + l.Name, Class: "danger"}}}
	heading := "Disable " + l.Name + "?"
	intro := []string{
		fmt.Sprintf("%s can no longer ask users for access or get tokens, and every token it holds stops working at its next request.", l.Name),
		"Nothing is deleted: enabling the link again gives its authorizations and tokens back.",
	}
	if action == "enable" {
		form.Buttons = []Button{{Value: action, Label: "Enable " + l.Name}}
		heading = "Enable " + l.Name + "?"
		intro = []string{fmt.Sprintf("%s may again ask users for access, and the authorizations and tokens it held before it was disabled work again.", l.Name)}
	}
	u.render(w, s, http.StatusOK, formPage{Tab: "links", Heading: heading, Intro: intro, Form: form})
}

// disableURL is the page that disables or enables link l.
func disableURL(l links.Link) string { return Path + "/incoming/" + l.ID + "/disable" }
