package adminui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/oauth"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// linksPage is the application links list.
type linksPage struct {
	CSRF   string
	Notice users.Flash
	Rows   []linkRow
}

// linkRow is one application: an incoming link, an outgoing link, or both
// (Two-way) when they have the same name.
type linkRow struct {
	Name, Direction, Provider string
	Statuses                  []status
	FromConfig                bool
	Incoming                  *incomingRow
	Outgoing                  *outgoingRow
	DeleteURL                 string
	// Completable: an incoming link for another gateway (its redirect URL
	// is that gateway's callback of the same name) without an outgoing link
	// yet can be made two-way.
	Completable bool
	CompleteURL string
}

type incomingRow struct {
	ID, EditLabel string
	ReadOnly      bool
	// Public: a client without a secret, so nothing to rotate.
	Public bool
	// OAuth1: an OAuth 1.0a consumer, shown read-only here (the admin API
	// and the CLI manage it).
	OAuth1 bool
}

type outgoingRow struct {
	Name, EditLabel, ConnectURL string
	ReadOnly, Shared, Connected bool
}

// status is a status label with its colour class (ok, warn, bad or none);
// Direction names the half of a Two-way row it is about.
type status struct{ Direction, Text, Class string }

// serveLinks lists the application links, pairing an incoming and an
// outgoing link of the same name as one Two-way row.
func (u *UI) serveLinks(w http.ResponseWriter, r *http.Request, s users.Session) error {
	rows, err := u.rows(r.Context())
	if err != nil {
		return err
	}
	page := linksPage{CSRF: u.app.Sessions().CSRFToken(s), Notice: u.app.Sessions().TakeFlash(w, r, s), Rows: rows}
	u.app.Pages().Render(w, http.StatusOK, "admin_links.html", u.page(s, "Application links", true, page))
	return nil
}

func (u *UI) rows(ctx context.Context) ([]linkRow, error) {
	in, err := u.app.Links().List(ctx)
	if err != nil {
		return nil, err
	}
	names, err := u.app.Outgoing().Names(ctx)
	if err != nil {
		return nil, err
	}
	var rows []linkRow
	byName := map[string]int{}
	for _, l := range in {
		active := status{Direction: "Incoming", Text: "Active", Class: "ok"}
		if l.Disabled {
			active = status{Direction: "Incoming", Text: "Disabled", Class: "bad"}
		}
		row := linkRow{
			Name: l.Name, Direction: "Incoming", Provider: incomingKind(l),
			FromConfig: l.Source == links.SourceConfig,
			Incoming:   &incomingRow{ID: l.ID, EditLabel: "Edit", ReadOnly: l.Source == links.SourceConfig, Public: l.Public, OAuth1: l.IsOAuth1()},
			Statuses:   []status{active},
		}
		row.Completable = l.Source != links.SourceConfig && outgoing.ValidateName(l.Name) == nil &&
			slices.ContainsFunc(l.RedirectURIs, func(u string) bool { return strings.HasSuffix(u, outgoing.CallbackPrefix+l.Name) })
		if l.IsOAuth1() {
			row.Incoming.EditLabel = "View"
		}
		byName[l.Name] = len(rows)
		rows = append(rows, row)
	}
	for _, n := range names {
		l, err := u.app.Outgoing().Link(ctx, n)
		if err != nil {
			return nil, err
		}
		declared := u.app.Outgoing().Declared(n)
		st, connected, err := u.outgoingStatus(ctx, l)
		if err != nil {
			return nil, err
		}
		out := &outgoingRow{Name: n, EditLabel: "Edit", ReadOnly: declared, Shared: l.Mode == outgoing.ModeShared, Connected: connected,
			ConnectURL: outgoing.ConnectPrefix + n + "?return_to=" + url.QueryEscape(Path)}
		provider := linkKind(l) + " · " + modeLabel(l.Mode)
		if i, ok := byName[n]; ok && rows[i].Outgoing == nil {
			row := &rows[i]
			row.Direction, row.Outgoing, row.Provider = "Two-way", out, row.Provider+" · "+provider
			row.FromConfig = row.FromConfig || declared
			row.Incoming.EditLabel, out.EditLabel = "Edit incoming", "Edit outgoing"
			if row.Incoming.ReadOnly || row.Incoming.OAuth1 {
				row.Incoming.EditLabel = "View incoming"
			}
			row.Statuses = append(row.Statuses, st...)
			continue
		}
		byName[n] = len(rows)
		rows = append(rows, linkRow{Name: n, Direction: "Outgoing", Provider: provider, FromConfig: declared, Outgoing: out, Statuses: st})
	}
	for i := range rows {
		row := &rows[i]
		if row.Incoming == nil || row.Outgoing == nil {
			// One direction: the Direction column says which.
			for j := range row.Statuses {
				row.Statuses[j].Direction = ""
			}
		}
		q := url.Values{}
		if row.Incoming != nil {
			q.Set("incoming", row.Incoming.ID)
		}
		if row.Outgoing != nil {
			q.Set("outgoing", row.Outgoing.Name)
		}
		row.DeleteURL = Path + "/delete?" + q.Encode()
		if row.Incoming != nil && row.Incoming.ReadOnly && row.Outgoing == nil {
			row.Incoming.EditLabel = "View"
		}
		if row.Completable = row.Completable && row.Outgoing == nil; row.Completable {
			row.CompleteURL = Path + "/new/gateway?" + url.Values{"incoming": {row.Incoming.ID}}.Encode()
		}
	}
	return rows, nil
}

