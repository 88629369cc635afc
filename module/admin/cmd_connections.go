package admin

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"
)

// connectionsCommand is `connections`: it lists the connections of
// outgoing links; `connections disconnect` deletes one.
func connectionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "connections [--link <outgoing link>] [--user <name>]",
		Short:   "Lists the users' connections of outgoing links, with their status; its subcommand disconnects one",
		Example: "  caddy applinks connections\n  caddy applinks connections --link drive\n  caddy applinks connections --user alice --json",
		Args:    cobra.NoArgs,
		RunE:    run(listConnections),
	}
	cmd.Flags().String("link", "", "Only the connections of this outgoing link")
	cmd.Flags().String("user", "", "Only the connections of this user")
	disconnect := &cobra.Command{
		Use:     "disconnect <outgoing link> [<user>]",
		Short:   "Deletes a user's connection of an outgoing link (no user: a shared link's); they connect again at /applinks/connect/<link>",
		Example: "  caddy applinks connections disconnect drive alice\n  caddy applinks connections disconnect team-wiki",
		Args:    cobra.RangeArgs(1, 2),
		RunE:    run(disconnect),
	}
	cmd.AddCommand(disconnect)
	return cmd
}

func listConnections(c *cobra.Command, cl *client, out output, _ []string) error {
	q := url.Values{}
	if v, _ := c.Flags().GetString("link"); v != "" {
		q.Set("link", v)
	}
	if v, _ := c.Flags().GetString("user"); v != "" {
		q.Set("user", v)
	}
	var cs []connectionView
	if err := cl.do(http.MethodGet, "/applinks/connections?"+q.Encode(), nil, &cs); err != nil {
		return err
	}
	if out.json {
		return out.document(nonNil(cs))
	}
	rows := [][]string{}
	for _, cn := range cs {
		user := cn.User
		if user == "" {
			user = "(shared)"
		}
		failures := ""
		if cn.Failures > 0 {
			failures = strconv.Itoa(cn.Failures)
		}
		rows = append(rows, []string{cn.Link, user, cn.Status, when(cn.Expiry), when(cn.UpdatedAt), failures, cn.LastError})
	}
	return out.table([]string{"LINK", "USER", "STATUS", "TOKEN EXPIRES", "UPDATED", "FAILURES", "LAST ERROR"}, rows)
}

func disconnect(_ *cobra.Command, cl *client, out output, args []string) error {
	q := url.Values{"link": {args[0]}}
	who := "the shared connection"
	if len(args) == 2 {
		q.Set("user", args[1])
		who = args[1]
	}
	var cn connectionView
	if err := cl.do(http.MethodDelete, "/applinks/connections?"+q.Encode(), nil, &cn); err != nil {
		return err
	}
	if out.json {
		return out.document(map[string]any{"deleted": cn})
	}
	return out.line("Disconnected %s from outgoing link %q (it was %s); its provider tokens are deleted.", who, cn.Link, cn.Status)
}
