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
	page := formPage{Tab: "links", Heading: "Edit " + l.Name, Form: f, Copies: copies, Intro: []string{
		l.Name + " is linked with OAuth 1.0, as Atlassian products link each other: this gateway signs each request with its RSA key.",
	}}
	if declared {
		for i := range f.Fields {
			f.Fields[i].ReadOnly = true
		}
		f.Buttons = nil
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
	f.fill(r)
	appURL := f.field("application_url").Value
	if appURL == "" {
		f.check("application_url", errors.New("the application URL is required"))
	} else {
		f.check("application_url", u.app.Outgoing().CheckRuntimeEndpoint(appURL))
	}
	if f.invalid() {
		u.refused(w, s, page, "Nothing was saved: correct the fields marked below.")
		return nil
	}
	_, err = u.app.Outgoing().Update(r.Context(), l.Name, outgoing.EditOutgoing{
		Mode:   f.field("mode").Value,
		OAuth1: &outgoing.OAuth1Config{ApplicationURL: appURL, ConsumerKey: strings.TrimSpace(f.field("consumer_key").Value)},
	}, s.User.Name)
	u.finishEdit(w, r, s, page, l.Name, "outgoing", err)
	return nil
}
