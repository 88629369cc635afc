package adminui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// usersPage lists users with the form to add one.
type usersPage struct {
	Notice users.Flash
	Users  []userRow
	Form   *Form
}

// userRow is one user of the list.
type userRow struct {
	applinks.UserEntry
	// EditURL is the user's page, the name escaped.
	EditURL string
	// RoleLabel is the role as pages name it, e.g. "System admin".
	RoleLabel string
}

// addUserForm is the form that adds a local user.
func (u *UI) addUserForm(s users.Session) *Form {
	return &Form{Action: Path + "/users", CSRF: u.app.Sessions().CSRFToken(s),
		Fields: []Field{
			{Name: "name", Label: "User name", Type: "text", Required: true, Autocomplete: "off"},
			{Name: "password", Label: "Password", Type: "password", Required: true, Autocomplete: "new-password", Hint: fmt.Sprintf("At least %d characters.", users.MinPasswordLength)},
			permissionField("role", "Role", scope.Read.String()),
		},
		Buttons: []Button{{Value: "add", Label: "Add user"}}}
}

// serveUsers lists the users (GET), adds a local user (POST), signs a
// user out everywhere (POST action=signout) and revokes all of a user's
// authorizations (POST action=revoke). The last two are the changes a
// user declared in the Caddyfile can have here.
func (u *UI) serveUsers(w http.ResponseWriter, r *http.Request, s users.Session) error {
	if r.Method == http.MethodPost {
		switch r.PostFormValue("action") {
		case "signout":
			return u.signOutUser(w, r, s, r.PostFormValue("name"))
		case "revoke":
			return u.revokeUserGrants(w, r, s, r.PostFormValue("name"))
		}
	}
	f := u.addUserForm(s)
	page := usersPage{Notice: u.app.Sessions().TakeFlash(w, r, s), Form: f}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		f.fill(r)
		name := f.field("name").Value
		role, err := scope.Parse(f.field("role").Value)
		f.check("role", err)
		if u.app.Users().Declared(name) {
			f.check("name", fmt.Errorf("a user named %q exists already", name))
		}
		if !f.invalid() {
			_, _, err := u.app.SaveUser(r.Context(), name, users.Change{Password: f.field("password").Value, Role: role, Create: true}, s.User.Name)
			switch {
			case err == nil:
				u.redirect(w, r, s, Path+"/users", "User "+name+" added.")
				return nil
			case !users.IsInputError(err):
				return err
			}
			f.check(userErrorField(err), err)
		}
		f.field("password").Value = ""
		status = http.StatusUnprocessableEntity
	}
	rows, err := u.userRows(r)
	if err != nil {
		return err
	}
	page.Users = rows
	u.app.Pages().Render(w, status, "admin_users.html", u.page(s, "Users", true, page))
	return nil
}

// userRows lists configured users, then stored ones.
func (u *UI) userRows(r *http.Request) ([]userRow, error) {
	entries, err := u.app.ListUsers(r.Context())
	if err != nil {
		return nil, err
	}
	rows := make([]userRow, len(entries))
	for i, e := range entries {
		role, _ := scope.Parse(e.Role)
		rows[i] = userRow{UserEntry: e, EditURL: userURL(e.Name), RoleLabel: role.Label()}
	}
	return rows, nil
}

