package outgoing

import "net/url"

// IssuerIdentifier is a Provider that knows its issuer identifier. The
// callback then refuses an authorization response whose iss parameter
// (RFC 9207) names another issuer: an answer of another provider mixed
// into this link's flow.
type IssuerIdentifier interface {
	IssuerIdentifier() string
}

// foreignIssuer reports whether the answer q carries an iss that is not
// the issuer of l's provider. An answer without iss, or a provider that
// does not know its issuer, is not judged here: each link has its own
// callback, and the pending authorization is bound to the link.
func foreignIssuer(l *Link, q url.Values) bool {
	id, ok := l.Provider.(IssuerIdentifier)
	return ok && q.Has("iss") && id.IssuerIdentifier() != "" && q.Get("iss") != id.IssuerIdentifier()
}
