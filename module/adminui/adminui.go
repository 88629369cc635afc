// Package adminui is the administrators' web UI at /applinks/admin: the
// application links list, creating incoming links (OAuth 2.0 clients and
// OAuth 1.0a consumers), outgoing links (OAuth 2.0 providers and OAuth
// 1.0a links to Atlassian products) and two-way links, editing, deleting,
// viewing credentials, rotating secrets, and users.
// Pages are server-rendered without JavaScript; every form carries the
// session's anti-CSRF token and every page needs the SYSTEM_ADMIN role.
package adminui

import (
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/unavailable"
	"github.com/applinks/caddy-applinks/module/users"
	"github.com/applinks/caddy-applinks/module/web"
)

// Path is the administration UI's root; every page is under it.
const Path = users.AdminHome

// maxForm bounds a form's body.
const maxForm = 64 << 10

// UI serves the administration pages.
type UI struct {
	app *applinks.App
	mux *http.ServeMux
}

// handler is one page: it gets the administrator's session and returns an
// error only for failures that are not the user's (shown as a 500 page).
type handler func(w http.ResponseWriter, r *http.Request, s users.Session) error

// New returns the UI of app.
func New(app *applinks.App) *UI {
	u := &UI{app: app, mux: http.NewServeMux()}
	routes := map[string]handler{
		"GET " + Path:                                u.serveLinks,
		"GET " + Path + "/new":                       u.serveChooser,
		Path + "/new/incoming":                       u.serveNewIncoming,
		Path + "/new/outgoing":                       u.serveNewOutgoing,
		Path + "/new/gateway":                        u.serveNewGateway,
		Path + "/incoming/{id}":                      u.serveEditIncoming,
		"GET " + Path + "/incoming/{id}/credentials": u.serveCredentials,
		Path + "/incoming/{id}/rotate":               u.serveRotate,
		Path + "/incoming/{id}/disable":              u.serveDisable,
		Path + "/outgoing/{name}":                    u.serveEditOutgoing,
		Path + "/delete":                             u.serveDelete,
		Path + "/users":                              u.serveUsers,
		Path + "/users/{name}":                       u.serveUser,
		// Unknown pages, and other methods than GET on the list (which
		// would otherwise get the mux's redirect to Path+"/").
		Path:       u.serveNotFound,
		Path + "/": u.serveNotFound,
	}
	for pattern, h := range routes {
		u.mux.Handle(pattern, u.admin(h))
	}
	return u
}

// Owns reports whether path is one of the UI's.
func Owns(path string) bool { return path == Path || strings.HasPrefix(path, Path+"/") }

// ServeHTTP serves a page of the UI.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// admin wraps a page: it needs a signed-in SYSTEM_ADMIN, and a POST needs
// a parsed form with the session's anti-CSRF token.
func (u *UI) admin(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok, err := u.app.Sessions().Current(r)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		if !ok {
			back := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				back = Path
			}
			http.Redirect(w, r, users.LoginURL(back), http.StatusSeeOther)
			return
		}
		if !sess.User.Role.Includes(scope.SystemAdmin) {
			u.app.Pages().Render(w, http.StatusForbidden, "error.html", web.Page{Title: "Administrators only", User: sess.User.Name, Data: web.ErrorPage{Heading: "Administrators only", Message: "Managing application links needs the System admin role (SYSTEM_ADMIN in the configuration)."}})
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil || !u.app.Sessions().CheckCSRF(r, sess) {
				u.errorPage(w, sess, http.StatusForbidden, "Request refused", "The form expired or did not come from this site. Go back, reload the page and try again.")
				return
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			u.errorPage(w, sess, http.StatusMethodNotAllowed, "Method not allowed", "This page takes GET and POST only.")
			return
		}
		if err := h(w, r, sess); err != nil {
			u.fail(w, r, err)
		}
	})
}

// fail logs an unexpected error and shows a page without its details, or
// the page saying the service is unavailable when the store cannot be
// reached.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	if unavailable.Is(err) {
		u.app.Logger().Warn("administration page: storage unavailable", zap.String("path", r.URL.Path), zap.Error(err))
		u.app.Pages().Unavailable(w, unavailable.RetryAfter)
		return
	}
	u.app.Logger().Error("administration page failed", zap.String("path", r.URL.Path), zap.Error(err))
	u.app.Pages().Error(w, http.StatusInternalServerError, "Something went wrong", "The change could not be completed. Nothing was changed, or only what the page after reloading shows. The server log has the details.")
}

func (u *UI) serveNotFound(w http.ResponseWriter, _ *http.Request, s users.Session) error {
	u.notFound(w, s, "There is no such administration page.")
	return nil
}

// notFound shows a 404 page to the administrator.
func (u *UI) notFound(w http.ResponseWriter, s users.Session, msg string) {
	u.errorPage(w, s, http.StatusNotFound, "Not found", msg)
}

// errorPage shows an error page to the administrator.
func (u *UI) errorPage(w http.ResponseWriter, s users.Session, status int, heading, msg string) {
	u.app.Pages().Render(w, status, "error.html", u.page(s, heading, false, web.ErrorPage{Heading: heading, Message: msg}))
}

// render shows a form page.
func (u *UI) render(w http.ResponseWriter, s users.Session, status int, page formPage) {
	u.app.Pages().Render(w, status, "admin_page.html", u.page(s, page.Heading, false, page))
}

// finishEdit answers a submitted edit of the link name: back to the list
// when saved, a 404 page when the link is gone, else the form again.
func (u *UI) finishEdit(w http.ResponseWriter, r *http.Request, s users.Session, page formPage, name, direction string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		u.notFound(w, s, "This "+direction+" link was deleted meanwhile.")
	case err != nil:
		page.Error = forPerson(err)
		u.refused(w, s, page, "")
	default:
		u.redirect(w, r, s, Path, name+" saved.")
	}
}

