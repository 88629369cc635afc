package outgoing

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/applinks/caddy-applinks/internal/nearest"
)

// Modes of an outgoing link.
const (
	// ModePerUser: each user connects their own account.
	ModePerUser = "per_user"
	// ModeShared: an administrator connects one account for everyone.
	ModeShared = "shared"
)

// ConfigLink declares an outgoing link in the configuration.
type ConfigLink struct {
	// Name identifies the link in outgoing_token and in its paths
	// /applinks/connect/<name> and /applinks/callback/<name>.
	Name string `json:"name"`
	// ProviderRaw is the provider module: google, microsoft, oidc or oauth2.
	ProviderRaw json.RawMessage `json:"provider,omitempty" caddy:"namespace=applinks.providers inline_key=provider"`
	// ClientID and ClientSecret are the gateway's credentials at the
	// provider (required for an OAuth 2.0 link, none for an OAuth 1.0a
	// one); placeholders are resolved at provision time.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes to ask the provider for.
	Scopes []string `json:"scopes,omitempty"`
	// Mode is per_user or shared. Default: per_user.
	Mode string `json:"mode,omitempty"`
	// OAuth1 makes the link an OAuth 1.0a one, to an Atlassian product,
	// instead of an OAuth 2.0 one: it then has no provider, client id,
	// secret or scopes.
	OAuth1 *OAuth1Config `json:"oauth1,omitempty"`
}

// errProviderRequired means an outgoing link names no provider.
var errProviderRequired = errors.New("a provider is required: provider google, microsoft [<tenant>], oidc <issuer> or oauth2 <authorize-url> <token-url>; or oauth1 <application URL> for an Atlassian product")

// Link is a provisioned outgoing link: an OAuth 2.0 one has a Provider,
// an OAuth 1.0a one OAuth1 instead.
type Link struct {
	Name         string
	Provider     Provider
	ClientID     string
	ClientSecret string
	Scopes       []string
	Mode         string
	OAuth1       *OAuth1Config
}

// NewLink checks a declared link whose provider module is loaded.
func NewLink(c ConfigLink, p Provider) (*Link, error) {
	if err := ValidateName(c.Name); err != nil {
		if c.Name == "" {
			return nil, fmt.Errorf("outgoing link: %w", err)
		}
		return nil, fmt.Errorf("outgoing link %q: %w", c.Name, err)
	}
	if c.OAuth1 != nil {
		if p != nil {
			return nil, fmt.Errorf("outgoing link %q: %w", c.Name, errOAuth1Exclusive)
		}
		mode, err := checkOAuth1(c)
		if err != nil {
			return nil, err
		}
		o := *c.OAuth1
		return &Link{Name: c.Name, Mode: mode, OAuth1: &o}, nil
	}
	if p == nil {
		return nil, fmt.Errorf("outgoing link %q: %w", c.Name, errProviderRequired)
	}
	mode, err := checkClient(c)
	if err != nil {
		return nil, err
	}
	return &Link{Name: c.Name, Provider: p, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes, Mode: mode}, nil
}

// checkClient checks a link's client id and mode, and returns the mode
// with its default applied.
func checkClient(c ConfigLink) (mode string, err error) {
	if c.ClientID == "" {
		return "", fmt.Errorf("outgoing link %q: client_id is required", c.Name)
	}
	return checkMode(c)
}

// checkOAuth1 checks an OAuth 1.0a link's settings and mode, and returns
// the mode with its default applied.
func checkOAuth1(c ConfigLink) (mode string, err error) {
	if len(c.ProviderRaw) > 0 || c.ClientID != "" || c.ClientSecret != "" || len(c.Scopes) > 0 {
		return "", fmt.Errorf("outgoing link %q: %w", c.Name, errOAuth1Exclusive)
	}
	if err := c.OAuth1.check(); err != nil {
		return "", fmt.Errorf("outgoing link %q: %w", c.Name, err)
	}
	return checkMode(c)
}

// checkMode returns a link's mode with its default applied.
func checkMode(c ConfigLink) (string, error) {
	switch c.Mode {
	case "":
		return ModePerUser, nil
	case ModePerUser, ModeShared:
		return c.Mode, nil
	}
	return "", fmt.Errorf("outgoing link %q: mode %q: want per_user or shared%s", c.Name, c.Mode, nearest.Suggest(c.Mode, []string{ModePerUser, ModeShared}))
}

// ValidateName checks an outgoing link's name: 1 to 100 letters, digits,
// '-', '_' or '.', since it appears in the link's paths.
func ValidateName(name string) error {
	if name == "" || len(name) > 100 {
		return errors.New("a name of at most 100 characters is required")
	}
	if name == "." || name == ".." {
		return errors.New("the names . and .. cannot be used (they are path steps in URLs)")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return errors.New("names use letters, digits, '-', '_' and '.' (they appear in URLs)")
		}
	}
	return nil
}
