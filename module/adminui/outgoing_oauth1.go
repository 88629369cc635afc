package adminui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/users"
)

// oauth1Label names OAuth 1.0a links on every page.
const oauth1Label = "OAuth 1.0 (Atlassian)"

// linkKind is how the links list names an outgoing link's kind: its
// provider, or OAuth 1.0.
func linkKind(l *outgoing.Link) string {
	if l.OAuth1 != nil {
		return oauth1Label
	}
	return providerName(l.Provider)
}

// oauth1Fields are the editable settings of an OAuth 1.0a link;
// gatewayKey is the consumer key used when the link names none.
func oauth1Fields(l *outgoing.Link, gatewayKey string) []Field {
	return []Field{
		{Name: "application_url", Label: "Application URL", Type: "url", Value: l.OAuth1.ApplicationURL, Required: true, Hint: "The base URL of the Jira, Confluence or Bitbucket Data Center instance."},
		{Name: "consumer_key", Label: "Consumer key", Type: "text", Value: l.OAuth1.ConsumerKey, Autocomplete: "off", Hint: "Leave empty to use this gateway's consumer key, " + gatewayKey + "."},
		modeField(l.Mode),
	}
}

// oauth1Copies are what the administrator of the remote product needs of
// an OAuth 1.0a link (its incoming authentication: the consumer key and
// public key), its endpoints, and the status of its connections.
func (u *UI) oauth1Copies(r *http.Request, l *outgoing.Link, c *outgoing.Consumer) ([]Copy, error) {
	issuer := u.app.IssuerFor(r)
	st, _, err := u.outgoingStatus(r.Context(), l)
	if err != nil {
		return nil, err
	}
	var statuses []string
	for _, s := range st {
		statuses = append(statuses, s.Text)
	}
	ep := l.OAuth1.Endpoints()
	return []Copy{
		{Name: "status", Label: "Status", Value: strings.Join(statuses, ", "), Hint: "OAuth 1.0 tokens do not refresh: when " + l.Name + " refuses one, its user connects again."},
		{Name: "consumer_key", Label: "Consumer key", Value: c.ConsumerKey(l)},
		{Name: "consumer_name", Label: "Consumer name", Value: strings.TrimPrefix(strings.TrimPrefix(issuer, "https://"), "http://")},
		{Name: "public_key", Label: "Public key", Value: c.PublicKeyBase64(), Hint: "Enter these as the incoming authentication (OAuth) of the application link to this gateway in " + l.Name + ". The same, as XML: " + issuer + outgoing.ConsumerInfoPath + "."},
		{Name: "callback", Label: "Callback URL", Value: issuer + outgoing.CallbackPrefix + l.Name},
		{Name: "request_token_url", Label: "Request token URL", Value: ep.RequestTokenURL},
		{Name: "authorize_url", Label: "Authorize URL", Value: ep.AuthorizeURL},
		{Name: "access_token_url", Label: "Access token URL", Value: ep.AccessTokenURL},
	}, nil
}

// serveEditOAuth1 is the page of an OAuth 1.0a link: what to enter in the
// remote product, the status of its connections, and its application URL,
// consumer key and mode to change (a runtime link's).
func (u *UI) serveEditOAuth1(w http.ResponseWriter, r *http.Request, s users.Session, l *outgoing.Link) error {
	c, err := u.app.Outgoing().Consumer(r.Context())
	if err != nil {
		return err
	}
	copies, err := u.oauth1Copies(r, l, c)
	if err != nil {
		return err
	}
	declared := u.app.Outgoing().Declared(l.Name)
	f := &Form{Action: Path + "/outgoing/" + l.Name, CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path,
		Fields: oauth1Fields(l, c.Key), Buttons: []Button{{Value: "save", Label: "Save"}}}
	page := formPage{Tab: "links", Heading: "Edit " + l.Name, Form: f, Copies: copies, Notice: u.app.Sessions().TakeFlash(w, r, s), Intro: []string{
		l.Name + " is linked with OAuth 1.0, as Atlassian products link each other: this gateway signs each request with its RSA key.",
	}}
	if declared {
		f.readOnly()
		page.Intro = append(page.Intro, "This link is declared in the Caddyfile: change it there.")
	}
	if r.Method != http.MethodPost {
		u.render(w, s, http.StatusOK, page)
		return nil
	}
	if declared {
		page.Error = "Nothing was saved: this link is declared in the Caddyfile."
		u.render(w, s, http.StatusConflict, page)
		return nil
	}
	o := u.readOAuth1(r, f)
	if f.invalid() {
		u.refused(w, s, page, "Nothing was saved: correct the fields marked below.")
		return nil
	}
	_, err = u.app.Outgoing().Update(r.Context(), l.Name, outgoing.EditOutgoing{Mode: f.field("mode").Value, OAuth1: o}, s.User.Name)
	u.finishEdit(w, r, s, page, l.Name, "outgoing", err)
	return nil
}

