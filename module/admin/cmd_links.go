package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// linkCommands are the commands on incoming links and the list of all
// links.
func linkCommands() []*cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Short:   "Lists incoming and outgoing links",
		Example: "  caddy applinks list\n  caddy applinks list --json",
		Args:    cobra.NoArgs,
		RunE:    run(listLinks),
	}
	create := &cobra.Command{
		Use:   "create --name <name> --redirect-uri <uri> [--scope <permission>] [--require-pkce] [--public]\n  create --name <name> --oauth1 <consumer key> [--public-key <PEM file>] [--callback <url>] [--two-legged] [--execute-as <user>] [--impersonation] [--scope <permission>]",
		Short: "Creates an incoming link and prints its client id and secret (an OAuth 1.0a consumer with --oauth1)",
		Example: "  caddy applinks create --name jira --redirect-uri https://jira.example.com/plugins/servlet/oauth2/callback --scope write\n" +
			"  caddy applinks create --name jira --oauth1 jira-consumer --public-key jira.pem --scope write\n" +
			"  caddy applinks create --name scripts --oauth1 scripts --two-legged --execute-as ci --scope read",
		Args: cobra.NoArgs,
		RunE: run(createLink),
	}
	create.Flags().String("name", "", "The link's name")
	create.Flags().StringArray("redirect-uri", nil, "A redirect URI (repeatable)")
	create.Flags().String("scope", "READ", "Permission, in any case: READ, WRITE, ADMIN or SYSTEM_ADMIN")
	create.Flags().Bool("require-pkce", false, "Refuse authorization requests without PKCE")
	create.Flags().Bool("public", false, "A public client: no secret, PKCE with S256, loopback redirect URIs match any port")
	create.Flags().String("oauth1", "", "Make the link an OAuth 1.0a consumer with this consumer key")
	create.Flags().String("public-key", "", "OAuth 1.0a: a file with the consumer's RSA public key (PEM); without it a shared secret for HMAC-SHA1 is generated")
	create.Flags().String("callback", "", "OAuth 1.0a: the consumer's callback URL; oauth_callback must be under it")
	create.Flags().Bool("two-legged", false, "OAuth 1.0a: allow two-legged requests (without a token)")
	create.Flags().String("execute-as", "", "OAuth 1.0a: the user two-legged requests act as (implies --two-legged)")
	create.Flags().Bool("impersonation", false, "OAuth 1.0a: two-legged requests may name their user in xoauth_requestor_id")
	show := &cobra.Command{
		Use:     "show <link id or name>",
		Short:   "Shows an incoming link and its credentials",
		Example: "  caddy applinks show jira",
		Args:    cobra.ExactArgs(1),
		RunE:    run(showLink),
	}
	edit := &cobra.Command{
		Use:     "edit <link id or name> [--redirect-uri <uri>]… [--scope <permission>] [--require-pkce=true|false] [--disabled=true|false]\n  edit <consumer> [--public-key <PEM file>] [--callback <url>] [--two-legged=true|false] [--execute-as <user>] [--impersonation=true|false] [--scope <permission>]",
		Short:   "Changes an incoming link's redirect URIs, permission or PKCE requirement, or disables it; flags left out stay",
		Example: "  caddy applinks edit jira --scope read\n  caddy applinks edit jira --redirect-uri https://jira.example.com/cb --require-pkce\n  caddy applinks edit jira --disabled\n  caddy applinks edit jira --disabled=false\n  caddy applinks edit bitbucket --public-key bitbucket.pem --two-legged=false",
		Args:    cobra.ExactArgs(1),
		RunE:    run(editLink),
	}
	edit.Flags().StringArray("redirect-uri", nil, "A redirect URI (repeatable); replaces all of them")
	edit.Flags().String("scope", "", "Permission, in any case: READ, WRITE, ADMIN or SYSTEM_ADMIN")
	edit.Flags().Bool("require-pkce", false, "Refuse authorization requests without PKCE")
	edit.Flags().Bool("disabled", false, "Refuse the link's requests and tokens until --disabled=false")
	edit.Flags().String("public-key", "", "OAuth 1.0a: a file with the consumer's new RSA public key (PEM)")
	edit.Flags().String("callback", "", "OAuth 1.0a: the consumer's callback URL (empty for none)")
	edit.Flags().Bool("two-legged", false, "OAuth 1.0a: allow two-legged requests (without a token)")
	edit.Flags().String("execute-as", "", "OAuth 1.0a: the user two-legged requests act as")
	edit.Flags().Bool("impersonation", false, "OAuth 1.0a: two-legged requests may name their user in xoauth_requestor_id")
	del := &cobra.Command{
		Use:     "delete <link id or name>",
		Short:   "Deletes an incoming link with its grants and tokens",
		Example: "  caddy applinks delete jira",
		Args:    cobra.ExactArgs(1),
		RunE:    run(deleteLink),
	}
	rotate := &cobra.Command{
		Use:     "rotate-secret <link id or name> [--overlap <duration>]",
		Short:   "Gives an incoming link a new client secret; the old one works for the overlap (0: revoked at once)",
		Example: "  caddy applinks rotate-secret jira\n  caddy applinks rotate-secret jira --overlap 1h\n  caddy applinks rotate-secret jira --overlap 0",
		Args:    cobra.ExactArgs(1),
		RunE:    run(rotateLinkSecret),
	}
	rotate.Flags().String("overlap", "", "How long the old secret keeps working; 0 revokes it at once (default: secret_overlap, 24h)")
	return []*cobra.Command{list, create, show, edit, del, rotate}
}

