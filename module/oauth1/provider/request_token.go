package provider

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Credentials are a token and its secret, as the request-token and
// access-token endpoints answer them.
type Credentials struct {
	Token  string
	Secret string
	// ExpiresIn is the access token's lifetime in seconds; 0 for a
	// request token.
	ExpiresIn int64
}

// IssueRequestToken answers a signed request-token request (RFC 5849
// §2.1) sent to uri: a consumer signs it without a token, and names the
// callback the person is sent back to (oauth_callback, "oob" when it
// cannot receive one). A consumer with a declared callback may only send
// a callback under it (or none: the declared one is used). Errors are
// *oauth1.Problem refusals or failures, as Authenticate's.
func (s *Service) IssueRequestToken(ctx context.Context, r *http.Request, uri string) (Credentials, error) {
	sr, err := s.parse(ctx, r, uri)
	if err != nil {
		return Credentials{}, err
	}
	if sr.q.Token != "" {
		return Credentials{}, &oauth1.Problem{Code: oauth1.ProblemParameterRejected, Advice: "a request-token request is signed without a token", Params: url.Values{"oauth_parameters_rejected": {"oauth_token"}}}
	}
	callback, err := acceptCallback(sr.link.OAuth1.Callback, sr.q.Callback)
	if err != nil {
		return Credentials{}, err
	}
	if err := s.verify(ctx, sr, ""); err != nil {
		return Credentials{}, err
	}
	now := s.now().UTC()
	tok, sec := token.New(token.OAuth1Request), token.New(token.OAuth1Secret)
	rt := store.RequestToken{
		Hash:        token.Hash(tok),
		LinkID:      sr.link.ID,
		ConsumerKey: sr.link.ClientID,
		Callback:    callback,
		CreatedAt:   now,
		ExpiresAt:   now.Add(s.cfg.RequestTokenTTL),
	}
	if hmacConsumer(sr.link) {
		if rt.SealedSecret, err = sealFor(tok, sec); err != nil {
			return Credentials{}, err
		}
	}
	if err := s.store.CreateRequestToken(ctx, rt); err != nil {
		return Credentials{}, err
	}
	if ce := s.audit.Check(zap.DebugLevel, "OAuth 1.0a request token issued"); ce != nil {
		ce.Write(zap.String("link", sr.link.Name), zap.String("consumer_key", sr.link.ClientID), zap.Bool("oob", callback == oauth1.OOB))
	}
	return Credentials{Token: tok, Secret: sec}, nil
}

// acceptCallback is the callback a request token gets: the request's
// oauth_callback, which must be oob or an absolute http(s) URL, and with a
// declared callback must be under it (same scheme, host and port, a path
// at or below its path); none sent means the declared one, else oob.
func acceptCallback(declared, sent string) (string, error) {
	rejected := func(advice string) error {
		return &oauth1.Problem{Code: oauth1.ProblemParameterRejected, Advice: advice, Params: url.Values{"oauth_parameters_rejected": {"oauth_callback"}}}
	}
	switch {
	case sent == "" && declared != "":
		return declared, nil
	case sent == "" || sent == oauth1.OOB:
		if declared != "" {
			return "", rejected("this consumer's application link declares its callback; send it, or none")
		}
		return oauth1.OOB, nil
	}
	u, err := url.Parse(sent)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || strings.Contains(sent, "#") {
		return "", rejected(`oauth_callback must be an absolute http(s) URL, or "oob"`)
	}
	if declared != "" && !under(declared, u) {
		return "", rejected("oauth_callback is not under the callback this consumer's application link declares")
	}
	return sent, nil
}

// under reports whether u is the URL declared or below it: the same
// scheme, host and port, and a path that is declared's or continues it
// after a slash; the query is the consumer's.
func under(declared string, u *url.URL) bool {
	d, err := url.Parse(declared)
	if err != nil {
		return false
	}
	if !strings.EqualFold(d.Scheme, u.Scheme) || !strings.EqualFold(d.Host, u.Host) {
		return false
	}
	// A browser resolves dot segments (also written %2e) and takes a
	// backslash for a slash: a path with either could leave declared's.
	if strings.Contains(u.EscapedPath(), `\`) || strings.Contains(u.Path, `\`) {
		return false
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	dp, up := d.EscapedPath(), u.EscapedPath()
	if up == dp {
		return true
	}
	if !strings.HasSuffix(dp, "/") {
		dp += "/"
	}
	return strings.HasPrefix(up, dp)
}
