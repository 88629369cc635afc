package admin

import (
	"net/http"

	"github.com/spf13/cobra"

	"github.com/applinks/caddy-applinks/module/signing"
)

// keysCommand is `keys`: it lists the token-signing keys; `keys rotate`
// makes a new one, `keys at-rest` shows the rotation of the at-rest key.
func keysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Short:   "Lists the token-signing keys (kid, algorithm, status), never their private parts; its subcommands rotate them and show the rotation of the at-rest key",
		Example: "  caddy applinks keys\n  caddy applinks keys --json",
		Args:    cobra.NoArgs,
		RunE:    run(listKeys),
	}
	rotate := &cobra.Command{
		Use:     "rotate",
		Short:   "Makes a new signing key; the previous one stops signing and stays published until the tokens it signed have expired",
		Example: "  caddy applinks keys rotate",
		Args:    cobra.NoArgs,
		RunE:    run(rotateKeys),
	}
	atRest := &cobra.Command{
		Use:   "at-rest",
		Short: "Shows how far the rotation of the at-rest key has come: stored values by the key that seals them, and whether the previous keys can be removed",
		Long: `
Shows, for each kind of stored record, how many values are sealed with the
current at-rest key, with a previous one (previous_secret_key,
previous_key_file) and with none of them; whether a re-seal pass runs;
until when short-lived values (pending outgoing authorizations, sign-in
state cookies) still need the previous key; and whether the previous keys
can be removed now. --wait polls until every stored value is sealed with
the current key, printing progress, then shows the status.`,
		Example: "  caddy applinks keys at-rest\n  caddy applinks keys at-rest --wait --timeout 10m",
		Args:    cobra.NoArgs,
		RunE:    run(atRestStatus),
	}
	atRest.Flags().Bool("wait", false, "Wait until every stored value is sealed with the current key")
	atRest.Flags().Duration("timeout", 0, "With --wait, give up after this long (default: wait as long as it takes)")
	cmd.AddCommand(rotate, atRest)
	return cmd
}

func listKeys(_ *cobra.Command, cl *client, out output, _ []string) error {
	var ks []signing.KeyInfo
	if err := cl.do(http.MethodGet, "/applinks/keys", nil, &ks); err != nil {
		return err
	}
	return printKeys(out, ks)
}

func rotateKeys(_ *cobra.Command, cl *client, out output, _ []string) error {
	var ks []signing.KeyInfo
	if err := cl.do(http.MethodPost, "/applinks/keys/rotate", nil, &ks); err != nil {
		return err
	}
	if out.json {
		return out.document(nonNil(ks))
	}
	for _, k := range ks {
		if k.Status == signing.StatusActive {
			if err := out.line("Rotated: key %s (%s) signs from now on.", k.ID, k.Algorithm); err != nil {
				return err
			}
		}
	}
	return printKeys(out, ks)
}

func printKeys(out output, ks []signing.KeyInfo) error {
	if out.json {
		return out.document(nonNil(ks))
	}
	rows := [][]string{}
	for _, k := range ks {
		rows = append(rows, []string{k.ID, k.Algorithm, k.Status, when(k.CreatedAt), when(k.RetiredAt), when(k.ExpiresAt)})
	}
	return out.table([]string{"KID", "ALG", "STATUS", "CREATED", "RETIRED", "PUBLISHED UNTIL"}, rows)
}
