package oauth

import (
	"net/http"
	"slices"

	"github.com/applinks/caddy-applinks/module/scope"
)

// ServerMetadata is the RFC 8414 authorization server metadata.
type ServerMetadata struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                  string   `json:"introspection_endpoint"`
	ScopesSupported                        []string `json:"scopes_supported"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	ResponseModesSupported                 []string `json:"response_modes_supported"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported          []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods          []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods       []string `json:"introspection_endpoint_auth_methods_supported"`
	AuthorizationResponseIssParamSupported bool     `json:"authorization_response_iss_parameter_supported"`
	// RegistrationEndpoint is set when dynamic client registration (RFC
	// 7591) is on.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// ClientIDMetadataDocumentSupported is set when https URLs are taken
	// as client ids (client ID metadata documents).
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`
}

// ResourceMetadata is the RFC 9728 protected resource metadata of the
// guarded upstream.
type ResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
}

var ladder = []string{scope.Read.String(), scope.Write.String(), scope.Admin.String(), scope.SystemAdmin.String()}

// Metadata returns the server metadata for an issuer, listing exactly what
// f says is enabled: the none authentication method only when public
// clients exist or may register, client_credentials only when a link may
// use it.
func Metadata(issuer string, f Features) ServerMetadata {
	secretMethods := []string{"client_secret_basic", "client_secret_post"}
	authMethods := secretMethods
	if f.PublicClients || f.Registration || f.ClientIDMetadataDocuments {
		authMethods = append(slices.Clone(secretMethods), "none")
	}
	grantTypes := []string{"authorization_code", "refresh_token"}
	if f.ClientCredentials {
		grantTypes = append(grantTypes, "client_credentials")
	}
	md := ServerMetadata{
		Issuer:                                 issuer,
		AuthorizationEndpoint:                  issuer + AuthorizePath,
		TokenEndpoint:                          issuer + TokenPath,
		RevocationEndpoint:                     issuer + RevokePath,
		IntrospectionEndpoint:                  issuer + IntrospectPath,
		ScopesSupported:                        ladder,
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query"},
		GrantTypesSupported:                    grantTypes,
		CodeChallengeMethodsSupported:          []string{"S256", "plain"},
		TokenEndpointAuthMethodsSupported:      authMethods,
		RevocationEndpointAuthMethods:          authMethods,
		IntrospectionEndpointAuthMethods:       secretMethods,
		AuthorizationResponseIssParamSupported: true,
		ClientIDMetadataDocumentSupported:      f.ClientIDMetadataDocuments,
	}
	if f.Registration {
		md.RegistrationEndpoint = issuer + RegisterPath
	}
	return md
}

// ServeServerMetadata answers /.well-known/oauth-authorization-server.
func (s *Server) ServeServerMetadata(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	f, err := s.features(r.Context())
	if err != nil {
		return s.answer(w, err)
	}
	writeJSON(w, http.StatusOK, Metadata(s.app.IssuerFor(r), f))
	return nil
}

// ServeResourceMetadata answers /.well-known/oauth-protected-resource.
func (s *Server) ServeResourceMetadata(w http.ResponseWriter, r *http.Request) error {
	issuer := s.app.IssuerFor(r)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, resourceMetadata(issuer, issuer))
	return nil
}
