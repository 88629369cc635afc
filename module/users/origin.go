package users

import (
	"fmt"
	"net/http"
	"net/url"
)

// newOriginCheck returns the cross-origin check of session-authenticated
// requests: besides the request's own host, the configured issuer's
// origin counts as this site.
func newOriginCheck(issuer string) *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	if u, err := url.Parse(issuer); err == nil && u.Scheme != "" && u.Host != "" {
		_ = c.AddTrustedOrigin(u.Scheme + "://" + u.Host) // scheme://host is always accepted
	}
	return c
}

// CheckOrigin refuses a state-changing request (not GET, HEAD or OPTIONS)
// that a browser sent from another site, judged by Sec-Fetch-Site or, in
// older browsers, Origin. A handler that lets the session cookie act for
// a request calls it, so another site (a sibling subdomain included,
// which SameSite=Lax does not stop) cannot act as the signed-in person.
func (s *Sessions) CheckOrigin(r *http.Request) error {
	if err := s.origin.Check(r); err != nil {
		return fmt.Errorf("checking the request's origin: %w", err)
	}
	return nil
}
