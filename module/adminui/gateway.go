package adminui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// The two-way wizard links this gateway with another caddy-applinks
// gateway, as Atlassian's "Atlassian product via OAuth 2.0":
//
//  1. url: the other gateway's URL and the link's name; its RFC 8414
//     metadata is fetched (with the SSRF checks of every outgoing
//     endpoint) to confirm it.
//  2. incoming: the other side's redirect URL and the permission; this
//     creates this side's incoming link and shows its credentials, to be
//     entered in the other gateway's wizard.
//  3. outgoing: the client ID and secret the other gateway gave; this
//     creates the outgoing link of the same name, and the pair shows as one
//     Two-way row.
//
// Each step creates one whole link, so a wizard left half-way leaves an
// incoming link that the list offers to "Make two-way" later.
//
// Step 1 also offers OAuth 1.0, as Atlassian products link each other
// (gateway_oauth1.go): each side reads the other's consumer-info, and
// one confirmation creates both links.

// gatewayIssuer normalises the other gateway's URL to its issuer (no
// trailing slash, no query or fragment) and checks it with check, the
// outgoing service's CheckRuntimeEndpoint.
func gatewayIssuer(raw string, check func(string) error) (string, error) {
	if raw == "" {
		return "", errors.New("the other gateway's URL is required")
	}
	v, err := url.Parse(raw)
	if err != nil || v.Host == "" || (v.Scheme != "https" && v.Scheme != "http") {
		return "", errors.New("enter the other gateway's URL, e.g. https://jira.example.com")
	}
	if v.RawQuery != "" || v.Fragment != "" {
		return "", errors.New("the URL must not have a query or fragment")
	}
	v.Path = strings.TrimSuffix(v.Path, "/")
	v.RawPath = ""
	if err := check(v.String()); err != nil {
		return "", err
	}
	return v.String(), nil
}

// gatewayProvider is the outgoing provider of another gateway: RFC 8414
// discovery from its issuer.
func gatewayProvider(issuer string) json.RawMessage {
	raw, _ := json.Marshal(map[string]string{"provider": "oauth2", "issuer": issuer})
	return raw
}

// discoverGateway checks that issuer serves RFC 8414 metadata and returns
// what to show about it.
func (u *UI) discoverGateway(r *http.Request, issuer string) ([]Copy, error) {
	ep, err := u.app.Outgoing().Probe(r.Context(), gatewayProvider(issuer))
	if err != nil {
		u.logCause("two-way wizard: no metadata at the other gateway", err)
		return nil, &personError{msg: "No OAuth 2.0 metadata could be read from " + issuer + ": " + unreachable(err) + ". Check the address, and that this server can reach it.", cause: err}
	}
	return []Copy{
		{Name: "remote_authorization_endpoint", Label: "Its authorization endpoint", Value: ep.AuthURL},
		{Name: "remote_token_endpoint", Label: "Its token endpoint", Value: ep.TokenURL, Hint: "From its RFC 8414 metadata. Make sure this is a gateway you trust."},
	}, nil
}

