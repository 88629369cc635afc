package oauth2

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// FuzzMetadata: whatever metadata document an authorization server (or
// whoever answers for it) returns, discovery either refuses it or takes
// the endpoints a strict, case-sensitive reader of the document sees, on
// the issuer's origin and passing the endpoint checks; and the metadata URL
// of an issuer stays on the issuer's origin.
func FuzzMetadata(f *testing.F) {
	const iss = "https://as.example.com/tenant"
	doc := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	good := map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token"}
	f.Add(iss, doc(good))
	f.Add(iss, []byte(`{"issuer":"`+iss+`","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://evil.example/t"}`))
	f.Add(iss, []byte(`{"issuer":"`+iss+`","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t","TOKEN_ENDPOINT":"https://evil.example/t"}`))
	f.Add(iss, []byte(`{"issuer":"`+iss+`","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t","token_endpoint":"https://as.example.com:8443/t"}`))
	f.Add(iss, []byte(`{"ISSUER":"`+iss+`","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t"}`))
	f.Add(iss, []byte(`{"issuer":"`+iss+`","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t","token_endpoint_auth_methods_supported":["client_secret_post"]} {}`))
	f.Add("https://as.example.com", []byte(`{"issuer":"https://as.example.com","authorization_endpoint":"http://as.example.com/a","token_endpoint":"https://as.example.com:443/t"}`))
	f.Add("https://as.example.com/", []byte(`[]`))
	f.Add("https://as.example.com?x", []byte(`null`))
	f.Fuzz(func(t *testing.T, issuer string, body []byte) {
		var d outgoing.Discovery
		ep, err := d.Endpoint(context.Background(), nil, issuer, func(context.Context, *http.Client) (oauth2.Endpoint, error) {
			return parseMetadata(body, issuer)
		})
		if err == nil {
			strict := strictMembers(t, body)
			if strict == nil {
				t.Fatalf("accepted %q, which a strict reader refuses", body)
			}
			if strict["issuer"] != issuer || strict["authorization_endpoint"] != ep.AuthURL || strict["token_endpoint"] != ep.TokenURL {
				t.Fatalf("accepted %+v from %q, which a strict reader reads as %q", ep, body, strict)
			}
			for _, e := range []string{ep.AuthURL, ep.TokenURL} {
				if err := outgoing.CheckEndpoint(e); err != nil {
					t.Fatalf("accepted endpoint %q: %v", e, err)
				}
				if !sameOrigin(issuer, e) {
					t.Fatalf("accepted endpoint %q off the origin of %q", e, issuer)
				}
			}
		}
		if outgoing.CheckEndpoint(issuer) != nil {
			return
		}
		md, err := metadataURL(issuer)
		if err != nil {
			return
		}
		if !sameOrigin(issuer, md) {
			t.Fatalf("metadata URL %q of %q is off the issuer's origin", md, issuer)
		}
		u, _ := url.Parse(md)
		iu, _ := url.Parse(issuer)
		if u.Path != wellKnown+strings.TrimSuffix(iu.Path, "/") {
			t.Fatalf("metadata URL %q of %q has path %q", md, issuer, u.Path)
		}
	})
}

// strictMembers reads the string members of a JSON object by exact name,
// or returns nil when body is not one object or repeats a name.
func strictMembers(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil || raw == nil {
		return nil
	}
	// A repeated name (in any case) shows as fewer map keys than members.
	dec := json.NewDecoder(strings.NewReader(string(body)))
	depth, members := 0, 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			expectKey = tok == json.Delim('{') && depth == 1
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			expectKey = depth == 1 // back in the top-level object after a value
			continue
		}
		if depth == 1 && expectKey {
			members++
			expectKey = false
		} else if depth == 1 {
			expectKey = true
		}
	}
	if members != len(raw) {
		return nil
	}
	out := make(map[string]string)
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint"} {
		var s string
		if v, ok := raw[k]; ok && json.Unmarshal(v, &s) == nil {
			out[k] = s
		}
	}
	return out
}

// sameOrigin is an independent same-origin check: scheme and host
// lower case, trailing dot and default port dropped.
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	norm := func(u *url.URL) string {
		port := u.Port()
		if port == "" || port == "443" && u.Scheme == "https" || port == "80" && u.Scheme == "http" {
			port = ""
		}
		return strings.ToLower(u.Scheme) + "://" + strings.TrimSuffix(strings.ToLower(u.Hostname()), ".") + ":" + port
	}
	return norm(ua) == norm(ub)
}

// TestMetadataWithMembersInOtherCaseOrRepeatedIsRefused: a metadata
// document cannot smuggle a second token endpoint past discovery as
// "TOKEN_ENDPOINT" or as a repeated "token_endpoint" that one JSON reader
// takes and another ignores.
func TestMetadataWithMembersInOtherCaseOrRepeatedIsRefused(t *testing.T) {
	const iss = "https://as.example.com"
	for name, body := range map[string]string{
		"other case": `{"issuer":"` + iss + `","authorization_endpoint":"` + iss + `/a","TOKEN_ENDPOINT":"` + iss + `/t"}`,
		"repeated":   `{"issuer":"` + iss + `","authorization_endpoint":"` + iss + `/a","token_endpoint":"` + iss + `/t","token_endpoint":"` + iss + `/u"}`,
		"trailing":   `{"issuer":"` + iss + `","authorization_endpoint":"` + iss + `/a","token_endpoint":"` + iss + `/t"} {}`,
	} {
		t.Run(name, func(t *testing.T) {
			if ep, err := parseMetadata([]byte(body), iss); err == nil {
				t.Fatalf("accepted %+v", ep)
			}
		})
	}
	ok := `{"issuer":"` + iss + `","authorization_endpoint":"` + iss + `/a","token_endpoint":"` + iss + `/t","token_endpoint_auth_methods_supported":["client_secret_post"],"x":{"token_endpoint":1}}`
	if ep, err := parseMetadata([]byte(ok), iss); err != nil || ep.TokenURL != iss+"/t" || ep.AuthStyle != oauth2.AuthStyleInParams {
		t.Fatalf("a valid document: %+v, %v", ep, err)
	}
}