// readOAuth1 fills an OAuth 1.0a link's form from the request and returns
// its settings, with a message on each field at fault: the application
// URL must be one the gateway may connect to (CheckRuntimeEndpoint), and
// neither it nor the consumer key may hold a placeholder.
func (u *UI) readOAuth1(r *http.Request, f *Form) *outgoing.OAuth1Config {
	f.fill(r)
	o := &outgoing.OAuth1Config{ApplicationURL: f.field("application_url").Value, ConsumerKey: f.field("consumer_key").Value}
	if o.ApplicationURL == "" {
		f.check("application_url", errors.New("the application URL is required"))
	} else if f.check("application_url", outgoing.CheckNoPlaceholder(o.ApplicationURL)) {
		f.check("application_url", u.app.Outgoing().CheckRuntimeEndpoint(o.ApplicationURL))
	}
	f.check("consumer_key", outgoing.CheckNoPlaceholder(o.ConsumerKey))
	return o
}

// serveNewOAuth1 creates an OAuth 1.0a link to an Atlassian product and
// lands on its page, which shows the consumer key and public key to enter
// in the product.
func (u *UI) serveNewOAuth1(w http.ResponseWriter, r *http.Request, s users.Session) error {
	c, err := u.app.Outgoing().Consumer(r.Context())
	if err != nil {
		return err
	}
	f := &Form{Action: Path + "/new/outgoing", CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path + "/new",
		Hidden: []Hidden{{"provider", "oauth1"}}, Buttons: []Button{{Value: "save", Label: "Create"}}}
	f.Fields = append([]Field{{Name: "name", Label: "Name", Type: "text", Required: true, Hint: "Used in outgoing_token <name> and in the callback URL: letters, digits, '-', '_' and '.'."}},
		oauth1Fields(&outgoing.Link{Mode: outgoing.ModePerUser, OAuth1: &outgoing.OAuth1Config{}}, c.Key)...)
	page := formPage{Tab: "links", Heading: "Create an outgoing link: " + oauth1Label, Form: f, Intro: []string{
		"This site will call a Jira, Confluence or Bitbucket Data Center with each user's account (or one shared account), signing each request with OAuth 1.0 as Atlassian products link each other.",
		"Creating the link shows the consumer key and public key to enter in the product, as the incoming authentication of its application link to this gateway.",
	}}
	if r.Method != http.MethodPost {
		u.render(w, s, http.StatusOK, page)
		return nil
	}
	o := u.readOAuth1(r, f)
	name := f.field("name").Value
	if f.check("name", outgoing.ValidateName(name)) {
		f.check("name", u.nameFree(r, name))
	}
	if !f.invalid() {
		_, err := u.app.Outgoing().Create(r.Context(), outgoing.NewOutgoing{CreatedBy: s.User.Name, ConfigLink: outgoing.ConfigLink{Name: name, Mode: f.field("mode").Value, OAuth1: o}})
		if !refusedCreation(f, &page, name, err) {
			u.redirect(w, r, s, Path+"/outgoing/"+name, "Outgoing link "+name+" created. Enter the consumer key and public key below in "+name+", then connect.")
			return nil
		}
	}
	u.refused(w, s, page, "The link was not created: correct the fields marked below.")
	return nil
}
