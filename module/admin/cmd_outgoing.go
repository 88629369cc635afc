package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// outgoingCommand is `outgoing`: it lists outgoing links; its
// subcommands show, create, edit and delete them.
func outgoingCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "outgoing",
		Short:   "Lists outgoing links; its subcommands show, create, edit and delete them",
		Example: "  caddy applinks outgoing\n  caddy applinks outgoing show drive",
		Args:    cobra.NoArgs,
		RunE:    run(listOutgoing),
	}
	show := &cobra.Command{
		Use:     "show <name>",
		Short:   "Shows an outgoing link",
		Example: "  caddy applinks outgoing show drive",
		Args:    cobra.ExactArgs(1),
		RunE:    run(showOutgoing),
	}
	create := &cobra.Command{
		Use:   "create --name <name> --provider <google|microsoft|oidc|oauth2> --client-id <id> --client-secret-stdin [flags]",
		Short: "Creates an outgoing link; the client secret is read from standard input",
		Example: `  printf '%s' "$SECRET" | caddy applinks outgoing create --name drive --provider google \
      --client-id 123.apps.googleusercontent.com --client-secret-stdin \
      --scope https://www.googleapis.com/auth/drive.readonly
  printf '%s' "$SECRET" | caddy applinks outgoing create --name wiki --provider oidc \
      --issuer https://id.example.com --client-id gateway --client-secret-stdin --mode shared`,
		Args: cobra.NoArgs,
		RunE: run(createOutgoing),
	}
	create.Flags().String("name", "", "The link's name, used in outgoing_token and its /applinks/connect/<name> path")
	create.Flags().String("provider", "", "The provider: google, microsoft, oidc or oauth2")
	create.Flags().String("issuer", "", "The provider's issuer (oidc; oauth2 with discovery)")
	create.Flags().String("authorization-endpoint", "", "The provider's authorization endpoint (oauth2 without discovery)")
	create.Flags().String("token-endpoint", "", "The provider's token endpoint (oauth2 without discovery)")
	create.Flags().String("tenant", "", "The Microsoft tenant (microsoft)")
	create.Flags().String("client-id", "", "The gateway's client id at the provider")
	create.Flags().Bool("client-secret-stdin", false, "Read the gateway's client secret at the provider from standard input")
	create.Flags().StringArray("scope", nil, "A scope to ask the provider for, exactly as the provider spells it (repeatable)")
	create.Flags().String("mode", "", "per_user (each user connects their account) or shared (default: per_user)")
	edit := &cobra.Command{
		Use:     "edit <name> [--client-id <id>] [--client-secret-stdin] [--scope <scope>]… [--mode <mode>]",
		Short:   "Changes an outgoing link's client credentials, scopes or mode; flags left out stay, and so do its connections",
		Example: "  caddy applinks outgoing edit drive --mode shared\n  printf '%s' \"$SECRET\" | caddy applinks outgoing edit drive --client-secret-stdin",
		Args:    cobra.ExactArgs(1),
		RunE:    run(editOutgoing),
	}
	edit.Flags().String("client-id", "", "The gateway's client id at the provider")
	edit.Flags().Bool("client-secret-stdin", false, "Read a new client secret from standard input")
	edit.Flags().StringArray("scope", nil, "A scope to ask the provider for, exactly as the provider spells it (repeatable); replaces all of them")
	edit.Flags().String("mode", "", "per_user or shared")
	del := &cobra.Command{
		Use:     "delete <name>",
		Short:   "Deletes an outgoing link with its connections",
		Example: "  caddy applinks outgoing delete drive",
		Args:    cobra.ExactArgs(1),
		RunE:    run(deleteOutgoing),
	}
	cmd.AddCommand(show, create, edit, del)
	return cmd
}

func listOutgoing(_ *cobra.Command, cl *client, out output, _ []string) error {
	var ls []outgoingView
	if err := cl.do(http.MethodGet, "/applinks/outgoing", nil, &ls); err != nil {
		return err
	}
	if out.json {
		return out.document(nonNil(ls))
	}
	rows := [][]string{}
	for _, l := range ls {
		rows = append(rows, []string{l.Name, l.Source, l.Mode, l.ClientID, strings.Join(l.Scopes, " "), l.RedirectURIPath})
	}
	return out.table([]string{"NAME", "SOURCE", "MODE", "CLIENT ID", "SCOPES", "REDIRECT PATH"}, rows)
}

