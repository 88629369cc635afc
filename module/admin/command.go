package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "applinks",
		Usage: "list | create | show | delete | rotate-secret | users [set | delete | sign-out | revoke-grants] [--address <admin address>]",
		Short: "Manages application links through the running Caddy's admin API",
		Long: `
Lists, creates, shows, deletes application links, rotates their client
secrets and lists users, by calling the /applinks/ admin API of the running
Caddy. --address is the admin endpoint (default: as caddy's other commands
determine it, usually localhost:2019).`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.PersistentFlags().String("address", "", "The address of Caddy's admin API")
			list := &cobra.Command{Use: "list", Short: "Lists incoming and outgoing links", Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
				if err := call(c, http.MethodGet, "/applinks/links", nil); err != nil {
					return err
				}
				return call(c, http.MethodGet, "/applinks/outgoing", nil)
			}}
			create := &cobra.Command{Use: "create", Short: "Creates an incoming link and prints its client id and secret", Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
				name, _ := c.Flags().GetString("name")
				uris, _ := c.Flags().GetStringArray("redirect-uri")
				scope, _ := c.Flags().GetString("scope")
				pkce, _ := c.Flags().GetBool("require-pkce")
				return call(c, http.MethodPost, "/applinks/links", map[string]any{"name": name, "redirect_uris": uris, "scope": scope, "require_pkce": pkce})
			}}
			create.Flags().String("name", "", "The link's name")
			create.Flags().StringArray("redirect-uri", nil, "A redirect URI (repeatable)")
			create.Flags().String("scope", "READ", "Permission: READ, WRITE, ADMIN or SYSTEM_ADMIN")
			create.Flags().Bool("require-pkce", false, "Refuse authorization requests without PKCE")
			show := &cobra.Command{Use: "show <link id>", Short: "Shows a link and its credentials", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, args []string) error {
				if err := call(c, http.MethodGet, "/applinks/links/"+args[0], nil); err != nil {
					return err
				}
				return call(c, http.MethodGet, "/applinks/links/"+args[0]+"/credentials", nil)
			}}
			del := &cobra.Command{Use: "delete <link id>", Short: "Deletes a link with its grants and tokens", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, args []string) error {
				return call(c, http.MethodDelete, "/applinks/links/"+args[0], nil)
			}}
			rotate := &cobra.Command{Use: "rotate-secret <link id>", Short: "Gives a link a new client secret; the old one works for the overlap (0: revoked at once)", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, args []string) error {
				overlap, _ := c.Flags().GetString("overlap")
				var body any
				if overlap != "" {
					body = map[string]string{"overlap": overlap}
				}
				return call(c, http.MethodPost, "/applinks/links/"+args[0]+"/rotate-secret", body)
			}}
			rotate.Flags().String("overlap", "", "How long the old secret keeps working; 0 revokes it at once (default: secret_overlap, 24h)")
			users := &cobra.Command{Use: "users", Short: "Lists users; its subcommands change them", Args: cobra.NoArgs, RunE: func(c *cobra.Command, _ []string) error {
				return call(c, http.MethodGet, "/applinks/users", nil)
			}}
			setUser := &cobra.Command{Use: "set <name>", Short: "Creates or updates a user; the password, if any, is read from standard input", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, args []string) error {
				role, _ := c.Flags().GetString("role")
				disabled, _ := c.Flags().GetBool("disabled")
				body := map[string]any{"role": role, "disabled": disabled}
				if withPassword, _ := c.Flags().GetBool("password-stdin"); withPassword {
					pw, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<10))
					if err != nil {
						return err
					}
					body["password"] = strings.TrimRight(string(pw), "\r\n")
				}
				return call(c, http.MethodPut, "/applinks/users/"+url.PathEscape(args[0]), body)
			}}
			setUser.Flags().String("role", "READ", "Role: READ, WRITE, ADMIN or SYSTEM_ADMIN")
			setUser.Flags().Bool("disabled", false, "Disable the user: no sign-in, and their tokens and sessions stop working")
			setUser.Flags().Bool("password-stdin", false, "Read the new password from standard input (required for a new user)")
			delUser := &cobra.Command{Use: "delete <name>", Short: "Deletes a user", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, args []string) error {
				return call(c, http.MethodDelete, "/applinks/users/"+url.PathEscape(args[0]), nil)
			}}
			signOutUser := &cobra.Command{Use: "sign-out <name>", Short: "Ends every session of a user, in every browser", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, args []string) error {
				return call(c, http.MethodPost, "/applinks/users/"+url.PathEscape(args[0])+"/sign-out", nil)
			}}
			revokeUser := &cobra.Command{Use: "revoke-grants <name>", Short: "Revokes every authorization of a user", Args: cobra.ExactArgs(1), RunE: func(c *cobra.Command, args []string) error {
				return call(c, http.MethodPost, "/applinks/users/"+url.PathEscape(args[0])+"/revoke-grants", nil)
			}}
			users.AddCommand(setUser, delUser, signOutUser, revokeUser)
			cmd.AddCommand(list, create, show, del, rotate, users)
		},
	})
}

// call sends one request to the admin API and prints the JSON answer.
func call(c *cobra.Command, method, path string, body any) error {
	addrFlag, _ := c.Flags().GetString("address")
	addr, err := caddycmd.DetermineAdminAPIAddress(addrFlag, nil, "", "")
	if err != nil {
		return err
	}
	var rd io.Reader
	hdr := http.Header{}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
		hdr.Set("Content-Type", "application/json")
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, path, hdr, rd)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		raw = pretty.Bytes()
	}
	_, _ = os.Stdout.Write(raw)
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		fmt.Println()
	}
	return nil
}