// serveNewGateway runs the two-way wizard; the step is the form's action.
func (u *UI) serveNewGateway(w http.ResponseWriter, r *http.Request, s users.Session) error {
	csrf := u.app.Sessions().CSRFToken(s)
	urlForm := &Form{Action: wizardPath, CSRF: csrf, Cancel: Path + "/new",
		Fields: []Field{
			protocolField(),
			{Name: "url", Label: "Application URL", Type: "url", Required: true, Hint: "The other gateway's address (its issuer), e.g. https://jira.example.com."},
			{Name: "name", Label: "Name", Type: "text", Required: true, Hint: "Names this link on this side: letters, digits, '-', '_' and '.'."},
		},
		Buttons: []Button{{Value: "discover", Label: "Continue"}}}
	page := formPage{Tab: "links", Heading: "Link another caddy-applinks gateway", Form: urlForm, Intro: []string{
		"A two-way link lets each gateway call the other on behalf of its users: each side has an incoming and an outgoing link. Run this wizard on both gateways at the same time, with the same protocol.",
	}}
	render := func(status int) error {
		u.render(w, s, status, page)
		return nil
	}
	if r.Method != http.MethodPost {
		if id := r.URL.Query().Get("incoming"); id != "" {
			return u.gatewayOutgoingStep(w, r, s, id, "", nil)
		}
		return render(http.StatusOK)
	}
	switch r.PostFormValue("action") {
	case "discover":
		urlForm.fill(r)
		name := urlForm.field("name").Value
		urlForm.check("name", outgoing.ValidateName(name))
		urlForm.check("name", u.nameFree(r, name))
		if urlForm.field("protocol").Value == protocolOAuth1 {
			return u.gatewayOAuth1Discover(w, r, s, &page, urlForm)
		}
		issuer, err := gatewayIssuer(urlForm.field("url").Value, u.app.Outgoing().CheckRuntimeEndpoint)
		var remote []Copy
		if urlForm.check("url", err) {
			remote, err = u.discoverGateway(r, issuer)
			urlForm.check("url", err)
		}
		if urlForm.invalid() {
			page.Error = "Correct the fields marked below."
			return render(http.StatusUnprocessableEntity)
		}
		page.Form, page.Copies, page.Intro = u.gatewayIncomingForm(csrf, issuer, name), remote, incomingStepIntro(issuer)
		return render(http.StatusOK)
	case "incoming":
		issuer, name := r.PostFormValue("url"), r.PostFormValue("name")
		f := u.gatewayIncomingForm(csrf, issuer, name)
		page.Form, page.Intro = f, incomingStepIntro(issuer)
		redirects, ceiling := readIncoming(r, f)
		if _, err := gatewayIssuer(issuer, u.app.Outgoing().CheckRuntimeEndpoint); err != nil || outgoing.ValidateName(name) != nil {
			page.Error = "The wizard's data was altered: start again."
			return render(http.StatusBadRequest)
		}
		if f.invalid() {
			page.Error = "The link was not created: correct the fields marked below."
			return render(http.StatusUnprocessableEntity)
		}
		err := u.nameFree(r, name)
		var l links.Link
		if err == nil {
			l, _, err = u.app.Links().Create(r.Context(), links.NewLink{Name: name, RedirectURIs: redirects, Ceiling: ceiling, CreatedBy: s.User.Name})
		}
		if errors.Is(err, errNameTaken) || errors.Is(err, store.ErrAlreadyExists) {
			page.Error = fmt.Sprintf("A link named %q was created meanwhile: start again with another name.", name)
			return render(http.StatusConflict)
		}
		if err != nil {
			page.Error = forPerson(err)
			return render(http.StatusUnprocessableEntity)
		}
		return u.gatewayOutgoingStep(w, r, s, l.ID, issuer, nil)
	case "outgoing":
		return u.gatewayOutgoingStep(w, r, s, r.PostFormValue("incoming"), "", r)
	case "oauth1":
		return u.gatewayOAuth1Create(w, r, s, &page)
	}
	page.Error = "Unknown step: start again."
	return render(http.StatusBadRequest)
}

// wizardPath is the two-way wizard's page.
const wizardPath = Path + "/new/gateway"

// incomingStepIntro introduces step 2.
func incomingStepIntro(issuer string) []string {
	return []string{"Step 2 of 3: this gateway's incoming link, for " + issuer + " to call this site."}
}

