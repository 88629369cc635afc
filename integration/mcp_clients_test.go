package integration

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// trustTestServers makes httptest's TLS certificate (the same for every
// httptest TLS server) the only root the process trusts, so that the
// gateway fetches a client ID metadata document from an https server of
// the test as it would from a real one. It runs before anything loads the
// system roots; no test reaches a real host.
func trustTestServers() {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	cert := srv.Certificate()
	srv.Close()
	dir, err := os.MkdirTemp("", "applinks-roots")
	if err != nil {
		panic(err)
	}
	file := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", file)
}

// useMCP lists the tools and calls the read-only one over an MCP session
// through the gateway, which the client opens authorizing itself.
func useMCP(t *testing.T, c *mcpClient) {
	t.Helper()
	cs, err := c.connect(t, mcpEndpoint)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) != 3 {
		t.Fatalf("tools/list: %v, %v", tools, err)
	}
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "search"})
	if err != nil || res.IsError {
		t.Fatalf("tools/call search: %v, %v", res, err)
	}
	if n := c.authorizations.Load(); n != 1 {
		t.Fatalf("authorized %d times, want 1", n)
	}
}

// TestMCPPublicClient: an MCP client that is a pre-registered public
// client (no secret) connects with PKCE from a loopback redirect URI on a
// port of its own.
func TestMCPPublicClient(t *testing.T) {
	startMCPGateway(t, `incoming desktop {
			public
			redirect_uri http://127.0.0.1/callback
		}`)
	c := newMCPClientAs(t, "alice", auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient: &oauthex.ClientCredentials{ClientID: "desktop"},
		RedirectURL:         "http://127.0.0.1:54311/callback",
	})
	useMCP(t, c)
	if got := c.token(t).Extra("scope"); got != "READ" {
		t.Fatalf("scope %v, want READ", got)
	}
}

// TestMCPDynamicRegistration: an MCP client registers itself (RFC 7591)
// as a public client at the advertised endpoint, then connects.
func TestMCPDynamicRegistration(t *testing.T) {
	startMCPGateway(t, `registration open`)
	c := newMCPClientAs(t, "alice", auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName:              "SDK desktop",
			RedirectURIs:            []string{"http://127.0.0.1:54312/callback"},
			TokenEndpointAuthMethod: "none",
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			ResponseTypes:           []string{"code"},
		}},
	})
	useMCP(t, c)
	status, _, list := adminCall(t, "GET", "/applinks/links", nil)
	if status != http.StatusOK || !strings.Contains(mustJSON(list), `"registered":true`) {
		t.Fatalf("the registered client is not listed as registered: %d", status)
	}
}

// clientDocument serves, over https on loopback, the client ID metadata
// document that doc returns for its own URL, and counts the fetches.
func clientDocument(t *testing.T, doc func(self string) map[string]any) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	var self string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_ = json.NewEncoder(w).Encode(doc(self))
	}))
	t.Cleanup(srv.Close)
	self = srv.URL + "/oauth/client.json"
	return self, &hits
}

func goodDocument(redirect string) func(string) map[string]any {
	return func(self string) map[string]any {
		return map[string]any{
			"client_id": self, "client_name": "Doc Desktop", "redirect_uris": []string{redirect},
			"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
		}
	}
}

// TestMCPClientIDMetadataDocument: an MCP client names itself by the URL
// of its document; the gateway advertises the feature, fetches the
// document (once: it is cached), shows its host on the consent page and
// holds the grant to the configured ceiling.
func TestMCPClientIDMetadataDocument(t *testing.T) {
	startMCPGateway(t, `client_id_metadata_documents {
			allow_loopback
		}`)
	if md := serverMetadata(t, "/.well-known/oauth-authorization-server"); md["client_id_metadata_document_supported"] != true {
		t.Fatalf("client_id_metadata_document_supported = %v", md["client_id_metadata_document_supported"])
	}
	docURL, hits := clientDocument(t, goodDocument("http://127.0.0.1/callback"))
	c := newMCPClientAs(t, "alice", auth.AuthorizationCodeHandlerConfig{
		ClientIDMetadataDocumentConfig: &auth.ClientIDMetadataDocumentConfig{URL: docURL},
		RedirectURL:                    "http://127.0.0.1:54313/callback",
	})
	useMCP(t, c)
	if got := c.token(t).Extra("scope"); got != "READ" {
		t.Fatalf("scope %v, want READ, the documents' ceiling", got)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the document was fetched %d times, want once (cached)", n)
	}

	// The consent page names the document's host.
	u, _ := url.Parse(docURL)
	b := browser(t)
	signIn(t, b, "alice", password).Body.Close()
	q := url.Values{"response_type": {"code"}, "client_id": {docURL}, "redirect_uri": {"http://127.0.0.1:5000/callback"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	resp, err := b.Get(base + "/rest/oauth2/latest/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	resp, err = b.Get(base + "/applinks/consent?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); !strings.Contains(body, "identified by its own document") || !strings.Contains(body, u.Host) {
		t.Fatalf("the consent page does not name the document's host: %s", body)
	}
	if status, _, list := adminCall(t, "GET", "/applinks/grants?user=alice", nil); status != http.StatusOK || !strings.Contains(mustJSON(list), "cimd:"+docURL) {
		t.Fatalf("the grant is not listed under the document's link: %d %s", status, mustJSON(list))
	}
}

// TestClientIDMetadataDocumentRefused: a document that names another
// client, a redirect URI it does not list and a host outside allow_hosts
// are refused with an error page at the authorization endpoint, never a
// redirect, and invalid_client as JSON at the token endpoint.
func TestClientIDMetadataDocumentRefused(t *testing.T) {
	startGateway(t, gatewayOptions{extraGlobal: `client_id_metadata_documents {
			allow_loopback
		}`})
	liar, _ := clientDocument(t, func(string) map[string]any {
		return map[string]any{"client_id": "https://trusted.example/client.json", "redirect_uris": []string{"http://127.0.0.1/callback"}}
	})
	good, _ := clientDocument(t, goodDocument("http://127.0.0.1/callback"))
	for name, tc := range map[string]struct{ clientID, redirect string }{
		"names another client": {liar, "http://127.0.0.1/callback"},
		"unlisted redirect":    {good, "http://127.0.0.1/elsewhere"},
		"unreachable":          {"https://127.0.0.1:1/client.json", "http://127.0.0.1/callback"},
	} {
		q := url.Values{"response_type": {"code"}, "client_id": {tc.clientID}, "redirect_uri": {tc.redirect},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		resp, err := noRedirects.Get(base + "/rest/oauth2/latest/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: authorize answered %d, Location %q; want an error page", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, err := http.PostForm(base+"/rest/oauth2/latest/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {liar}, "code": {"x"}, "code_verifier": {"y"}})
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || e["error"] != "invalid_client" || !strings.Contains(e["error_description"].(string), "document") {
		t.Fatalf("token endpoint: %d %v, want 401 invalid_client about the document", resp.StatusCode, e)
	}
}
