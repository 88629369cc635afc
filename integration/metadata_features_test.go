package integration

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// serverMetadata fetches a metadata document of the gateway.
func serverMetadata(t *testing.T, path string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal([]byte(readBody(t, resp)), &md); err != nil {
		t.Fatal(err)
	}
	return md
}

// TestMetadataListsWhatIsEnabled: RFC 8414 and OpenID Connect discovery
// advertise none, client_credentials and registration only when some
// link or the configuration enables them, and always the iss parameter
// (RFC 9207) that every authorization response carries.
func TestMetadataListsWhatIsEnabled(t *testing.T) {
	paths := []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}
	t.Run("plain", func(t *testing.T) {
		startGateway(t, gatewayOptions{})
		for _, p := range paths {
			md := serverMetadata(t, p)
			if got := strings.Join(toStrings(md["token_endpoint_auth_methods_supported"]), " "); got != "client_secret_basic client_secret_post" {
				t.Errorf("%s: token_endpoint_auth_methods_supported = %s", p, got)
			}
			if got := strings.Join(toStrings(md["grant_types_supported"]), " "); got != "authorization_code refresh_token" {
				t.Errorf("%s: grant_types_supported = %s", p, got)
			}
			for _, k := range []string{"registration_endpoint", "client_id_metadata_document_supported"} {
				if _, ok := md[k]; ok {
					t.Errorf("%s: %s advertised though off", p, k)
				}
			}
			if md["authorization_response_iss_parameter_supported"] != true {
				t.Errorf("%s: authorization_response_iss_parameter_supported = %v", p, md["authorization_response_iss_parameter_supported"])
			}
		}
	})
	t.Run("public and service links", func(t *testing.T) {
		startGateway(t, gatewayOptions{extraGlobal: publicClient + "\n\t\t" + serviceLink})
		for _, p := range paths {
			md := serverMetadata(t, p)
			if !slices.Contains(toStrings(md["token_endpoint_auth_methods_supported"]), "none") {
				t.Errorf("%s: none missing from %v", p, md["token_endpoint_auth_methods_supported"])
			}
			if slices.Contains(toStrings(md["introspection_endpoint_auth_methods_supported"]), "none") {
				t.Errorf("%s: none offered for introspection", p)
			}
			if !slices.Contains(toStrings(md["grant_types_supported"]), "client_credentials") {
				t.Errorf("%s: client_credentials missing from %v", p, md["grant_types_supported"])
			}
		}
	})
}