// issuerOfCallback guesses the other gateway's URL from the redirect URL
// of its incoming link here: what precedes its callback path for the link
// name, else the URL's origin.
func issuerOfCallback(redirect, name string) string {
	if issuer, ok := strings.CutSuffix(redirect, outgoing.CallbackPrefix+name); ok {
		return issuer
	}
	u, err := url.Parse(redirect)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// gatewayIncomingForm is step 2: the other side's redirect URL (its
// outgoing link's callback, by default of the same name) and permission.
func (u *UI) gatewayIncomingForm(csrf, issuer, name string) *Form {
	return &Form{Action: wizardPath, CSRF: csrf, Cancel: Path,
		Hidden: []Hidden{{"url", issuer}, {"name", name}},
		Fields: []Field{
			{Name: "redirect_uris", Label: "Its redirect URL", Type: "textarea", Required: true, Value: issuer + outgoing.CallbackPrefix + name,
				Hint: "Shown on the other gateway's outgoing step. Change it if its link has another name there."},
			permissionField("scope", "Permission", scope.Read.String()),
		},
		Buttons: []Button{{Value: "incoming", Label: "Create incoming link and continue"}}}
}

// gatewayOutgoingStep is step 3: it shows this side's credentials and
// redirect URL for the other gateway, and creates the outgoing link from
// the credentials the other gateway gave (when post is the submitted form).
func (u *UI) gatewayOutgoingStep(w http.ResponseWriter, r *http.Request, s users.Session, incomingID, issuer string, post *http.Request) error {
	in, err := u.app.Links().Get(r.Context(), incomingID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && in.Source == links.SourceConfig) {
		u.notFound(w, s, "This wizard's incoming link does not exist (any more): start again.")
		return nil
	} else if err != nil {
		return err
	}
	sec, err := u.app.Links().Secret(in)
	if err != nil {
		return err
	}
	if issuer == "" && len(in.RedirectURIs) > 0 {
		issuer = issuerOfCallback(in.RedirectURIs[0], in.Name)
	}
	f := &Form{Action: wizardPath, CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path,
		Hidden: []Hidden{{"incoming", in.ID}},
		Fields: []Field{
			{Name: "url", Label: "Application URL", Type: "url", Value: issuer, Required: true, Hint: "The other gateway's address."},
			{Name: "client_id", Label: "Client ID", Type: "text", Required: true, Autocomplete: "off", Hint: "From the incoming link the other gateway created for this one."},
			{Name: "client_secret", Label: "Client secret", Type: "password", Required: true, Autocomplete: "new-password"},
			permissionField("scope", "Permission", in.Ceiling.String()),
		},
		Buttons: []Button{{Value: "outgoing", Label: "Save two-way link"}}}
	f.field("scope").Hint = "What this site asks for at the other gateway."
	page := formPage{Tab: "links", Heading: "Link another caddy-applinks gateway", Form: f,
		Intro: []string{
			"Step 3 of 3: the incoming link " + in.Name + " exists. Enter the values below in the other gateway's wizard, then enter here the client ID and secret it gives you. Keep this page open.",
		},
		Copies: []Copy{
			{Name: "client_id", Label: "This gateway's client ID for it", Value: in.ClientID},
			{Name: "client_secret", Label: "This gateway's client secret for it", Value: sec},
			{Name: "redirect_uri", Label: "This gateway's redirect URL, for its incoming link", Value: u.redirectURL(r, in.Name)},
		}}
	if post != nil {
		f.fill(post)
		ceiling, err := scope.Parse(f.field("scope").Value)
		f.check("scope", err)
		iss, err := gatewayIssuer(f.field("url").Value, u.app.Outgoing().CheckRuntimeEndpoint)
		if f.check("url", err) {
			_, err = u.discoverGateway(r, iss)
			f.check("url", err)
		}
		for _, name := range []string{"client_id", "client_secret"} {
			if f.field(name).Value == "" {
				f.check(name, errors.New("copy it from the other gateway's incoming link"))
			}
		}
		if !f.invalid() {
			_, err := u.app.Outgoing().Create(r.Context(), outgoing.NewOutgoing{CreatedBy: s.User.Name, ConfigLink: outgoing.ConfigLink{
				Name: in.Name, ProviderRaw: gatewayProvider(iss), ClientID: f.field("client_id").Value, ClientSecret: f.field("client_secret").Value,
				Scopes: []string{ceiling.String()}, Mode: outgoing.ModePerUser,
			}})
			switch {
			case errors.Is(err, store.ErrAlreadyExists):
				page.Error = "An outgoing link named " + in.Name + " exists already."
			case err != nil:
				page.Error = forPerson(err)
			default:
				u.redirect(w, r, s, Path, "Two-way link "+in.Name+" created with "+iss+".")
				return nil
			}
		}
		u.refused(w, s, page, "The outgoing link was not created: correct the fields marked below.")
		return nil
	}
	u.render(w, s, http.StatusOK, page)
	return nil
}