func listLinks(_ *cobra.Command, cl *client, out output, _ []string) error {
	var in []linkView
	var outg []outgoingView
	if err := cl.do(http.MethodGet, "/applinks/links", nil, &in); err != nil {
		return err
	}
	if err := cl.do(http.MethodGet, "/applinks/outgoing", nil, &outg); err != nil {
		return err
	}
	if out.json {
		return out.document(map[string]any{"incoming": nonNil(in), "outgoing": nonNil(outg)})
	}
	rows := [][]string{}
	for _, l := range in {
		rows = append(rows, []string{"incoming", l.Name, l.ID, l.Source, l.ClientID, l.Scope})
	}
	for _, l := range outg {
		rows = append(rows, []string{"outgoing", l.Name, "", l.Source, l.ClientID, strings.Join(l.Scopes, " ")})
	}
	return out.table([]string{"DIRECTION", "NAME", "ID", "SOURCE", "CLIENT ID", "SCOPE"}, rows)
}

func createLink(c *cobra.Command, cl *client, out output, _ []string) error {
	name, _ := c.Flags().GetString("name")
	uris, _ := c.Flags().GetStringArray("redirect-uri")
	scope, _ := c.Flags().GetString("scope")
	pkce, _ := c.Flags().GetBool("require-pkce")
	public, _ := c.Flags().GetBool("public")
	body := map[string]any{"name": name, "redirect_uris": uris, "scope": permission(scope), "require_pkce": pkce, "public": public}
	if c.Flags().Changed("oauth1") {
		consumer, err := consumerFlags(c)
		if err != nil {
			return err
		}
		body = map[string]any{"name": name, "scope": permission(scope), "oauth1": consumer}
	}
	var l linkView
	if err := cl.do(http.MethodPost, "/applinks/links", body, &l); err != nil {
		return err
	}
	if out.json {
		return out.document(l)
	}
	return linkFields(out, l, l.ClientSecret)
}

func showLink(_ *cobra.Command, cl *client, out output, args []string) error {
	var l linkView
	if err := cl.do(http.MethodGet, "/applinks/links/"+seg(args[0]), nil, &l); err != nil {
		return err
	}
	var cred struct {
		ClientSecret string `json:"client_secret"`
		SharedSecret string `json:"shared_secret"`
	}
	if err := cl.do(http.MethodGet, "/applinks/links/"+seg(l.ID)+"/credentials", nil, &cred); err != nil {
		return err
	}
	l.ClientSecret = cred.ClientSecret
	if l.OAuth1 != nil {
		l.OAuth1.SharedSecret = cred.SharedSecret
	}
	if out.json {
		return out.document(l)
	}
	return linkFields(out, l, l.ClientSecret)
}