func showOutgoing(_ *cobra.Command, cl *client, out output, args []string) error {
	var l outgoingView
	if err := cl.do(http.MethodGet, "/applinks/outgoing/"+seg(args[0]), nil, &l); err != nil {
		return err
	}
	if out.json {
		return out.document(l)
	}
	return outgoingFields(out, l)
}

func createOutgoing(c *cobra.Command, cl *client, out output, _ []string) error {
	f := c.Flags()
	provider := map[string]any{}
	name, _ := f.GetString("provider")
	if name == "" {
		return errors.New("--provider is required: google, microsoft, oidc or oauth2")
	}
	provider["provider"] = strings.ToLower(name)
	for flag, key := range map[string]string{"issuer": "issuer", "authorization-endpoint": "authorization_endpoint", "token-endpoint": "token_endpoint", "tenant": "tenant"} {
		if v, _ := f.GetString(flag); v != "" {
			provider[key] = v
		}
	}
	body := map[string]any{"provider": provider}
	body["name"], _ = f.GetString("name")
	body["client_id"], _ = f.GetString("client-id")
	body["mode"], _ = f.GetString("mode")
	if scopes, _ := f.GetStringArray("scope"); len(scopes) > 0 {
		body["scopes"] = scopes
	}
	if withSecret, _ := f.GetBool("client-secret-stdin"); withSecret {
		sec, err := readSecret(c.InOrStdin())
		if err != nil {
			return err
		}
		body["client_secret"] = sec
	}
	var made struct {
		Name            string `json:"name"`
		Mode            string `json:"mode"`
		RedirectURIPath string `json:"redirect_uri_path"`
	}
	if err := cl.do(http.MethodPost, "/applinks/outgoing", body, &made); err != nil {
		return err
	}
	if out.json {
		return out.document(made)
	}
	return out.fields([2]string{"Name", made.Name}, [2]string{"Mode", made.Mode}, [2]string{"Redirect path", made.RedirectURIPath + "  (register https://<gateway host>" + made.RedirectURIPath + " at the provider)"})
}

func editOutgoing(c *cobra.Command, cl *client, out output, args []string) error {
	f := c.Flags()
	body := map[string]any{}
	if f.Changed("client-id") {
		body["client_id"], _ = f.GetString("client-id")
	}
	if f.Changed("scope") {
		body["scopes"], _ = f.GetStringArray("scope")
	}
	if f.Changed("mode") {
		body["mode"], _ = f.GetString("mode")
	}
	if withSecret, _ := f.GetBool("client-secret-stdin"); withSecret {
		sec, err := readSecret(c.InOrStdin())
		if err != nil {
			return err
		}
		body["client_secret"] = sec
	}
	if len(body) == 0 {
		return errors.New("nothing to change: give --client-id, --client-secret-stdin, --scope or --mode")
	}
	var l outgoingView
	if err := cl.do(http.MethodPatch, "/applinks/outgoing/"+seg(args[0]), body, &l); err != nil {
		return err
	}
	if out.json {
		return out.document(l)
	}
	return outgoingFields(out, l)
}

// deleteOutgoing says how many connections went with the link.
func deleteOutgoing(_ *cobra.Command, cl *client, out output, args []string) error {
	var l outgoingView
	if err := cl.do(http.MethodGet, "/applinks/outgoing/"+seg(args[0]), nil, &l); err != nil {
		return err
	}
	var conns []connectionView
	if err := cl.do(http.MethodGet, "/applinks/connections?link="+url.QueryEscape(l.Name), nil, &conns); err != nil {
		return err
	}
	if err := cl.do(http.MethodDelete, "/applinks/outgoing/"+seg(l.Name), nil, nil); err != nil {
		return err
	}
	if out.json {
		return out.document(map[string]any{"deleted": l, "connections_deleted": len(conns)})
	}
	return out.line("Deleted outgoing link %q (%s, client id %s) with its %d connection(s).", l.Name, l.Mode, l.ClientID, len(conns))
}

func outgoingFields(out output, l outgoingView) error {
	return out.fields([2]string{"Name", l.Name}, [2]string{"Source", l.Source}, [2]string{"Mode", l.Mode}, [2]string{"Client ID", l.ClientID}, [2]string{"Scopes", strings.Join(l.Scopes, " ")}, [2]string{"Redirect path", l.RedirectURIPath})
}

// readSecret reads a secret from r (standard input), without its final
// line break, so that it never appears in the process list or the shell's
// history.
func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4<<10))
	if err != nil {
		return "", fmt.Errorf("reading standard input: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
