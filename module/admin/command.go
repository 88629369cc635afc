package admin

import (
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "applinks",
		Usage: "<command> [--json] [--address <admin address>]",
		Short: "Manages application links through the running Caddy's admin API",
		Long: `
Manages the gateway's incoming links (list, create, show, edit, delete,
rotate-secret), outgoing links (outgoing …) and their connections
(connections …), grants (grants …), users (users …) and token-signing keys
(keys …), by calling the /applinks/ admin API of the running Caddy.

A link is named by its id or its name wherever one is asked for.
Permissions (READ, WRITE, ADMIN, SYSTEM_ADMIN) may be typed in any case.
Commands print a table; --json prints one JSON document instead.
--address is the admin endpoint (default: as caddy's other commands
determine it, usually localhost:2019).`,
		CobraFunc: buildCommand,
	})
}

// buildCommand fills in `caddy applinks` with its flags and subcommands.
func buildCommand(cmd *cobra.Command) {
	cmd.Example = `  caddy applinks list
  caddy applinks create --name jira --redirect-uri https://jira.example.com/plugins/servlet/oauth2/callback --scope write
  caddy applinks grants --link jira --json`
	cmd.PersistentFlags().String("address", "", "The address of Caddy's admin API")
	cmd.PersistentFlags().Bool("json", false, "Print one JSON document instead of a table")
	cmd.AddCommand(linkCommands()...)
	cmd.AddCommand(outgoingCommand(), connectionsCommand(), grantsCommand(), usersCommand(), keysCommand(), migrateStoreCommand(), backupCommand(), restoreCommand())
}

// runner is what a command does with a client of the admin API and the
// output its flags ask for.
type runner func(c *cobra.Command, cl *client, out output, args []string) error

// run turns a runner into a cobra RunE.
func run(f runner) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		cl, err := newClient(c)
		if err != nil {
			return err
		}
		asJSON, _ := c.Flags().GetBool("json")
		return f(c, cl, output{w: c.OutOrStdout(), json: asJSON}, args)
	}
}

// permission is a permission as typed on the command line, in any case
// and with - or _, as the API spells it: "system-admin" is SYSTEM_ADMIN.
// Provider scopes of outgoing links are never changed: they are the
// provider's, and case matters there.
func permission(s string) string {
	return strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "-", "_")
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }
