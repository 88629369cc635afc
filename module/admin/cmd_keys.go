package admin

import (
	"net/http"

	"github.com/spf13/cobra"

	"github.com/applinks/caddy-applinks/module/signing"
)

// keysCommand is `keys`: it lists the token-signing keys; `keys rotate`
// makes a new one.
func keysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Short:   "Lists the token-signing keys (kid, algorithm, status), never their private parts; its subcommand rotates them",
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
	cmd.AddCommand(rotate)
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
