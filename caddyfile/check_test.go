package caddyfile_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// adaptErr adapts a global applinks block holding body (one tab-indented
// line per option, the first on line 3) and returns the error.
func adaptErr(body string) error {
	cfg := "{\n\tapplinks {\n" + body + "\t}\n}\n"
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	return err
}

// assertAt fails unless err mentions want and names line of the Caddyfile.
func assertAt(t *testing.T, err error, want string, line int) {
	t.Helper()
	if err == nil {
		t.Fatalf("adapted without error, want %q at line %d", want, line)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if !regexp.MustCompile(fmt.Sprintf(`, at Caddyfile:%d\b`, line)).MatchString(err.Error()) {
		t.Errorf("error %q does not name line %d", err, line)
	}
}

const hash = "$2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG"

// TestAdaptRefusesWhatProvisionRefuses: a configuration that Caddy would
// refuse only when loading it (with no line, through a chain of module
// names) passed `caddy adapt`; the adapter now refuses it at the line of
// the option or of the block missing a setting.
func TestAdaptRefusesWhatProvisionRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		line             int
	}{
		{"incoming without client_secret", "\t\tincoming app {\n\t\t\tredirect_uri https://app.example/cb\n\t\t}\n", `incoming link "app": client_secret is required`, 3},
		{"incoming without redirect_uri", "\t\tincoming app {\n\t\t\tclient_secret s\n\t\t}\n", "a redirect URL is required", 3},
		{"incoming with unknown scope", "\t\tincoming app {\n\t\t\tredirect_uri https://app.example/cb\n\t\t\tscope OWNER\n\t\t}\n", `unknown scope "OWNER"`, 5},
		{"incoming twice", "\t\tincoming app {\n\t\t\tredirect_uri https://a.example/cb\n\t\t\tclient_secret s\n\t\t}\n\t\tincoming app {\n\t\t\tredirect_uri https://a.example/cb\n\t\t\tclient_secret s\n\t\t}\n", `incoming link "app" is declared twice`, 7},
		{"client_id of another link", "\t\tincoming app {\n\t\t\tredirect_uri https://a.example/cb\n\t\t\tclient_secret s\n\t\t}\n\t\tincoming b {\n\t\t\tredirect_uri https://a.example/cb\n\t\t\tclient_id app\n\t\t\tclient_secret s\n\t\t}\n", `client_id "app" is used by incoming link "app"`, 7},
		{"user with unknown role", "\t\tuser alice " + hash + " OWNER\n", `user "alice": unknown scope "OWNER"`, 3},
		{"user with a clear-text password", "\t\tuser alice hunter2\n", "must be a bcrypt hash", 3},
		{"user twice", "\t\tuser alice " + hash + "\n\t\tuser alice " + hash + "\n", `user "alice" is declared twice`, 4},
		{"outgoing without provider", "\t\toutgoing drive {\n\t\t\tclient_id gw\n\t\t}\n", `outgoing link "drive": a provider is required`, 3},
		{"outgoing without client_id", "\t\toutgoing drive {\n\t\t\tprovider google\n\t\t}\n", `outgoing link "drive": client_id is required`, 3},
		{"outgoing with unknown mode", "\t\toutgoing drive {\n\t\t\tprovider google\n\t\t\tclient_id gw\n\t\t\tmode everyone\n\t\t}\n", `mode "everyone": want per_user or shared`, 6},
		{"outgoing twice", "\t\toutgoing d {\n\t\t\tprovider google\n\t\t\tclient_id gw\n\t\t}\n\t\toutgoing d {\n\t\t\tprovider google\n\t\t\tclient_id gw\n\t\t}\n", `outgoing link "d" is declared twice`, 7},
		{"oauth1 with a provider", "\t\toutgoing jira {\n\t\t\toauth1 https://jira.example.com\n\t\t\tprovider google\n\t\t}\n", `outgoing link "jira": an oauth1 link has no provider`, 3},
		{"oauth1 with a client_id", "\t\toutgoing jira {\n\t\t\toauth1 https://jira.example.com\n\t\t\tclient_id gw\n\t\t}\n", `an oauth1 link has no provider, client_id`, 3},
		{"oauth1 over plain http", "\t\toutgoing jira {\n\t\t\toauth1 http://jira.example.com\n\t\t}\n", `oauth1 http://jira.example.com`, 3},
		{"oauth1 with a query", "\t\toutgoing jira {\n\t\t\toauth1 https://jira.example.com/?a=b\n\t\t}\n", `without a query`, 3},
		{"oauth1 without URL", "\t\toutgoing jira {\n\t\t\toauth1\n\t\t}\n", `wrong argument count`, 4},
		{"login without client_id", "\t\tlogin oidc https://idp.example {\n\t\t}\n", "client_id is required", 3},
		{"login over plain http", "\t\tlogin oidc http://idp.example {\n\t\t\tclient_id gw\n\t\t}\n", "must use https", 3},
		{"login with unknown role", "\t\tlogin oidc https://idp.example {\n\t\t\tclient_id gw\n\t\t\trole admins OWNER\n\t\t}\n", `unknown scope "OWNER"`, 5},
		{"login with unknown default_role", "\t\tlogin oidc https://idp.example {\n\t\t\tclient_id gw\n\t\t\tdefault_role NOBODY\n\t\t}\n", `default_role: unknown scope "NOBODY"`, 5},
		{"two logins without trusted_email", "\t\tlogin oidc https://a.example {\n\t\t\tclient_id gw\n\t\t}\n\t\tlogin oidc https://b.example {\n\t\t\tclient_id gw\n\t\t}\n", "trusted_email on|off", 6},
		{"short secret_key", "\t\tsecret_key tooshort\n", "it must have at least 32", 3},
		{"issuer without scheme", "\t\tissuer gateway.example\n", "must be an http(s) URL", 3},
		{"unknown id_token_algorithm", "\t\tid_token_algorithm HS256\n", `id_token_algorithm "HS256": want ES256 or RS256`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertAt(t, adaptErr(tc.body), tc.want, tc.line)
		})
	}
}

