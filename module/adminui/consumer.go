package adminui

import (
	"net/http"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth"
	"github.com/applinks/caddy-applinks/module/users"
)

// consumerForm shows an OAuth 1.0a consumer's link read-only: the admin
// UI does not edit consumers yet (the admin API and the CLI do).
func consumerForm(l links.Link) *Form {
	c := l.OAuth1
	method := "RSA-SHA1 (public key)"
	if c.PublicKey == "" {
		method = "HMAC-SHA1 (shared secret)"
	}
	twoLegged := "Off"
	switch {
	case c.TwoLegged && c.Impersonation:
		twoLegged = "On, as the user xoauth_requestor_id names"
		if c.ExecuteAs != "" {
			twoLegged += ", else as " + c.ExecuteAs
		}
	case c.TwoLegged:
		twoLegged = "On, as " + c.ExecuteAs
	}
	f := &Form{Fields: []Field{
		{Name: "name", Label: "Name", Type: "text", Value: l.Name},
		{Name: "authentication", Label: "Incoming authentication", Type: "text", Value: "OAuth 1.0"},
		{Name: "consumer_key", Label: "Consumer key", Type: "text", Value: l.ClientID},
		{Name: "signature_method", Label: "Signature method", Type: "text", Value: method},
		{Name: "callback", Label: "Callback URL", Type: "text", Value: c.Callback},
		{Name: "two_legged", Label: "Two-legged OAuth", Type: "text", Value: twoLegged},
		permissionField("scope", "Permission", l.Ceiling.String()),
	}}
	for i := range f.Fields {
		f.Fields[i].ReadOnly = true
	}
	return f
}

// consumerCredentials shows what an OAuth 1.0a consumer is set up with:
// its consumer key, its shared secret (HMAC-SHA1) and the endpoints.
func (u *UI) consumerCredentials(w http.ResponseWriter, r *http.Request, s users.Session, l links.Link) error {
	issuer := u.app.IssuerFor(r)
	copies := []Copy{{Name: "consumer_key", Label: "Consumer key", Value: l.ClientID}}
	intro := []string{l.Name + " links with OAuth 1.0 and signs its requests with its RSA key; the gateway holds its public key."}
	if l.OAuth1.PublicKey == "" {
		sec, err := u.app.Links().Secret(l)
		if err != nil {
			return err
		}
		copies = append(copies, Copy{Name: "shared_secret", Label: "Shared secret", Value: sec})
		intro = []string{l.Name + " links with OAuth 1.0 and signs its requests with HMAC-SHA1: copy the consumer key and shared secret into it. Keep the secret as you would a password."}
	}
	copies = append(copies,
		Copy{Name: "request_token_url", Label: "Request token URL", Value: issuer + oauth.RequestTokenPath},
		Copy{Name: "authorize_url", Label: "Authorization URL", Value: issuer + oauth.OAuth1AuthorizePath},
		Copy{Name: "access_token_url", Label: "Access token URL", Value: issuer + oauth.AccessTokenPath},
	)
	heading := "Credentials of " + l.Name
	page := formPage{Tab: "links", Heading: heading, Intro: intro, Back: Path, Copies: copies}
	u.app.Pages().Render(w, http.StatusOK, "admin_page.html", u.page(s, heading, false, page))
	return nil
}
