package adminui

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// The two-way wizard's OAuth 1.0 path links this gateway with another
// caddy-applinks gateway as Atlassian products link each other over
// OAuth 1.0a, each side the other's consumer:
//
//  1. url: the other gateway's URL and the link's name; its consumer-info
//     is read (through the client of runtime links, with its SSRF checks).
//  2. oauth1: the other side's consumer key, name and public key are
//     shown with this side's consumer-info URL, for the other
//     administrator's wizard; confirming with a permission creates both
//     halves here: the incoming consumer of the other's key and public
//     key, and the outgoing OAuth 1.0a link to its URL, of the same name.
//     When the second cannot be created the first is deleted, so nothing
//     is left half-way.
//
// No credential is copied: each side reads the other's consumer-info.

// Protocols of the two-way wizard.
const (
	protocolOAuth2 = "oauth2"
	protocolOAuth1 = "oauth1"
)

// protocolField is step 1's choice between OAuth 2.0 and OAuth 1.0.
func protocolField() Field {
	return Field{Name: "protocol", Label: "Protocol", Type: "select", Required: true, Value: protocolOAuth2,
		Hint: "Both gateways must use the same. OAuth 1.0 is how Atlassian products link each other: nothing to copy but each gateway's URL.",
		Options: []Option{
			{Value: protocolOAuth2, Label: "OAuth 2.0: three steps, client IDs and secrets copied both ways", Selected: true},
			{Value: protocolOAuth1, Label: "OAuth 1.0: two steps, each side reads the other's consumer-info"},
		}}
}

// gatewayApplicationURL is the other gateway's URL for the OAuth 1.0
// path: its base URL (checked as gatewayIssuer does), also when the
// administrator pasted its consumer-info URL.
func gatewayApplicationURL(raw string, check func(string) error) (string, error) {
	return gatewayIssuer(strings.TrimSuffix(strings.TrimSpace(raw), outgoing.ConsumerInfoPath), check)
}

// readGatewayConsumer reads the other gateway's consumer-info at appURL;
// its errors are written for the administrator.
func (u *UI) readGatewayConsumer(r *http.Request, appURL string) (outgoing.ConsumerInfo, error) {
	info, err := u.app.Outgoing().FetchConsumerInfo(r.Context(), appURL)
	switch {
	case err == nil:
		return info, nil
	case errors.Is(err, outgoing.ErrRefused):
		return info, err
	case errors.Is(err, outgoing.ErrNoConsumerInfo):
		u.logCause("two-way wizard: no consumer-info at the other gateway", err)
		why := strings.TrimPrefix(err.Error(), outgoing.ErrNoConsumerInfo.Error()+": ")
		return info, &personError{msg: appURL + " serves no usable OAuth 1.0 consumer-info at " + outgoing.ConsumerInfoPath + " (" + why + "). Check the address: it must be a caddy-applinks gateway or an Atlassian product.", cause: err}
	}
	u.logCause("two-way wizard: the other gateway's consumer-info could not be read", err)
	return info, &personError{msg: "Nothing could be read from " + appURL + ": " + unreachableOr(err, "it did not answer") + ". Check the address, and that this server can reach it.", cause: err}
}