// outgoingStatus summarises an outgoing link's connections: the shared
// one's status, or how many users are connected in each status.
func (u *UI) outgoingStatus(ctx context.Context, l *outgoing.Link) ([]status, bool, error) {
	conns, err := u.app.Outgoing().Connections(ctx, store.ConnectionFilter{LinkID: l.Name})
	if err != nil {
		return nil, false, err
	}
	if len(conns) == 0 {
		return []status{{Direction: "Outgoing", Text: outgoing.StatusLabel(""), Class: "none"}}, false, nil
	}
	count := map[string]int{}
	for _, c := range conns {
		count[c.Status]++
	}
	var out []status
	for _, sc := range []struct{ status, class string }{{outgoing.StatusValid, "ok"}, {outgoing.StatusRecoverable, "warn"}, {outgoing.StatusUnrecoverable, "bad"}} {
		if count[sc.status] == 0 {
			continue
		}
		st := status{Direction: "Outgoing", Text: outgoing.StatusLabel(sc.status), Class: sc.class}
		if l.Mode == outgoing.ModePerUser {
			st.Text = fmt.Sprintf("%s: %s", st.Text, plural(count[sc.status], "user"))
		}
		out = append(out, st)
	}
	return out, true, nil
}

// providerLabels name the provider modules as every page shows them; the
// create form's "custom" kind is the oauth2 module.
var providerLabels = map[string]string{"google": "Google", "microsoft": "Microsoft", "oidc": "OpenID Connect", "oauth2": "Custom OAuth 2.0"}

// providerName is the label of a link's provider module, e.g. "Google".
func providerName(p outgoing.Provider) string {
	if m, ok := p.(caddy.Module); ok {
		if label, ok := providerLabels[m.CaddyModule().ID.Name()]; ok {
			return label
		}
		return m.CaddyModule().ID.Name()
	}
	return providerLabels["oauth2"]
}

// modeLabel says whose account an outgoing link uses.
func modeLabel(mode string) string {
	if mode == outgoing.ModeShared {
		return "Shared account"
	}
	return "Each user's account"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// incoming finds the runtime or declared incoming link of the path's id.
func (u *UI) incoming(w http.ResponseWriter, r *http.Request, s users.Session) (links.Link, bool, error) {
	l, err := u.app.Links().Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, s, "This incoming link does not exist (any more).")
		return links.Link{}, false, nil
	}
	return l, err == nil, err
}

