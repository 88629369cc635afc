package admin

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/applinks/caddy-applinks/module/oauth1"
)

// consumerFlags reads the OAuth 1.0a flags of `create --oauth1`, the
// public key from its file, into the API's oauth1 object.
func consumerFlags(c *cobra.Command) (map[string]any, error) {
	key, _ := c.Flags().GetString("oauth1")
	keyFile, _ := c.Flags().GetString("public-key")
	callback, _ := c.Flags().GetString("callback")
	twoLegged, _ := c.Flags().GetBool("two-legged")
	executeAs, _ := c.Flags().GetString("execute-as")
	impersonation, _ := c.Flags().GetBool("impersonation")
	for _, f := range []string{"redirect-uri", "require-pkce", "public"} {
		if c.Flags().Changed(f) {
			return nil, fmt.Errorf("--%s is for OAuth 2.0 links; an OAuth 1.0a consumer (--oauth1) has none", f)
		}
	}
	var pem string
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("reading the consumer's public key: %w", err)
		}
		pem = string(b)
	}
	return map[string]any{"consumer_key": key, "public_key": pem, "callback": callback, "two_legged": twoLegged || executeAs != "", "execute_as": executeAs, "impersonation": impersonation}, nil
}

// consumerChanges reads the OAuth 1.0a flags `edit` was given, the public
// key from its file, into the API's oauth1 patch: only the flags given.
func consumerChanges(c *cobra.Command) (map[string]any, error) {
	changes := map[string]any{}
	if c.Flags().Changed("public-key") {
		keyFile, _ := c.Flags().GetString("public-key")
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("reading the consumer's public key: %w", err)
		}
		changes["public_key"] = string(b)
	}
	for flag, field := range map[string]string{"callback": "callback", "execute-as": "execute_as"} {
		if c.Flags().Changed(flag) {
			v, _ := c.Flags().GetString(flag)
			changes[field] = v
		}
	}
	for flag, field := range map[string]string{"two-legged": "two_legged", "impersonation": "impersonation"} {
		if c.Flags().Changed(flag) {
			v, _ := c.Flags().GetBool(flag)
			changes[field] = v
		}
	}
	// --two-legged=false turns off what only two-legged OAuth uses, unless
	// those flags are given too (the API refuses a user to execute as
	// without two-legged OAuth).
	if on, given := changes["two_legged"]; given && on == false {
		if !c.Flags().Changed("execute-as") {
			changes["execute_as"] = ""
		}
		if !c.Flags().Changed("impersonation") {
			changes["impersonation"] = false
		}
	}
	return changes, nil
}

// consumerFields prints an incoming link that is an OAuth 1.0a consumer,
// with its shared secret when the view holds it.
func consumerFields(out output, l linkView) error {
	c := l.OAuth1
	pairs := [][2]string{
		{"Name", l.Name}, {"ID", l.ID}, {"Source", l.Source}, {"Authentication", "OAuth 1.0a"},
		{"Consumer key", c.ConsumerKey}, {"Signature method", c.SignatureMethod},
	}
	if c.SharedSecret != "" {
		pairs = append(pairs, [2]string{"Shared secret", c.SharedSecret})
	}
	if c.PublicKey != "" {
		pairs = append(pairs, [2]string{"Public key", keySummary(c.PublicKey)})
	}
	twoLegged := "no"
	switch {
	case c.TwoLegged && c.Impersonation && c.ExecuteAs != "":
		twoLegged = "as " + c.ExecuteAs + ", or the user xoauth_requestor_id names"
	case c.TwoLegged && c.Impersonation:
		twoLegged = "as the user xoauth_requestor_id names"
	case c.TwoLegged:
		twoLegged = "as " + c.ExecuteAs
	}
	pairs = append(pairs, [2]string{"Callback", c.Callback}, [2]string{"Two-legged", twoLegged}, [2]string{"Scope", l.Scope}, [2]string{"Disabled", yes(l.Disabled)}, [2]string{"Created", when(l.CreatedAt)}, [2]string{"Created by", l.CreatedBy})
	return out.fields(pairs...)
}

// keySummary names a consumer's public key in one line: its size and the
// SHA-256 of its DER, which --json shows in full (PEM).
func keySummary(pem string) string {
	k, err := oauth1.ParsePublicKey([]byte(pem))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	sum := sha256.Sum256(der)
	return fmt.Sprintf("RSA %d bits, SHA-256 %s", k.N.BitLen(), hex.EncodeToString(sum[:]))
}
