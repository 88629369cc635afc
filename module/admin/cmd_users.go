package admin

import (
	"errors"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/applinks/caddy-applinks/module/applinks"
)

// usersCommand is `users`: it lists users; its subcommands show, set,
// delete, sign out and revoke the grants of one.
func usersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "users",
		Short:   "Lists users; its subcommands change them",
		Example: "  caddy applinks users\n  caddy applinks users --json",
		Args:    cobra.NoArgs,
		RunE:    run(listUsers),
	}
	show := &cobra.Command{
		Use:     "show <name>",
		Short:   "Shows a user",
		Example: "  caddy applinks users show alice",
		Args:    cobra.ExactArgs(1),
		RunE:    run(showUser),
	}
	set := &cobra.Command{
		Use:     "set <name> [--role <permission>] [--disabled] [--password-stdin]",
		Short:   "Creates or updates a user; the password, if any, is read from standard input",
		Example: "  printf '%s\\n' \"$PASSWORD\" | caddy applinks users set yuri --role write --password-stdin\n  caddy applinks users set yuri --disabled\n  caddy applinks users set yuri --disabled=false",
		Args:    cobra.ExactArgs(1),
		RunE:    run(setUser),
	}
	set.Flags().String("role", "READ", "Role, in any case: READ, WRITE, ADMIN or SYSTEM_ADMIN (default: the user's, READ for a new user)")
	set.Flags().Bool("disabled", false, "Disable the user (--disabled=false enables them): no sign-in, and their tokens and sessions stop working (default: as the user is)")
	set.Flags().Bool("password-stdin", false, "Read the new password from standard input (required for a new user)")
	del := &cobra.Command{
		Use:     "delete <name>",
		Short:   "Deletes a user with their grants, connections and sessions",
		Example: "  caddy applinks users delete yuri",
		Args:    cobra.ExactArgs(1),
		RunE:    run(deleteUser),
	}
	signOut := &cobra.Command{
		Use:     "sign-out <name>",
		Short:   "Ends every session of a user, in every browser",
		Example: "  caddy applinks users sign-out alice",
		Args:    cobra.ExactArgs(1),
		RunE:    run(signOutUser),
	}
	revoke := &cobra.Command{
		Use:     "revoke-grants <name>",
		Short:   "Revokes every authorization of a user",
		Example: "  caddy applinks users revoke-grants alice",
		Args:    cobra.ExactArgs(1),
		RunE:    run(revokeUserGrants),
	}
	cmd.AddCommand(show, set, del, signOut, revoke)
	return cmd
}

func listUsers(_ *cobra.Command, cl *client, out output, _ []string) error {
	var us []applinks.UserEntry
	if err := cl.do(http.MethodGet, "/applinks/users", nil, &us); err != nil {
		return err
	}
	if out.json {
		return out.document(nonNil(us))
	}
	rows := [][]string{}
	for _, u := range us {
		rows = append(rows, []string{u.Name, u.Role, u.Source, yes(u.Disabled)})
	}
	return out.table([]string{"NAME", "ROLE", "SOURCE", "DISABLED"}, rows)
}

func showUser(_ *cobra.Command, cl *client, out output, args []string) error {
	var u applinks.UserEntry
	if err := cl.do(http.MethodGet, "/applinks/users/"+seg(args[0]), nil, &u); err != nil {
		return err
	}
	if out.json {
		return out.document(u)
	}
	return userFields(out, u)
}

// setUser changes only what its flags say: a role or disabled flag left
// out keeps the user's, so that resetting a password neither demotes nor
// enables the user.
func setUser(c *cobra.Command, cl *client, out output, args []string) error {
	cur := applinks.UserEntry{Role: "READ"}
	var apiErr *apiStatusError
	if err := cl.do(http.MethodGet, "/applinks/users/"+seg(args[0]), nil, &cur); err != nil && !(errors.As(err, &apiErr) && apiErr.status == http.StatusNotFound) {
		return err
	}
	role, disabled := cur.Role, cur.Disabled
	if c.Flags().Changed("role") {
		role, _ = c.Flags().GetString("role")
	}
	if c.Flags().Changed("disabled") {
		disabled, _ = c.Flags().GetBool("disabled")
	}
	body := map[string]any{"role": permission(role), "disabled": disabled}
	if withPassword, _ := c.Flags().GetBool("password-stdin"); withPassword {
		pw, err := readSecret(c.InOrStdin())
		if err != nil {
			return err
		}
		body["password"] = pw
	}
	var u applinks.UserEntry
	if err := cl.do(http.MethodPut, "/applinks/users/"+seg(args[0]), body, &u); err != nil {
		return err
	}
	if out.json {
		return out.document(u)
	}
	return userFields(out, u)
}

func deleteUser(_ *cobra.Command, cl *client, out output, args []string) error {
	var u applinks.UserEntry
	if err := cl.do(http.MethodGet, "/applinks/users/"+seg(args[0]), nil, &u); err != nil {
		return err
	}
	if err := cl.do(http.MethodDelete, "/applinks/users/"+seg(u.Name), nil, nil); err != nil {
		return err
	}
	if out.json {
		return out.document(map[string]any{"deleted": u})
	}
	return out.line("Deleted user %s (%s, %s) with their grants, connections and sessions.", u.Name, u.Source, u.Role)
}

func signOutUser(_ *cobra.Command, cl *client, out output, args []string) error {
	var n struct {
		SessionsEnded int `json:"sessions_ended"`
	}
	if err := cl.do(http.MethodPost, "/applinks/users/"+seg(args[0])+"/sign-out", nil, &n); err != nil {
		return err
	}
	if out.json {
		return out.document(n)
	}
	return out.line("Signed %s out: %d session(s) ended.", args[0], n.SessionsEnded)
}

func revokeUserGrants(_ *cobra.Command, cl *client, out output, args []string) error {
	var n struct {
		Revoked int `json:"revoked"`
	}
	if err := cl.do(http.MethodPost, "/applinks/users/"+seg(args[0])+"/revoke-grants", nil, &n); err != nil {
		return err
	}
	if out.json {
		return out.document(n)
	}
	return out.line("Revoked %d grant(s) of %s with their tokens.", n.Revoked, args[0])
}

func userFields(out output, u applinks.UserEntry) error {
	return out.fields([2]string{"Name", u.Name}, [2]string{"Role", u.Role}, [2]string{"Source", u.Source}, [2]string{"Disabled", yes(u.Disabled)})
}