// TestAdaptSuggestsNearestWord: a typo in a subdirective, scope, role,
// mode, provider or storage backend used to be reported without saying
// what was meant; the error names the nearest valid word.
func TestAdaptSuggestsNearestWord(t *testing.T) {
	for _, tc := range []struct {
		name, caddyfile, want string
		line                  int
	}{
		{"global option", "{\n\tapplinks {\n\t\tsecret_kye x\n\t}\n}\n", `unrecognized subdirective "secret_kye" (did you mean "secret_key"?)`, 3},
		{"incoming option", "{\n\tapplinks {\n\t\tincoming app {\n\t\t\tredirect_uris https://a.example/cb\n\t\t}\n\t}\n}\n", `(did you mean "redirect_uri"?)`, 4},
		{"incoming scope", "{\n\tapplinks {\n\t\tincoming app {\n\t\t\tscope WRTIE\n\t\t}\n\t}\n}\n", `unknown scope "WRTIE": want READ, WRITE, ADMIN or SYSTEM_ADMIN (did you mean "WRITE"?)`, 4},
		{"lower-case role", "{\n\tapplinks {\n\t\tuser alice " + hash + " admin\n\t}\n}\n", `(did you mean "ADMIN"?)`, 3},
		{"outgoing option", "{\n\tapplinks {\n\t\toutgoing d {\n\t\t\tclient_secrte x\n\t\t}\n\t}\n}\n", `(did you mean "client_secret"?)`, 4},
		{"outgoing mode", "{\n\tapplinks {\n\t\toutgoing d {\n\t\t\tmode peruser\n\t\t}\n\t}\n}\n", `(did you mean "per_user"?)`, 4},
		{"oauth1 option", "{\n\tapplinks {\n\t\toutgoing d {\n\t\t\toauth1 https://jira.example.com {\n\t\t\t\tconsumer_kye x\n\t\t\t}\n\t\t}\n\t}\n}\n", `(did you mean "consumer_key"?)`, 5},
		{"provider", "{\n\tapplinks {\n\t\toutgoing d {\n\t\t\tprovider googel\n\t\t}\n\t}\n}\n", `unknown provider "googel" (did you mean "google"?)`, 4},
		{"storage option", "{\n\tapplinks {\n\t\tstorage badger /tmp/x {\n\t\t\tsync_write\n\t\t}\n\t}\n}\n", `(did you mean "sync_writes"?)`, 4},
		{"provider option", "{\n\tapplinks {\n\t\toutgoing d {\n\t\t\tprovider microsoft {\n\t\t\t\ttennant x\n\t\t\t}\n\t\t}\n\t}\n}\n", `(did you mean "tenant"?)`, 5},
		{"storage backend", "{\n\tapplinks {\n\t\tstorage badgr /tmp/x\n\t}\n}\n", `unknown storage backend "badgr" (did you mean "badger"?)`, 3},
		{"login option", "{\n\tapplinks {\n\t\tlogin oidc https://idp.example {\n\t\t\tclientid x\n\t\t}\n\t}\n}\n", `(did you mean "client_id"?)`, 4},
		{"login method", "{\n\tapplinks {\n\t\tlogin odic https://idp.example\n\t}\n}\n", `(did you mean "oidc"?)`, 3},
		{"id_token_algorithm", "{\n\tapplinks {\n\t\tid_token_algorithm ES265\n\t}\n}\n", `(did you mean "ES256"?)`, 3},
		{"require_token scope", ":80 {\n\trequire_token WIRTE\n}\n", `(did you mean "WRITE"?)`, 2},
		{"require_token option", ":80 {\n\trequire_token {\n\t\tsesion\n\t}\n}\n", `(did you mean "session"?)`, 3},
		{"outgoing_token option", ":80 {\n\toutgoing_token d {\n\t\tallow_anonymus\n\t}\n}\n", `(did you mean "allow_anonymous"?)`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.caddyfile), nil)
			assertAt(t, err, tc.want, tc.line)
		})
	}
}

// TestAdaptLeavesPlaceholdersToProvision: values that are placeholders
// ({env.X}), resolved only when Caddy loads the config, pass the
// adapter's checks of length, form and bcrypt hashes.
func TestAdaptLeavesPlaceholdersToProvision(t *testing.T) {
	body := "\t\tsecret_key {env.APPLINKS_SECRET_KEY}\n\t\tissuer {env.APPLINKS_ISSUER}\n\t\tuser alice {env.ALICE_HASH} ADMIN\n" +
		"\t\tincoming app {\n\t\t\tredirect_uri https://a.example/cb\n\t\t\tclient_secret {env.APP_SECRET}\n\t\t}\n" +
		"\t\toutgoing jira {\n\t\t\toauth1 {env.JIRA_URL} {\n\t\t\t\tconsumer_key {env.JIRA_CONSUMER_KEY}\n\t\t\t}\n\t\t}\n"
	if err := adaptErr(body); err != nil {
		t.Fatalf("placeholders refused while adapting: %v", err)
	}
}