// consumerKeyFree returns an error when a link here has key as its
// consumer key or client id.
func (u *UI) consumerKeyFree(r *http.Request, key string) error {
	l, err := u.app.Links().ByClientID(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return &personError{msg: fmt.Sprintf("The other gateway's consumer key %s is registered already, as the incoming link %s: delete that link first, or link to another gateway.", key, l.Name)}
}

// gatewayOAuth1Discover is step 1 of the OAuth 1.0 path: it reads the
// other gateway's consumer-info and shows step 2, or step 1 again with
// what is wrong.
func (u *UI) gatewayOAuth1Discover(w http.ResponseWriter, r *http.Request, s users.Session, page *formPage, f *Form) error {
	appURL, err := gatewayApplicationURL(f.field("url").Value, u.app.Outgoing().CheckRuntimeEndpoint)
	var info outgoing.ConsumerInfo
	if f.check("url", err) {
		info, err = u.readGatewayConsumer(r, appURL)
		if f.check("url", err) {
			f.check("url", u.consumerKeyFree(r, info.Key))
		}
	}
	if f.invalid() {
		page.Error = "Correct the fields marked below."
		u.render(w, s, http.StatusUnprocessableEntity, *page)
		return nil
	}
	u.render(w, s, http.StatusOK, u.gatewayOAuth1Page(r, s, appURL, f.field("name").Value, info))
	return nil
}

// gatewayOAuth1Page is step 2 of the OAuth 1.0 path: what was read of
// the other side, this side's consumer-info URL for the other's wizard,
// and the permission.
func (u *UI) gatewayOAuth1Page(r *http.Request, s users.Session, appURL, name string, info outgoing.ConsumerInfo) formPage {
	issuer := u.app.IssuerFor(r)
	f := &Form{Action: wizardPath, CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path,
		Hidden:  []Hidden{{"url", appURL}, {"name", name}, {"consumer_key", info.Key}, {"public_key_sha256", keyDigest(info.PublicKey)}},
		Fields:  []Field{permissionField("scope", "Permission", scope.Read.String())},
		Buttons: []Button{{Value: "oauth1", Label: "Create two-way link"}}}
	f.field("scope").Hint = "The most " + appURL + " may do here on behalf of a user; each user also limits it to their own role."
	return formPage{Tab: "links", Heading: "Link another caddy-applinks gateway", Form: f,
		Intro: []string{
			"Step 2 of 2: " + appURL + " links with OAuth 1.0 under the name " + name + ". Check that the consumer below is that gateway's, choose the permission, and create the link: this creates its incoming and outgoing halves here.",
			"On the other gateway, run this wizard with OAuth 1.0 and this gateway's URL, " + issuer + ".",
		},
		Copies: []Copy{
			{Name: "remote_consumer_key", Label: "Its consumer key", Value: info.Key},
			{Name: "remote_consumer_name", Label: "Its consumer name", Value: info.Name},
			{Name: "remote_public_key", Label: "Its public key", Value: info.PublicKey, Hint: "Read from " + appURL + outgoing.ConsumerInfoPath + ". Make sure this is a gateway you trust."},
			{Name: "consumer_info_url", Label: "This gateway's consumer-info, for the other gateway's wizard", Value: issuer + outgoing.ConsumerInfoPath},
		}}
}

// gatewayOAuth1Create is step 2's confirmation: it reads the other
// gateway's consumer-info again (its key must be the one shown) and
// creates the incoming consumer, then the outgoing link; if the second
// fails the first is deleted.
func (u *UI) gatewayOAuth1Create(w http.ResponseWriter, r *http.Request, s users.Session, page *formPage) error {
	name, shownKey, shownDigest := r.PostFormValue("name"), r.PostFormValue("consumer_key"), r.PostFormValue("public_key_sha256")
	appURL, err := gatewayApplicationURL(r.PostFormValue("url"), u.app.Outgoing().CheckRuntimeEndpoint)
	if err != nil || outgoing.ValidateName(name) != nil || shownKey == "" || shownDigest == "" {
		page.Error = "The wizard's data was altered: start again."
		u.render(w, s, http.StatusBadRequest, *page)
		return nil
	}
	info, err := u.readGatewayConsumer(r, appURL)
	if err != nil {
		page.Error = forPerson(err)
		u.render(w, s, http.StatusBadGateway, *page)
		return nil
	}
	step := u.gatewayOAuth1Page(r, s, appURL, name, info)
	f := step.Form
	f.fill(r)
	ceiling, err := scope.Parse(f.field("scope").Value)
	if !f.check("scope", err) {
		u.refused(w, s, step, "The link was not created: correct the fields marked below.")
		return nil
	}
	// The administrator trusted the key and public key shown: what is
	// created must be those, not what the other side serves by now.
	if info.Key != shownKey || keyDigest(info.PublicKey) != shownDigest {
		step.Error = "The other gateway's consumer key or public key changed since the previous step: check the ones shown now and confirm again."
		u.render(w, s, http.StatusConflict, step)
		return nil
	}
	if err := u.nameFree(r, name); err != nil {
		step.Error = forPerson(err)
		if errors.Is(err, errNameTaken) {
			step.Error = fmt.Sprintf("A link named %q was created meanwhile: start again with another name.", name)
		}
		u.render(w, s, http.StatusConflict, step)
		return nil
	}
	if err := u.consumerKeyFree(r, info.Key); err != nil {
		step.Error = forPerson(err)
		u.render(w, s, http.StatusConflict, step)
		return nil
	}
	in, _, err := u.app.Links().CreateConsumer(r.Context(), links.NewConsumer{Name: name, ConsumerKey: info.Key, PublicKey: info.PublicKey, Ceiling: ceiling, CreatedBy: s.User.Name})
	if err != nil {
		step.Error = "The link was not created: " + forPerson(err)
		if errors.Is(err, store.ErrAlreadyExists) {
			step.Error = fmt.Sprintf("The link was not created: a link named %q, or one with the consumer key %s, was created meanwhile.", name, info.Key)
		}
		u.render(w, s, http.StatusConflict, step)
		return nil
	}
	_, err = u.app.Outgoing().Create(r.Context(), outgoing.NewOutgoing{CreatedBy: s.User.Name, ConfigLink: outgoing.ConfigLink{
		Name: name, Mode: outgoing.ModePerUser, OAuth1: &outgoing.OAuth1Config{ApplicationURL: appURL},
	}})
	if err != nil {
		if derr := u.app.Links().Delete(r.Context(), in.ID, s.User.Name); derr != nil {
			u.app.Logger().Error("two-way wizard: the incoming half of a link whose outgoing half failed was not deleted", zap.String("link", name), zap.Error(derr))
		}
		step.Error = "Nothing was created: the outgoing link failed: " + forPerson(err)
		if errors.Is(err, store.ErrAlreadyExists) {
			step.Error = fmt.Sprintf("Nothing was created: an outgoing link named %q was created meanwhile.", name)
		}
		u.render(w, s, http.StatusConflict, step)
		return nil
	}
	u.redirect(w, r, s, Path, "Two-way link "+name+" created with "+appURL+" over OAuth 1.0.")
	return nil
}

// keyDigest is the SHA-256 of a public key as consumer-info gives it, in
// hex: what step 2 showed, carried to the confirmation.
func keyDigest(publicKey string) string {
	sum := sha256.Sum256([]byte(publicKey))
	return hex.EncodeToString(sum[:])
}