func editLink(c *cobra.Command, cl *client, out output, args []string) error {
	body := map[string]any{}
	if c.Flags().Changed("redirect-uri") {
		uris, _ := c.Flags().GetStringArray("redirect-uri")
		body["redirect_uris"] = uris
	}
	if c.Flags().Changed("scope") {
		scope, _ := c.Flags().GetString("scope")
		body["scope"] = permission(scope)
	}
	if c.Flags().Changed("require-pkce") {
		pkce, _ := c.Flags().GetBool("require-pkce")
		body["require_pkce"] = pkce
	}
	if c.Flags().Changed("disabled") {
		disabled, _ := c.Flags().GetBool("disabled")
		body["disabled"] = disabled
	}
	settings, err := consumerChanges(c)
	if err != nil {
		return err
	}
	if len(settings) > 0 {
		body["oauth1"] = settings
	}
	if len(body) == 0 {
		return fmt.Errorf("nothing to change: give --redirect-uri, --scope, --require-pkce or --disabled, or for an OAuth 1.0a consumer --public-key, --callback, --two-legged, --execute-as or --impersonation")
	}
	var l linkView
	if err := cl.do(http.MethodPatch, "/applinks/links/"+seg(args[0]), body, &l); err != nil {
		return err
	}
	if out.json {
		return out.document(l)
	}
	return linkFields(out, l, "")
}

// deleteLink finds the link first and deletes it by its id, so that what
// it says it deleted is what it deleted.
func deleteLink(_ *cobra.Command, cl *client, out output, args []string) error {
	var l linkView
	if err := cl.do(http.MethodGet, "/applinks/links/"+seg(args[0]), nil, &l); err != nil {
		return err
	}
	if err := cl.do(http.MethodDelete, "/applinks/links/"+seg(l.ID), nil, nil); err != nil {
		return err
	}
	if out.json {
		return out.document(map[string]any{"deleted": l})
	}
	return out.line("Deleted incoming link %q (id %s, client id %s) with its grants and tokens.", l.Name, l.ID, l.ClientID)
}

func rotateLinkSecret(c *cobra.Command, cl *client, out output, args []string) error {
	overlap, _ := c.Flags().GetString("overlap")
	var body any
	if overlap != "" {
		body = map[string]string{"overlap": overlap}
	}
	var l linkView
	if err := cl.do(http.MethodGet, "/applinks/links/"+seg(args[0]), nil, &l); err != nil {
		return err
	}
	var cred struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		ConsumerKey  string `json:"consumer_key"`
		SharedSecret string `json:"shared_secret"`
	}
	if err := cl.do(http.MethodPost, "/applinks/links/"+seg(l.ID)+"/rotate-secret", body, &cred); err != nil {
		return err
	}
	if out.json {
		return out.document(cred)
	}
	previous := "works for the configured secret_overlap (default 24h)"
	switch overlap {
	case "":
	case "0", "0s":
		previous = "revoked"
	default:
		previous = "works for " + overlap
	}
	if cred.ConsumerKey != "" {
		return out.fields([2]string{"Link", l.Name}, [2]string{"Consumer key", cred.ConsumerKey}, [2]string{"Shared secret", cred.SharedSecret}, [2]string{"Previous secret", previous})
	}
	return out.fields([2]string{"Link", l.Name}, [2]string{"Client ID", cred.ClientID}, [2]string{"Client secret", cred.ClientSecret}, [2]string{"Previous secret", previous})
}

// linkFields prints an incoming link, with its secret when one is given.
func linkFields(out output, l linkView, secret string) error {
	if l.OAuth1 != nil {
		return consumerFields(out, l)
	}
	pairs := [][2]string{
		{"Name", l.Name}, {"ID", l.ID}, {"Source", l.Source}, {"Client ID", l.ClientID},
	}
	if secret != "" {
		pairs = append(pairs, [2]string{"Client secret", secret})
	}
	pairs = append(pairs, [2]string{"Scope", l.Scope}, [2]string{"Redirect URIs", strings.Join(l.RedirectURIs, " ")}, [2]string{"Requires PKCE", yes(l.RequirePKCE || l.Public)}, [2]string{"Public client", yes(l.Public)}, [2]string{"Registered by itself", yes(l.Registered)}, [2]string{"Disabled", yes(l.Disabled)}, [2]string{"Created", when(l.CreatedAt)}, [2]string{"Created by", l.CreatedBy})
	return out.fields(pairs...)
}

// nonNil is s, or an empty slice so that JSON shows [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
