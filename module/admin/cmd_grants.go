package admin

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

// grantsCommand is `grants`: it lists grants; its subcommands show and
// revoke one.
func grantsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "grants [--user <name>] [--link <link id or name>]",
		Short:   "Lists grants (users' authorizations of incoming links); its subcommands show and revoke one",
		Example: "  caddy applinks grants\n  caddy applinks grants --user alice\n  caddy applinks grants --link jira --json",
		Args:    cobra.NoArgs,
		RunE:    run(listGrants),
	}
	cmd.Flags().String("user", "", "Only this user's grants")
	cmd.Flags().String("link", "", "Only the grants of this incoming link (id or name)")
	show := &cobra.Command{
		Use:     "show <grant id>",
		Short:   "Shows a grant",
		Example: "  caddy applinks grants show 3f2a…",
		Args:    cobra.ExactArgs(1),
		RunE:    run(showGrant),
	}
	revoke := &cobra.Command{
		Use:     "revoke <grant id>",
		Short:   "Revokes a grant with every token issued from it",
		Example: "  caddy applinks grants revoke 3f2a…\n  caddy applinks users revoke-grants alice   # all of a user's grants",
		Args:    cobra.ExactArgs(1),
		RunE:    run(revokeGrant),
	}
	cmd.AddCommand(show, revoke)
	return cmd
}

func listGrants(c *cobra.Command, cl *client, out output, _ []string) error {
	q := url.Values{}
	if v, _ := c.Flags().GetString("user"); v != "" {
		q.Set("user", v)
	}
	if v, _ := c.Flags().GetString("link"); v != "" {
		q.Set("link", v)
	}
	var gs []grantView
	if err := cl.do(http.MethodGet, "/applinks/grants?"+q.Encode(), nil, &gs); err != nil {
		return err
	}
	if out.json {
		return out.document(nonNil(gs))
	}
	rows := [][]string{}
	for _, g := range gs {
		rows = append(rows, []string{g.ID, g.User, linkName(g), g.Scope, when(g.CreatedAt), when(g.UpdatedAt), when(g.ExpiresAt), g.Resource})
	}
	return out.table([]string{"ID", "USER", "LINK", "SCOPE", "CREATED", "LAST REFRESH", "EXPIRES", "RESOURCE"}, rows)
}

func showGrant(_ *cobra.Command, cl *client, out output, args []string) error {
	var g grantView
	if err := cl.do(http.MethodGet, "/applinks/grants/"+seg(args[0]), nil, &g); err != nil {
		return err
	}
	if out.json {
		return out.document(g)
	}
	return out.fields([2]string{"ID", g.ID}, [2]string{"User", g.User}, [2]string{"Link", linkName(g)}, [2]string{"Client ID", g.ClientID}, [2]string{"Scope", g.Scope}, [2]string{"Resource", g.Resource}, [2]string{"Created", when(g.CreatedAt)}, [2]string{"Last refresh", when(g.UpdatedAt)}, [2]string{"Expires", when(g.ExpiresAt)})
}

func revokeGrant(_ *cobra.Command, cl *client, out output, args []string) error {
	var g grantView
	if err := cl.do(http.MethodGet, "/applinks/grants/"+seg(args[0]), nil, &g); err != nil {
		return err
	}
	if err := cl.do(http.MethodDelete, "/applinks/grants/"+seg(g.ID), nil, nil); err != nil {
		return err
	}
	if out.json {
		return out.document(map[string]any{"revoked": g})
	}
	return out.line("Revoked grant %s of %s through %s (%s) with its tokens.", g.ID, g.User, linkName(g), g.Scope)
}

// linkName names a grant's link by name, or by id when it is gone.
func linkName(g grantView) string {
	if g.Link != "" {
		return g.Link
	}
	return g.LinkID
}
