// Package flow runs the gateway's authorization-code flow over HTTP as a
// browser and a client app would: sign-in, consent, code exchange with PKCE.
// Benchmarks and tests use it to get tokens.
package flow

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/oauth2"
)

var hidden = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// HiddenFields returns the hidden inputs of the gateway's forms in an HTML
// page (the anti-CSRF token, the carried authorization request).
func HiddenFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hidden.FindAllStringSubmatch(body, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// Run signs user in at the gateway, consents for the incoming link with the
// given client credentials and redirect URI, and exchanges the code (PKCE
// S256) for tokens. scope may be empty for the link's ceiling. Each call
// is a new browser, so each signs in again.
func Run(issuer, user, password, clientID, secret, redirect, scope string) (*oauth2.Token, error) {
	c, err := Browser(redirect)
	if err != nil {
		return nil, err
	}
	return RunIn(c, issuer, user, password, clientID, secret, redirect, scope)
}

// Browser is an HTTP client with a cookie jar that follows redirects
// except the one to redirect, the client app's redirect URI.
func Browser(redirect string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	redirectURL, err := url.Parse(redirect)
	if err != nil {
		return nil, fmt.Errorf("parsing the redirect URI: %w", err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == redirectURL.Host && r.URL.Path == redirectURL.Path {
			return http.ErrUseLastResponse
		}
		return nil
	}}, nil
}

// RunIn is Run in c, a client from Browser: a browser that is still
// signed in at the gateway goes straight to the consent page, as a
// person's would.
func RunIn(c *http.Client, issuer, user, password, clientID, secret, redirect, scope string) (*oauth2.Token, error) {
	conf := &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		RedirectURL:  redirect,
		Endpoint: oauth2.Endpoint{
			AuthURL:  issuer + "/rest/oauth2/latest/authorize",
			TokenURL: issuer + "/rest/oauth2/latest/token",
		},
	}
	if scope != "" {
		conf.Scopes = strings.Fields(scope)
	}
	verifier := oauth2.GenerateVerifier()
	resp, _, err := Authorize(c, conf.AuthCodeURL("bench", oauth2.S256ChallengeOption(verifier)), user, password)
	if err != nil {
		return nil, err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("no code in redirect %q", resp.Header.Get("Location"))
	}
	return conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
}

// Authorize opens authURL, a gateway's authorization URL, with c as a
// browser would: it signs user in if the gateway asks, allows access on the
// consent page, and returns the answer to the consent with its body. Where
// that answer's redirect leads depends on c's CheckRedirect; c needs a
// cookie jar.
func Authorize(c *http.Client, authURL, user, password string) (*http.Response, string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, "", fmt.Errorf("parsing the authorization URL: %w", err)
	}
	issuer := u.Scheme + "://" + u.Host
	_, body, err := read(c.Get(authURL))
	if err != nil {
		return nil, "", fmt.Errorf("opening the authorization URL: %w", err)
	}
	if strings.Contains(body, `name="password"`) {
		f := HiddenFields(body)
		f.Set("username", user)
		f.Set("password", password)
		if _, body, err = read(c.PostForm(issuer+"/applinks/login", f)); err != nil {
			return nil, "", fmt.Errorf("signing in: %w", err)
		}
	}
	if !strings.Contains(body, `name="decision"`) {
		return nil, "", errors.New("no consent page: sign-in failed?")
	}
	f := HiddenFields(body)
	f.Set("decision", "allow")
	resp, body, err := read(c.PostForm(issuer+"/applinks/consent", f))
	if err != nil {
		return nil, "", fmt.Errorf("allowing access: %w", err)
	}
	return resp, body, nil
}

// read returns a response with its body read and closed.
func read(resp *http.Response, err error) (*http.Response, string, error) {
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}
