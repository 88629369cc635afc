package adminui

import (
	"errors"
	"net/http"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// authOAuth1 is the value of the create form's "authentication" that
// makes the incoming link an OAuth 1.0a consumer.
const authOAuth1 = "oauth1"

// authenticationTabs offer the two kinds of incoming authentication on
// the create page, current being authOAuth1 or "".
func authenticationTabs(current string) *Tabs {
	return &Tabs{Label: "Incoming authentication", Items: []Tab{
		{Label: "OAuth 2.0", URL: Path + "/new/incoming", Current: current != authOAuth1},
		{Label: "OAuth 1.0 (as Atlassian products)", URL: Path + "/new/incoming?authentication=" + authOAuth1, Current: current == authOAuth1},
	}}
}

// consumerForm is the form of an OAuth 1.0a consumer's link: a new one
// (isNew) also has a name and consumer key; a runtime one's public key can
// be replaced, and an HMAC-SHA1 one has none.
func (u *UI) consumerForm(s users.Session, action string, l links.Link, isNew bool) *Form {
	c := l.OAuth1
	if c == nil {
		c = &store.OAuth1Consumer{}
	}
	f := &Form{Action: action, CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path, Buttons: []Button{{Value: "save", Label: "Save"}}}
	f.Fields = append(f.Fields,
		Field{Name: "name", Label: "Name", Type: "text", Value: l.Name, Required: true, ReadOnly: !isNew,
			Hint: "The application's name, shown to users when it asks for access."},
		Field{Name: links.FieldConsumerKey, Label: "Consumer key", Type: "text", Value: l.ClientID, Required: true, ReadOnly: !isNew, Autocomplete: "off",
			Hint: "The key the application signs its requests with; Jira and Confluence show theirs at /plugins/servlet/oauth/consumer-info."},
	)
	switch {
	case isNew:
		f.Hidden = []Hidden{{"authentication", authOAuth1}}
		f.Buttons[0].Label = "Create"
		f.Fields = append(f.Fields, Field{Name: links.FieldPublicKey, Label: "Public key", Type: "textarea",
			Hint: "The application's RSA public key: PEM (BEGIN PUBLIC KEY), or the bare base64 Atlassian products show. Leave empty to have this gateway make a shared secret for HMAC-SHA1, shown once."})
	case c.PublicKey == "":
		f.Fields = append(f.Fields, Field{Name: "signature_method", Label: "Signature method", Type: "text", Value: "HMAC-SHA1 (shared secret)", ReadOnly: true})
	default:
		f.Fields = append(f.Fields,
			Field{Name: "signature_method", Label: "Signature method", Type: "text", Value: "RSA-SHA1 (public key)", ReadOnly: true},
			Field{Name: links.FieldPublicKey, Label: "Public key", Type: "textarea", Value: c.PublicKey, Required: true,
				Hint: "PEM (BEGIN PUBLIC KEY), or the bare base64 Atlassian products show."})
	}
	f.Fields = append(f.Fields,
		Field{Name: links.FieldCallback, Label: "Callback URL", Type: "url", Value: c.Callback,
			Hint: "Optional. When set, every request token's callback must start with it; without it the application gives its own, or none (oob)."},
		Field{Name: links.FieldTwoLegged, Label: "Two-legged OAuth: the application may sign requests without a user's token", Type: "checkbox", Checked: c.TwoLegged},
		Field{Name: links.FieldExecuteAs, Label: "Execute as", Type: "text", Value: c.ExecuteAs, Autocomplete: "off",
			Hint: "The user two-legged requests act as. Required with two-legged OAuth unless impersonation is on, where it is the user of requests that name none."},
		Field{Name: links.FieldImpersonation, Label: "Impersonation: a two-legged request may act as the user it names in xoauth_requestor_id", Type: "checkbox", Checked: c.Impersonation},
		permissionField("scope", "Permission", l.Ceiling.String()),
	)
	f.field("scope").Hint = "The most the application may do. Each user also limits it to their own role."
	return f
}

// readConsumer fills the form from the request and returns its settings
// and permission, setting the permission's error when it is bad.
func readConsumer(r *http.Request, f *Form) (links.ConsumerEdit, scope.Scope) {
	f.fill(r)
	ceiling, err := scope.Parse(f.field("scope").Value)
	f.check("scope", err)
	var pub string
	if fl := f.field(links.FieldPublicKey); fl != nil {
		pub = fl.Value
	}
	return links.ConsumerEdit{
		PublicKey:     pub,
		Callback:      f.field(links.FieldCallback).Value,
		TwoLegged:     f.field(links.FieldTwoLegged).Checked,
		ExecuteAs:     f.field(links.FieldExecuteAs).Value,
		Impersonation: f.field(links.FieldImpersonation).Checked,
		Ceiling:       ceiling,
	}, ceiling
}

// checkProblems sets each problem on its field.
func checkProblems(f *Form, problems []*links.ConsumerProblem) {
	for _, p := range problems {
		f.check(p.Field, p)
	}
}

// problemOf sets err on its field when it is a links.ConsumerProblem, and
// reports whether it was.
func problemOf(f *Form, err error) bool {
	var p *links.ConsumerProblem
	if errors.As(err, &p) {
		f.check(p.Field, p)
		return true
	}
	return false
}

// serveNewConsumer creates an incoming link that is an OAuth 1.0a
// consumer and shows what to copy into the application.
func (u *UI) serveNewConsumer(w http.ResponseWriter, r *http.Request, s users.Session) error {
	f := u.consumerForm(s, Path+"/new/incoming", links.Link{}, true)
	page := formPage{Tab: "links", Heading: "Create an incoming link", Tabs: authenticationTabs(authOAuth1), Form: f,
		Intro: []string{"An application that links with OAuth 1.0, as Jira, Confluence and Bitbucket Data Center do, will call this site's API on behalf of its users, signing each request, within the permission you choose."}}
	if r.Method != http.MethodPost {
		u.render(w, s, http.StatusOK, page)
		return nil
	}
	edit, ceiling := readConsumer(r, f)
	name, key := f.field("name").Value, f.field(links.FieldConsumerKey).Value
	if name == "" {
		f.check("name", errors.New("a name is required"))
	}
	f.check("name", u.nameFree(r, name))
	in := links.NewConsumer{Name: name, ConsumerKey: key, PublicKey: edit.PublicKey, Callback: edit.Callback, TwoLegged: edit.TwoLegged,
		ExecuteAs: edit.ExecuteAs, Impersonation: edit.Impersonation, Ceiling: ceiling, CreatedBy: s.User.Name}
	checkProblems(f, in.Problems())
	if f.field(links.FieldConsumerKey).Error == "" {
		if err := u.app.Links().ConsumerKeyFree(r.Context(), key); !problemOf(f, err) && err != nil {
			return err
		}
	}
	if !f.invalid() {
		l, _, err := u.app.Links().CreateConsumer(r.Context(), in)
		switch {
		case problemOf(f, err):
		case refusedCreation(f, &page, name, err):
		default:
			return u.consumerCredentials(w, r, s, l, "Incoming link "+l.Name+" created", "You can see them again later with View credentials.")
		}
	}
	u.refused(w, s, page, "The link was not created: correct the fields marked below.")
	return nil
}

// saveConsumer saves a runtime OAuth 1.0a consumer's settings and
// permission from its submitted page.
func (u *UI) saveConsumer(w http.ResponseWriter, r *http.Request, s users.Session, l links.Link, page formPage) error {
	f := page.Form
	edit, _ := readConsumer(r, f)
	checkProblems(f, edit.Problems(l))
	if !f.invalid() {
		_, err := u.app.Links().UpdateConsumer(r.Context(), l.ID, edit, s.User.Name)
		if !problemOf(f, err) {
			u.finishEdit(w, r, s, page, l.Name, "incoming", err)
			return nil
		}
	}
	u.refused(w, s, page, "Nothing was saved: correct the fields marked below.")
	return nil
}

// consumerCredentials shows what an OAuth 1.0a consumer is set up with:
// its consumer key, its shared secret (HMAC-SHA1) and the endpoints, under
// heading, with note after what to copy.
func (u *UI) consumerCredentials(w http.ResponseWriter, r *http.Request, s users.Session, l links.Link, heading, note string) error {
	issuer := u.app.IssuerFor(r)
	copies := []Copy{{Name: "consumer_key", Label: "Consumer key", Value: l.ClientID}}
	intro := []string{l.Name + " links with OAuth 1.0 and signs its requests with its RSA key; the gateway holds its public key. Enter the URLs below in it."}
	if l.OAuth1.PublicKey == "" {
		sec, err := u.app.Links().Secret(l)
		if err != nil {
			return err
		}
		copies = append(copies, Copy{Name: "shared_secret", Label: "Shared secret", Value: sec})
		intro = []string{l.Name + " links with OAuth 1.0 and signs its requests with HMAC-SHA1: copy the consumer key and shared secret into it. Keep the secret as you would a password."}
	}
	if note != "" {
		intro = append(intro, note)
	}
	copies = append(copies,
		Copy{Name: "request_token_url", Label: "Request token URL", Value: issuer + oauth.RequestTokenPath},
		Copy{Name: "authorize_url", Label: "Authorization URL", Value: issuer + oauth.OAuth1AuthorizePath},
		Copy{Name: "access_token_url", Label: "Access token URL", Value: issuer + oauth.AccessTokenPath},
	)
	page := formPage{Tab: "links", Heading: heading, Intro: intro, Back: Path, Copies: copies}
	u.app.Pages().Render(w, http.StatusOK, "admin_page.html", u.page(s, heading, false, page))
	return nil
}
