package oauth

import (
	"net/http"
	"net/url"

	"github.com/applinks/caddy-applinks/module/oautherror"
)

// ServeGuardedResourceMetadata answers the RFC 9728 document of a resource
// a guard protects, at its path-inserted well-known URL
// (/.well-known/oauth-protected-resource/mcp for /mcp), and reports
// whether the path is one; other paths are left to the caller.
func (s *Server) ServeGuardedResourceMetadata(w http.ResponseWriter, r *http.Request) bool {
	res, ok := s.app.Resources().ForMetadata(r.Host, r.URL.Path)
	if !ok {
		return false
	}
	issuer := s.app.IssuerFor(r)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, resourceMetadata(res.URL(issuer), issuer))
	return true
}

// resourceMetadata is the RFC 9728 document of the resource id, whose
// tokens the issuer gives.
func resourceMetadata(id, issuer string) ResourceMetadata {
	return ResourceMetadata{
		Resource:               id,
		AuthorizationServers:   []string{issuer},
		ScopesSupported:        ladder,
		BearerMethodsSupported: []string{"header"},
	}
}

// target reads the RFC 8707 resource parameter of an authorization or
// token request: "" when none was sent, else the resource in the form
// tokens carry. A resource that is not an absolute URL the guards of this
// gateway protect, or more than one, is invalid_target.
func (s *Server) target(r *http.Request, values url.Values) (string, *oautherror.Error) {
	vs := values["resource"]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", oautherror.New(oautherror.InvalidTarget, "send at most one resource")
	}
	t, ok := s.app.Resources().Protects(s.app.IssuerFor(r), vs[0])
	if !ok {
		return "", oautherror.New(oautherror.InvalidTarget, "the resource is not one this gateway protects: use the resource of its protected-resource metadata")
	}
	return t, nil
}
