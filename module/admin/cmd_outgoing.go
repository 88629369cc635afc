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
		Use:   "create --name <name> (--provider <google|microsoft|oidc|oauth2> --client-id <id> --client-secret-stdin | --oauth1 <application URL>) [flags]",
		Short: "Creates an outgoing link; the client secret is read from standard input",
		Example: `  printf '%s' "$SECRET" | caddy applinks outgoing create --name drive --provider google \
      --client-id 123.apps.googleusercontent.com --client-secret-stdin \
      --scope https://www.googleapis.com/auth/drive.readonly
  printf '%s' "$SECRET" | caddy applinks outgoing create --name wiki --provider oidc \
      --issuer https://id.example.com --client-id gateway --client-secret-stdin --mode shared
  caddy applinks outgoing create --name jira --oauth1 https://jira.example.com`,
		Args: cobra.NoArgs,
		RunE: run(createOutgoing),
	}
	create.Flags().String("name", "", "The link's name, used in outgoing_token and its /applinks/connect/<name> path")
	create.Flags().String("oauth1", "", "An OAuth 1.0a link to the Atlassian product (Jira, Confluence, Bitbucket Data Center) at this application URL, instead of a provider")
	create.Flags().String("consumer-key", "", "The consumer key the product knows the gateway by (oauth1; default: the gateway's)")
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
	edit.Flags().String("application-url", "", "An OAuth 1.0a link's application URL")
	edit.Flags().String("consumer-key", "", "An OAuth 1.0a link's consumer key; empty for the gateway's")
	consumer := &cobra.Command{
		Use:     "consumer",
		Short:   "Shows the gateway's OAuth 1.0a consumer key and public key, to enter as incoming authentication in an Atlassian product",
		Example: "  caddy applinks outgoing consumer",
		Args:    cobra.NoArgs,
		RunE:    run(showConsumer),
	}
	del := &cobra.Command{
		Use:     "delete <name>",
		Short:   "Deletes an outgoing link with its connections",
		Example: "  caddy applinks outgoing delete drive",
		Args:    cobra.ExactArgs(1),
		RunE:    run(deleteOutgoing),
	}
	cmd.AddCommand(show, create, edit, consumer, del)
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
		clientID := l.ClientID
		if l.OAuth1 != nil {
			clientID = l.OAuth1.ConsumerKey // the OAuth 1.0a equivalent
		}
		rows = append(rows, []string{l.Name, l.Source, l.Mode, clientID, strings.Join(l.Scopes, " "), l.RedirectURIPath})
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
	if appURL, _ := f.GetString("oauth1"); appURL != "" {
		return createOAuth1(c, cl, out, appURL)
	}
	provider := map[string]any{}
	name, _ := f.GetString("provider")
	if name == "" {
		return errors.New("--provider is required: google, microsoft, oidc or oauth2 (or --oauth1 <application URL>)")
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
	o := map[string]string{}
	for flag, key := range map[string]string{"application-url": "application_url", "consumer-key": "consumer_key"} {
		if f.Changed(flag) {
			o[key], _ = f.GetString(flag)
		}
	}
	if len(o) > 0 {
		body["oauth1"] = o
	}
	if len(body) == 0 {
		return errors.New("nothing to change: give --client-id, --client-secret-stdin, --scope or --mode (--application-url or --consumer-key for an OAuth 1.0a link)")
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
	if l.OAuth1 != nil {
		return out.line("Deleted outgoing link %q (%s, OAuth 1.0a to %s) with its %d connection(s).", l.Name, l.Mode, l.OAuth1.ApplicationURL, len(conns))
	}
	return out.line("Deleted outgoing link %q (%s, client id %s) with its %d connection(s).", l.Name, l.Mode, l.ClientID, len(conns))
}

func outgoingFields(out output, l outgoingView) error {
	if o := l.OAuth1; o != nil {
		err := out.fields([2]string{"Name", l.Name}, [2]string{"Source", l.Source}, [2]string{"Mode", l.Mode},
			[2]string{"OAuth 1.0a to", o.ApplicationURL}, [2]string{"Consumer key", o.ConsumerKey}, [2]string{"Callback path", l.RedirectURIPath},
			[2]string{"Request token URL", o.RequestTokenURL}, [2]string{"Authorize URL", o.AuthorizeURL}, [2]string{"Access token URL", o.AccessTokenURL},
			[2]string{"Public key", "(below)"})
		if err != nil {
			return err
		}
		return out.pem(o.PublicKey)
	}
	return out.fields([2]string{"Name", l.Name}, [2]string{"Source", l.Source}, [2]string{"Mode", l.Mode}, [2]string{"Client ID", l.ClientID}, [2]string{"Scopes", strings.Join(l.Scopes, " ")}, [2]string{"Redirect path", l.RedirectURIPath})
}

// createOAuth1 creates an OAuth 1.0a link and prints what the product's
// administrator enters as the gateway's incoming authentication.
func createOAuth1(c *cobra.Command, cl *client, out output, appURL string) error {
	f := c.Flags()
	for _, flag := range []string{"provider", "client-id", "client-secret-stdin", "scope", "issuer", "authorization-endpoint", "token-endpoint", "tenant"} {
		if f.Changed(flag) {
			return fmt.Errorf("--%s is for OAuth 2.0 links: an --oauth1 link signs with the gateway's consumer key and RSA key", flag)
		}
	}
	o := map[string]string{"application_url": appURL}
	o["consumer_key"], _ = f.GetString("consumer-key")
	body := map[string]any{"oauth1": o}
	body["name"], _ = f.GetString("name")
	body["mode"], _ = f.GetString("mode")
	var made struct {
		Name            string `json:"name"`
		Mode            string `json:"mode"`
		RedirectURIPath string `json:"redirect_uri_path"`
		ConsumerKey     string `json:"consumer_key"`
		PublicKey       string `json:"public_key"`
	}
	if err := cl.do(http.MethodPost, "/applinks/outgoing", body, &made); err != nil {
		return err
	}
	if out.json {
		return out.document(made)
	}
	err := out.fields([2]string{"Name", made.Name}, [2]string{"Mode", made.Mode}, [2]string{"Callback path", made.RedirectURIPath},
		[2]string{"Consumer key", made.ConsumerKey + "  (enter it with the public key below as incoming authentication in " + appURL + ")"})
	if err != nil {
		return err
	}
	return out.pem(made.PublicKey)
}

func showConsumer(_ *cobra.Command, cl *client, out output, _ []string) error {
	var v identityView
	if err := cl.do(http.MethodGet, "/applinks/oauth1/consumer", nil, &v); err != nil {
		return err
	}
	if out.json {
		return out.document(v)
	}
	err := out.fields([2]string{"Consumer key", v.Key}, [2]string{"Consumer info", v.ConsumerInfo + "  (on the gateway's sites)"},
		[2]string{"Public key", v.PublicKeyBase64})
	if err != nil {
		return err
	}
	return out.pem(v.PublicKey)
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
