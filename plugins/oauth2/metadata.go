package oauth2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/oauth2"
)

// metadata is the part of an RFC 8414 authorization server metadata
// document the gateway uses.
type metadata struct {
	Issuer                string
	AuthorizationEndpoint string
	TokenEndpoint         string
	TokenAuthMethods      []string
}

// parseMetadata reads an RFC 8414 metadata document of issuer: its issuer
// must be issuer exactly (§3.3) and it must name both endpoints.
func parseMetadata(body []byte, issuer string) (oauth2.Endpoint, error) {
	md, err := decodeMetadata(body)
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("decoding metadata: %w", err)
	}
	if md.Issuer != issuer {
		return oauth2.Endpoint{}, fmt.Errorf("checking metadata: issuer %q differs from the configured %q", md.Issuer, issuer)
	}
	if md.AuthorizationEndpoint == "" || md.TokenEndpoint == "" {
		return oauth2.Endpoint{}, errors.New("checking metadata: authorization_endpoint and token_endpoint are required")
	}
	return oauth2.Endpoint{
		AuthURL:   md.AuthorizationEndpoint,
		TokenURL:  md.TokenEndpoint,
		AuthStyle: authStyle(md.TokenAuthMethods),
	}, nil
}

// decodeMetadata reads the members the gateway uses from a JSON object by
// their exact, case-sensitive names (RFC 8414 §3.2), refusing a document
// that repeats a member name: encoding/json alone would also take
// "ISSUER" for "issuer" and the last of two "token_endpoint" members, so
// that two readers of one document could see different endpoints.
func decodeMetadata(body []byte) (metadata, error) {
	var md metadata
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return md, errors.New("not a JSON object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return md, err
		}
		name, _ := t.(string)
		if seen[name] {
			return md, fmt.Errorf("member %q appears more than once", name)
		}
		seen[name] = true
		var dst any
		switch name {
		case "issuer":
			dst = &md.Issuer
		case "authorization_endpoint":
			dst = &md.AuthorizationEndpoint
		case "token_endpoint":
			dst = &md.TokenEndpoint
		case "token_endpoint_auth_methods_supported":
			dst = &md.TokenAuthMethods
		default:
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return md, fmt.Errorf("member %q: %w", name, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return md, err
	}
	if _, err := dec.Token(); err == nil {
		return md, errors.New("data after the JSON object")
	}
	return md, nil
}

// authStyle is how the token endpoint takes client credentials, from the
// metadata's token_endpoint_auth_methods_supported (client_secret_basic
// when absent, RFC 8414 §2).
func authStyle(methods []string) oauth2.AuthStyle {
	switch {
	case len(methods) == 0, slices.Contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInHeader
	case slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect
}