// serveCredentials shows an incoming link's client id and secret.
func (u *UI) serveCredentials(w http.ResponseWriter, r *http.Request, s users.Session) error {
	l, ok, err := u.incoming(w, r, s)
	if !ok {
		return err
	}
	if l.IsOAuth1() {
		return u.consumerCredentials(w, r, s, l)
	}
	if l.Public {
		u.credentials(w, r, s, l, "", "Credentials of "+l.Name, []string{l.Name + " is a public client: copy the client ID into it; it has no secret and must use PKCE."})
		return nil
	}
	sec, err := u.app.Links().Secret(l)
	if err != nil {
		return err
	}
	u.credentials(w, r, s, l, sec, "Credentials of "+l.Name, []string{"Copy these into " + l.Name + " to complete the link. Keep the secret as you would a password."})
	return nil
}

// credentials renders an incoming link's client id and secret with the
// endpoints the application needs.
func (u *UI) credentials(w http.ResponseWriter, r *http.Request, s users.Session, l links.Link, secret, heading string, intro []string) {
	issuer := u.app.IssuerFor(r)
	copies := []Copy{{Name: "client_id", Label: "Client ID", Value: l.ClientID}}
	if !l.Public {
		copies = append(copies, Copy{Name: "client_secret", Label: "Client secret", Value: secret})
	}
	copies = append(copies,
		Copy{Name: "authorization_endpoint", Label: "Authorization endpoint", Value: issuer + oauth.AuthorizePath},
		Copy{Name: "token_endpoint", Label: "Token endpoint", Value: issuer + oauth.TokenPath},
		Copy{Name: "redirect_uris", Label: "Redirect URL", Value: strings.Join(l.RedirectURIs, " ")},
	)
	page := formPage{Tab: "links", Heading: heading, Intro: intro, Back: Path, Copies: copies}
	u.app.Pages().Render(w, http.StatusOK, "admin_page.html", u.page(s, heading, false, page))
}

// serveRotate asks for confirmation (GET, or a POST without a choice)
// and gives an incoming link a new secret (POST action=keep: the previous
// one keeps working for the configured overlap; action=revoke: revoked at
// once). A submitted overlap (a duration) replaces the configured one.
func (u *UI) serveRotate(w http.ResponseWriter, r *http.Request, s users.Session) error {
	l, ok, err := u.incoming(w, r, s)
	if !ok {
		return err
	}
	if l.Source == links.SourceConfig {
		u.redirectRefused(w, r, s, Path, l.Name+" is declared in the Caddyfile: change its secret there.")
		return nil
	}
	if l.Public {
		u.redirectRefused(w, r, s, Path, l.Name+" is a public client: it has no secret to rotate.")
		return nil
	}
	if l.IsOAuth1() {
		u.redirectRefused(w, r, s, Path, l.Name+" links with OAuth 1.0: rotate its shared secret with the admin API or `caddy applinks rotate-secret`.")
		return nil
	}
	overlap := time.Duration(u.app.SecretOverlap)
	if v := r.PostFormValue("overlap"); v != "" {
		if overlap, err = caddy.ParseDuration(v); err != nil || overlap < 0 {
			u.redirectRefused(w, r, s, Path, "The overlap of the old secret must be a duration such as 0 or 24h.")
			return nil
		}
	}
	action := r.PostFormValue("action")
	if r.Method != http.MethodPost || (action != "keep" && action != "revoke") {
		u.confirmRotate(w, s, l, overlap)
		return nil
	}
	if action == "revoke" {
		overlap = 0
	}
	sec, err := u.app.Links().RotateSecret(r.Context(), l.ID, overlap, s.User.Name)
	if errors.Is(err, links.ErrReadOnly) {
		u.redirectRefused(w, r, s, Path, l.Name+" is declared in the Caddyfile: change its secret there.")
		return nil
	}
	if err != nil {
		return err
	}
	intro := fmt.Sprintf("The previous secret keeps working for %s, so %s can switch without downtime.", humanDuration(overlap), l.Name)
	if overlap == 0 {
		intro = "The previous secret no longer works: " + l.Name + " needs the new one now."
	}
	u.credentials(w, r, s, l, sec, "New secret of "+l.Name, []string{intro})
	return nil
}