// refused shows a form page again after a refused submission: status 422,
// and summary unless the page already says what went wrong.
func (u *UI) refused(w http.ResponseWriter, s users.Session, page formPage, summary string) {
	if page.Error == "" {
		page.Error = summary
	}
	u.render(w, s, http.StatusUnprocessableEntity, page)
}

// page is the common data of an administration page.
func (u *UI) page(s users.Session, title string, wide bool, data any) web.Page {
	return web.Page{Title: title, User: s.User.Name, Admin: true, Wide: wide, Data: data}
}

// redirect sends the browser to the page to, which shows notice once.
// The notice travels in the session's flash cookie, never in the URL, so
// a link cannot make the UI show its text as a message of the gateway.
func (u *UI) redirect(w http.ResponseWriter, r *http.Request, s users.Session, to, notice string) {
	u.app.Sessions().SetFlash(w, r, s, users.Flash{Text: notice})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// redirectRefused sends the browser to the page to, which shows once why
// nothing was done (as a warning, not as a notice of success).
func (u *UI) redirectRefused(w http.ResponseWriter, r *http.Request, s users.Session, to, why string) {
	u.app.Sessions().SetFlash(w, r, s, users.Flash{Text: why, Warning: true})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// Field is one input of a form, with its value and error kept across a
// failed submission.
type Field struct {
	Name, Label, Value, Error, Hint, Autocomplete string
	// Type is an input type, "select", "textarea" or "checkbox".
	Type     string
	Options  []Option
	Required bool
	ReadOnly bool
	Checked  bool
}

// Shown is what a read-only field shows as text: the chosen option's
// label of a select, else the value ("—" when empty). A read-only field is
// never an input, so nothing looks editable that a save would ignore.
func (f Field) Shown() string {
	v := f.Value
	for _, o := range f.Options {
		if o.Selected {
			v = o.Label
		}
	}
	if v == "" {
		return "—"
	}
	return v
}

// Option is one choice of a select field.
type Option struct {
	Value, Label string
	Selected     bool
}

// Hidden is a hidden form value.
type Hidden struct{ Name, Value string }

// Button is a submit button; its value goes in the form's "action" field.
type Button struct{ Value, Label, Class string }

// Form is a form of the UI.
type Form struct {
	Action  string
	CSRF    string
	Hidden  []Hidden
	Fields  []Field
	Buttons []Button
	Cancel  string
}

// field returns the field named name.
func (f *Form) field(name string) *Field {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i]
		}
	}
	return nil
}

// fill sets the editable fields' values from the submitted form.
func (f *Form) fill(r *http.Request) {
	for i := range f.Fields {
		fl := &f.Fields[i]
		if fl.ReadOnly {
			continue
		}
		switch fl.Type {
		case "checkbox":
			fl.Checked = r.PostFormValue(fl.Name) == "on"
		case "select":
			fl.Value = r.PostFormValue(fl.Name)
			for j := range fl.Options {
				fl.Options[j].Selected = fl.Options[j].Value == fl.Value
			}
		case "password":
			fl.Value = r.PostFormValue(fl.Name)
		default:
			fl.Value = strings.TrimSpace(r.PostFormValue(fl.Name))
		}
	}
}

// check sets the error of the field named name and returns false when err
// is not nil.
func (f *Form) check(name string, err error) bool {
	if err == nil {
		return true
	}
	if fl := f.field(name); fl != nil && fl.Error == "" {
		fl.Error = forPerson(err)
	}
	return false
}

// readOnly makes every field read-only and removes the buttons, for a
// link declared in the Caddyfile.
func (f *Form) readOnly() {
	for i := range f.Fields {
		f.Fields[i].ReadOnly = true
	}
	f.Buttons = nil
}

// invalid reports whether any field has an error.
func (f *Form) invalid() bool {
	for _, fl := range f.Fields {
		if fl.Error != "" {
			return true
		}
	}
	return false
}

// Copy is a value shown for the administrator to copy.
type Copy struct{ Name, Label, Value, Hint string }

// Tabs are links between the variants of a page, such as the kinds of
// incoming authentication on the create page; no JavaScript needed.
type Tabs struct {
	Label string
	Items []Tab
}

// Tab is one of Tabs; Current is the page shown.
type Tab struct {
	Label, URL string
	Current    bool
}

// formPage is a page with an optional form and values to copy.
type formPage struct {
	Tab     string
	Heading string
	// Tabs, when set, are shown under the heading.
	Tabs *Tabs
	// Notice is shown once after a redirect to the page.
	Notice users.Flash
	Intro  []string
	Error  string
	Copies []Copy
	// Activity is a link's summary of the last day, on its page.
	Activity *activity
	Form     *Form
	// Actions is a second form of buttons under ActionsHeading.
	ActionsHeading string
	Actions        *Form
	Back           string
}

// sentence capitalises a message for display.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// permissionField is the select of a link's permission or a user's role.
func permissionField(name, label, value string) Field {
	f := Field{Name: name, Label: label, Type: "select", Required: true}
	if value == "" {
		value = scope.Read.String()
	}
	for _, s := range []scope.Scope{scope.Read, scope.Write, scope.Admin, scope.SystemAdmin} {
		f.Options = append(f.Options, Option{Value: s.String(), Label: permissionLabel(s), Selected: s.String() == value})
	}
	return f
}

func permissionLabel(s scope.Scope) string { return s.Label() }

// lines splits a textarea into its non-empty trimmed lines.
func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