// serveUser changes a stored user: role, disabled, password; ends all of
// its sessions; revokes all of its grants; or deletes it.
func (u *UI) serveUser(w http.ResponseWriter, r *http.Request, s users.Session) error {
	name := r.PathValue("name")
	su, err := u.app.Users().Stored(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, s, "There is no stored user of that name. Users declared in the Caddyfile are changed there.")
		return nil
	} else if err != nil {
		return err
	}
	gs, err := u.app.Grants().List(r.Context(), store.GrantFilter{UserID: name})
	if err != nil {
		return err
	}
	csrf := u.app.Sessions().CSRFToken(s)
	edit := &Form{Action: userURL(name), CSRF: csrf, Cancel: Path + "/users",
		Fields: []Field{
			permissionField("role", "Role", su.Role),
			{Name: "disabled", Label: "Disabled: cannot sign in, and every token and session stops working", Type: "checkbox", Checked: su.Disabled},
			{Name: "password", Label: "New password", Type: "password", Autocomplete: "new-password", Hint: "Leave empty to keep the current password. A new password, a new role or disabling signs the user out everywhere."},
		},
		Buttons: []Button{{Value: "save", Label: "Save"}}}
	if su.Provider != "" {
		edit.Fields = edit.Fields[:2]
	}
	page := formPage{Tab: "users", Heading: "User " + name, Form: edit,
		Intro: []string{fmt.Sprintf("%s has authorized %s.", name, plural(len(gs), "application"))}}
	if su.Provider != "" {
		page.Intro = append(page.Intro, "Signs in with "+su.Provider+", which sets the role again at each sign-in.")
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		switch r.PostFormValue("action") {
		case "save":
			edit.fill(r)
			role, err := scope.Parse(edit.field("role").Value)
			edit.check("role", err)
			if !edit.invalid() {
				pw := ""
				if f := edit.field("password"); f != nil {
					pw = f.Value
				}
				_, _, err := u.app.SaveUser(r.Context(), name, users.Change{Password: pw, Role: role, Disabled: edit.field("disabled").Checked}, s.User.Name)
				if err == nil {
					u.redirect(w, r, s, Path+"/users", "User "+name+" saved.")
					return nil
				}
				if !users.IsInputError(err) {
					return err
				}
				if edit.check(userErrorField(err), err); !edit.invalid() {
					page.Error = forPerson(err)
				}
			}
			if f := edit.field("password"); f != nil {
				f.Value = ""
			}
			status = http.StatusUnprocessableEntity
		case "signout":
			return u.signOutUser(w, r, s, name)
		case "revoke":
			return u.revokeUserGrants(w, r, s, name)
		case "delete":
			if r.PostFormValue("confirm") != "yes" {
				confirm := &Form{Action: userURL(name), CSRF: csrf, Cancel: userURL(name),
					Hidden:  []Hidden{{"confirm", "yes"}},
					Buttons: []Button{{Value: "delete", Label: "Delete " + name, Class: "danger"}}}
				u.render(w, s, http.StatusOK, formPage{Tab: "users", Heading: "Delete user " + name + "?", Form: confirm, Intro: []string{
					fmt.Sprintf("%s can no longer sign in, and %s with every token stop working at once.", name, plural(len(gs), "authorization")),
					"This cannot be undone.",
				}})
				return nil
			}
			if err := u.app.DeleteUser(r.Context(), name, s.User.Name); err != nil {
				return err
			}
			u.redirect(w, r, s, Path+"/users", "User "+name+" deleted.")
			return nil
		default:
			page.Error = "Unknown action."
			status = http.StatusBadRequest
		}
	}
	page.ActionsHeading, page.Actions = "Access", &Form{Action: userURL(name), CSRF: csrf,
		Buttons: []Button{{Value: "signout", Label: "Sign out everywhere", Class: "secondary"}, {Value: "revoke", Label: "Revoke all authorizations", Class: "secondary"}, {Value: "delete", Label: "Delete user", Class: "danger"}}}
	u.render(w, s, status, page)
	return nil
}

// signOutUser ends every session of the user name and goes back to the
// list.
func (u *UI) signOutUser(w http.ResponseWriter, r *http.Request, s users.Session, name string) error {
	n, err := u.app.SignOutUser(r.Context(), name, s.User.Name)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, s, "There is no user of that name.")
		return nil
	}
	if err != nil {
		return err
	}
	u.redirect(w, r, s, Path+"/users", fmt.Sprintf("Ended %s of %s.", plural(n, "session"), name))
	return nil
}

// revokeUserGrants asks for confirmation, then (with confirm=yes)
// revokes every grant of the user name, declared or stored, with its
// tokens, and goes back to the list.
func (u *UI) revokeUserGrants(w http.ResponseWriter, r *http.Request, s users.Session, name string) error {
	if _, err := u.app.Users().Get(r.Context(), name); errors.Is(err, store.ErrNotFound) {
		u.notFound(w, s, "There is no user of that name.")
		return nil
	} else if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != "yes" {
		gs, err := u.app.Grants().List(r.Context(), store.GrantFilter{UserID: name})
		if err != nil {
			return err
		}
		back := Path + "/users"
		if r.PathValue("name") != "" {
			back = userURL(name)
		}
		confirm := &Form{Action: back, CSRF: u.app.Sessions().CSRFToken(s), Cancel: back,
			Hidden:  []Hidden{{"name", name}, {"confirm", "yes"}},
			Buttons: []Button{{Value: "revoke", Label: "Revoke " + plural(len(gs), "authorization"), Class: "danger"}}}
		u.render(w, s, http.StatusOK, formPage{Tab: "users", Heading: "Revoke every authorization of " + name + "?", Form: confirm, Intro: []string{
			fmt.Sprintf("The %s %s gave to applications end, with every token issued from them: each application must ask %s again.", plural(len(gs), "authorization"), name, name),
		}})
		return nil
	}
	n, err := u.app.Grants().RevokeUser(r.Context(), name, s.User.Name)
	if err != nil {
		return err
	}
	u.redirect(w, r, s, Path+"/users", fmt.Sprintf("Revoked %s of %s.", plural(n, "authorization"), name))
	return nil
}

// userErrorField is the form field an input error of SaveUser is about.
func userErrorField(err error) string {
	switch {
	case errors.Is(err, users.ErrPasswordRequired), errors.Is(err, users.ErrPasswordTooShort), errors.Is(err, users.ErrPasswordTooLong), errors.Is(err, users.ErrNoPassword):
		return "password"
	case errors.Is(err, users.ErrInvalidRole):
		return "role"
	}
	return "name"
}

// userURL is the page of the user name.
func userURL(name string) string { return Path + "/users/" + url.PathEscape(name) }