// confirmRotate asks whether to rotate l's secret, keeping the old one
// for overlap or revoking it at once.
func (u *UI) confirmRotate(w http.ResponseWriter, s users.Session, l links.Link, overlap time.Duration) {
	form := &Form{Action: Path + "/incoming/" + l.ID + "/rotate", CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path,
		Buttons: []Button{{Value: "revoke", Label: overlapChoice(0), Class: "danger"}}}
	intro := []string{
		"A new client secret is made and shown once, for you to copy into " + l.Name + ".",
	}
	if overlap > 0 {
		form.Hidden = []Hidden{{"overlap", overlap.String()}}
		form.Buttons = append([]Button{{Value: "keep", Label: overlapChoice(overlap)}}, form.Buttons...)
		intro = append(intro, fmt.Sprintf("Keeping the old secret for %s lets %s switch without downtime. Revoking it now stops %s until it has the new one.", humanDuration(overlap), l.Name, l.Name))
	} else {
		intro = append(intro, "The old secret stops working at once: "+l.Name+" fails until it has the new one.")
	}
	page := formPage{Tab: "links", Heading: "Rotate the secret of " + l.Name + "?", Intro: intro, Form: form}
	u.app.Pages().Render(w, http.StatusOK, "admin_page.html", u.page(s, "Rotate the secret of "+l.Name, false, page))
}

// serveDelete asks for confirmation (GET) and deletes (POST) an
// application: its incoming link with every grant and token, its outgoing
// link with every connection, or both.
func (u *UI) serveDelete(w http.ResponseWriter, r *http.Request, s users.Session) error {
	ctx := r.Context()
	inID, outName := r.FormValue("incoming"), r.FormValue("outgoing")
	var (
		in      links.Link
		name    string
		effects []string
	)
	if inID != "" {
		l, err := u.app.Links().Get(ctx, inID)
		if errors.Is(err, store.ErrNotFound) {
			u.notFound(w, s, "This incoming link does not exist (any more).")
			return nil
		} else if err != nil {
			return err
		}
		grants, err := u.app.Grants().List(ctx, store.GrantFilter{LinkID: l.ID})
		if err != nil {
			return err
		}
		in, name = l, l.Name
		effects = append(effects, fmt.Sprintf("The incoming link and its credentials: %s loses access, and its %s with every token stop working at once.", l.Name, plural(len(grants), "authorization")))
	}
	if outName != "" {
		l, err := u.app.Outgoing().Link(ctx, outName)
		if errors.Is(err, store.ErrNotFound) {
			u.notFound(w, s, "This outgoing link does not exist (any more).")
			return nil
		} else if err != nil {
			return err
		}
		conns, err := u.app.Outgoing().Connections(ctx, store.ConnectionFilter{LinkID: l.Name})
		if err != nil {
			return err
		}
		name = l.Name
		effects = append(effects, fmt.Sprintf("The outgoing link and its %s: requests through outgoing_token %s get no token.", plural(len(conns), "connected account"), l.Name))
	}
	if name == "" {
		u.notFound(w, s, "Choose a link to delete from the list.")
		return nil
	}
	if r.Method == http.MethodGet {
		form := &Form{Action: Path + "/delete", CSRF: u.app.Sessions().CSRFToken(s), Cancel: Path,
			Hidden:  []Hidden{{"incoming", inID}, {"outgoing", outName}},
			Buttons: []Button{{Value: "delete", Label: "Delete " + name, Class: "danger"}}}
		page := formPage{Tab: "links", Heading: "Delete " + name + "?", Intro: append(effects, "This cannot be undone."), Form: form}
		u.app.Pages().Render(w, http.StatusOK, "admin_page.html", u.page(s, "Delete "+name, false, page))
		return nil
	}
	// Both halves are checked before either is deleted, so a Two-way row
	// is never half deleted.
	if in.Source == links.SourceConfig || (outName != "" && u.app.Outgoing().Declared(outName)) {
		u.redirectRefused(w, r, s, Path, name+" is declared in the Caddyfile: remove it there.")
		return nil
	}
	if inID != "" {
		if err := u.app.Links().Delete(ctx, in.ID, s.User.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		u.app.Activity().Forget(in.ID)
	}
	if outName != "" {
		if err := u.app.Outgoing().Delete(ctx, outName, s.User.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	u.redirect(w, r, s, Path, name+" deleted.")
	return nil
}
