package caddyfile_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAdaptRefusesBadOAuth1Consumers: an OAuth 1.0a consumer whose key
// file is missing or holds no RSA public key, or that mixes in OAuth 2.0
// settings, is refused at the line that says so, rather than when the
// gateway loads it.
func TestAdaptRefusesBadOAuth1Consumers(t *testing.T) {
	dir := t.TempDir()
	notAKey := filepath.Join(dir, "not-a-key.pem")
	if err := os.WriteFile(notAKey, []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name, body, want string
		line             int
	}{
		{"missing key file", "\t\tincoming jira {\n\t\t\toauth1 jira {\n\t\t\t\tpublic_key " + missing + "\n\t\t\t}\n\t\t}\n", "no such file", 5},
		{"not a public key", "\t\tincoming jira {\n\t\t\toauth1 jira {\n\t\t\t\tpublic_key " + notAKey + "\n\t\t\t}\n\t\t}\n", "give its public key", 5},
		{"no key or secret", "\t\tincoming jira {\n\t\t\toauth1 jira\n\t\t}\n", "needs its public_key", 3},
		{"with redirect_uri", "\t\tincoming jira {\n\t\t\tredirect_uri https://jira.example/cb\n\t\t\toauth1 jira {\n\t\t\t\tshared_secret s\n\t\t\t}\n\t\t}\n", "no redirect_uri", 3},
		{"with client_secret", "\t\tincoming jira {\n\t\t\tclient_secret s\n\t\t\toauth1 jira {\n\t\t\t\tshared_secret s\n\t\t\t}\n\t\t}\n", "no client_secret", 3},
		{"impersonation without two_legged", "\t\tincoming jira {\n\t\t\toauth1 jira {\n\t\t\t\tshared_secret s\n\t\t\t\timpersonation\n\t\t\t}\n\t\t}\n", "turn on two-legged OAuth (two_legged)", 3},
		{"two_legged with two users", "\t\tincoming jira {\n\t\t\toauth1 jira {\n\t\t\t\tshared_secret s\n\t\t\t\ttwo_legged a b\n\t\t\t}\n\t\t}\n", "wrong argument count", 6},
		{"unknown option", "\t\tincoming jira {\n\t\t\toauth1 jira {\n\t\t\t\tpublic_keys x\n\t\t\t}\n\t\t}\n", `did you mean "public_key"`, 5},
		{"oauth1 twice", "\t\tincoming jira {\n\t\t\toauth1 a {\n\t\t\t\tshared_secret s\n\t\t\t}\n\t\t\toauth1 b {\n\t\t\t\tshared_secret s\n\t\t\t}\n\t\t}\n", "oauth1 given twice", 7},
		{"consumer key of another link", "\t\tincoming a {\n\t\t\toauth1 key {\n\t\t\t\tshared_secret s\n\t\t\t}\n\t\t}\n\t\tincoming b {\n\t\t\toauth1 key {\n\t\t\t\tshared_secret s\n\t\t\t}\n\t\t}\n", `consumer key "key" is used by incoming link "a"`, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertAt(t, adaptErr(tc.body), tc.want, tc.line)
		})
	}
}
