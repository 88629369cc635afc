package outgoing

import (
	"fmt"
)

// Check reports the first problem that keeps the declared link from
// loading: its name, a missing provider or client_id, an unknown mode, an
// OAuth 1.0a link's application URL or OAuth 2.0 settings.
// The Caddyfile adapter calls it so that the error names the line;
// NewLink checks the same when provisioning.
func (c ConfigLink) Check() error {
	if err := ValidateName(c.Name); err != nil {
		if c.Name == "" {
			return fmt.Errorf("outgoing link: %w", err)
		}
		return fmt.Errorf("outgoing link %q: %w", c.Name, err)
	}
	if c.OAuth1 != nil {
		_, err := checkOAuth1(c)
		return err
	}
	if len(c.ProviderRaw) == 0 {
		return fmt.Errorf("outgoing link %q: %w", c.Name, errProviderRequired)
	}
	_, err := checkClient(c)
	return err
}
