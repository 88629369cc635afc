package guard

import (
	"net/http"

	"github.com/applinks/caddy-applinks/module/oautherror"
	"github.com/applinks/caddy-applinks/module/resource"
	"github.com/applinks/caddy-applinks/module/scope"
)

// audience is the resource the guard protects, in the form tokens bound
// to it carry: its Resource, else the issuer's origin.
func (g *Guard) audience(r *http.Request) string {
	issuer := g.app.IssuerFor(r)
	if g.res == nil {
		return resource.Resource{}.Audience(issuer)
	}
	return g.res.Audience(issuer)
}

// accepts reports whether a token bound to aud may be used here: one
// bound to no resource may be used everywhere.
func (g *Guard) accepts(r *http.Request, aud string) bool {
	return aud == "" || aud == g.audience(r)
}

// metadataURL is where the RFC 9728 document of the guarded resource is.
func (g *Guard) metadataURL(r *http.Request) string {
	issuer := g.app.IssuerFor(r)
	if g.res == nil {
		return resource.Resource{}.MetadataURL(issuer)
	}
	return g.res.MetadataURL(issuer)
}

// challenge is the WWW-Authenticate value of a 401 or 403 (RFC 6750 §3):
// the error, the scope the request needs and, as RFC 9728 §5.1 has it,
// where the resource's metadata is.
func (g *Guard) challenge(r *http.Request, code, description string, need scope.Scope) string {
	return oautherror.BearerChallenge(g.Realm, code, description, need.String()) +
		`, resource_metadata="` + g.metadataURL(r) + `"`
}
