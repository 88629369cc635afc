package outgoing

import (
	"encoding/json"
	"errors"
	"fmt"
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
	// provider; placeholders are resolved at provision time.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes to ask the provider for.
	Scopes []string `json:"scopes,omitempty"`
	// Mode is per_user or shared. Default: per_user.
	Mode string `json:"mode,omitempty"`
}

// Link is a provisioned outgoing link.
type Link struct {
	Name         string
	Provider     Provider
	ClientID     string
	ClientSecret string
	Scopes       []string
	Mode         string
}

// NewLink checks a declared link whose provider module is loaded.
func NewLink(c ConfigLink, p Provider) (*Link, error) {
	if c.Name == "" || len(c.Name) > 100 {
		return nil, errors.New("outgoing link: a name of at most 100 characters is required")
	}
	for _, r := range c.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return nil, fmt.Errorf("outgoing link %q: names use letters, digits, '-', '_' and '.' (they appear in URLs)", c.Name)
		}
	}
	if p == nil {
		return nil, fmt.Errorf("outgoing link %q: a provider is required", c.Name)
	}
	if c.ClientID == "" {
		return nil, fmt.Errorf("outgoing link %q: client_id is required", c.Name)
	}
	mode := c.Mode
	switch mode {
	case "":
		mode = ModePerUser
	case ModePerUser, ModeShared:
	default:
		return nil, fmt.Errorf("outgoing link %q: mode %q: want per_user or shared", c.Name, c.Mode)
	}
	return &Link{Name: c.Name, Provider: p, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes, Mode: mode}, nil
}
