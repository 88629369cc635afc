package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/internal/flow"
)

var (
	mcpEndpoint   = base + "/mcp"
	otherEndpoint = base + "/other"
)

// mcpServer is an MCP server built with the official SDK: a read-only
// tool, a tool that writes, a dangerous one and a resource. It counts the
// calls of the tools it ran.
type mcpServer struct {
	url   string
	calls atomic.Int64
}

func startMCPServer(t *testing.T) *mcpServer {
	t.Helper()
	s := &mcpServer{}
	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1.0.0"}, nil)
	type in struct {
		Text string `json:"text,omitempty"`
	}
	for _, name := range []string{"search", "write_note", "delete_repo"} {
		mcp.AddTool(server, &mcp.Tool{Name: name, Description: name}, func(ctx context.Context, req *mcp.CallToolRequest, args in) (*mcp.CallToolResult, any, error) {
			s.calls.Add(1)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + " done"}}}, nil, nil
		})
	}
	server.AddResource(&mcp.Resource{URI: "note://1", Name: "note", MIMEType: "text/plain"}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: "note://1", MIMEType: "text/plain", Text: "the first note"}}}, nil
	})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// startMCPGateway puts the MCP server behind require_token with resource
// /mcp and per-tool ceilings, and a second guarded resource /other.
func startMCPGateway(t *testing.T, extraGlobal string) (*gateway, *mcpServer) {
	t.Helper()
	upstream := startMCPServer(t)
	u, _ := url.Parse(upstream.url)
	g := startGateway(t, gatewayOptions{extraGlobal: extraGlobal, site: fmt.Sprintf(`applinks
	handle /mcp* {
		require_token {
			resource /mcp
			mcp {
				tool search READ
				tool delete_repo ADMIN
			}
		}
		reverse_proxy %s
	}
	handle /other* {
		require_token {
			resource /other
		}
		respond "other reached" 200
	}
	respond "upstream reached" 200`, u.Host)})
	return g, upstream
}

// mcpClient is an MCP SDK client with the SDK's OAuth support, knowing
// only the gateway's pre-registered confidential client: it discovers the
// rest from the gateway's answers. user signs in and consents in a
// test browser.
type mcpClient struct {
	handler *auth.AuthorizationCodeHandler
	// authorizations counts the runs of the authorization flow.
	authorizations atomic.Int64
}

func newMCPClient(t *testing.T, user string) *mcpClient {
	return newMCPClientAs(t, user, auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient: &oauthex.ClientCredentials{ClientID: clientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: secretValue}},
		RedirectURL:         redirectURI,
	})
}

// newMCPClientAs is newMCPClient for the client that cfg's registration
// fields (a pre-registered client, dynamic registration or a client ID
// metadata document) and RedirectURL describe.
func newMCPClientAs(t *testing.T, user string, cfg auth.AuthorizationCodeHandlerConfig) *mcpClient {
	t.Helper()
	c := &mcpClient{}
	b := browser(t)
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient:             cfg.PreregisteredClient,
		DynamicClientRegistrationConfig: cfg.DynamicClientRegistrationConfig,
		ClientIDMetadataDocumentConfig:  cfg.ClientIDMetadataDocumentConfig,
		RedirectURL:                     cfg.RedirectURL,
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			c.authorizations.Add(1)
			loc, err := browseMCP(b, args.URL, user)
			if err != nil {
				return nil, err
			}
			q := loc.Query()
			if e := q.Get("error"); e != "" {
				return nil, fmt.Errorf("authorization answered %s: %s", e, q.Get("error_description"))
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
		// A dialer of our own: the SDK's discovery client refuses
		// private addresses otherwise; the gateway is on loopback.
		Client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.handler = h
	return c
}

// browseMCP follows an authorization URL through sign-in and consent
// (allowing) and returns the redirect to the client, or the error the
// gateway redirected with straight away.
func browseMCP(b *http.Client, authURL, user string) (*url.URL, error) {
	resp, err := b.Get(authURL)
	if err != nil {
		return nil, err
	}
	body := readBodyErr(resp)
	if resp.StatusCode == http.StatusSeeOther {
		return url.Parse(resp.Header.Get("Location"))
	}
	if strings.Contains(body, `name="password"`) {
		f := flow.HiddenFields(body)
		f.Set("username", user)
		f.Set("password", password)
		if resp, err = b.PostForm(base+"/applinks/login", f); err != nil {
			return nil, err
		}
		body = readBodyErr(resp)
	}
	if !strings.Contains(body, "Allow access?") {
		return nil, fmt.Errorf("expected the consent page, got %d", resp.StatusCode)
	}
	f := flow.HiddenFields(body)
	f.Set("decision", "allow")
	if resp, err = b.PostForm(base+"/applinks/consent", f); err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("consent answered %d", resp.StatusCode)
	}
	return url.Parse(resp.Header.Get("Location"))
}

// connect opens an MCP session through the gateway.
func (c *mcpClient) connect(t *testing.T, endpoint string) (*mcp.ClientSession, error) {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint: endpoint, OAuthHandler: c.handler, MaxRetries: -1, DisableStandaloneSSE: true,
	}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, err
}

// token is the client's current access token.
func (c *mcpClient) token(t *testing.T) *oauth2.Token {
	t.Helper()
	ts, err := c.handler.TokenSource(t.Context())
	if err != nil || ts == nil {
		t.Fatalf("no token source: %v", err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestMCPUnauthorizedHintsResourceMetadataAndScope: an MCP client with no
// token learns from the 401 alone where the resource's metadata is and
// which scope to ask for (READ for initialize, not every scope there is),
// and the document found there names exactly the URL it used.
func TestMCPUnauthorizedHintsResourceMetadataAndScope(t *testing.T) {
	startMCPGateway(t, "")
	for body, want := range map[string]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`: "READ",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_note"}}`:                                                                      "WRITE",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo"}}`:                                                                     "ADMIN",
	} {
		resp, err := http.Post(mcpEndpoint, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ch := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(ch, `scope="`+want+`"`) ||
			!strings.Contains(ch, `resource_metadata="`+base+`/.well-known/oauth-protected-resource/mcp"`) {
			t.Fatalf("%s: %d %q, want 401 with scope %s and the resource's metadata", body, resp.StatusCode, ch, want)
		}
	}
	resp, err := http.Get(base + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var prm oauthex.ProtectedResourceMetadata
	if err := json.NewDecoder(resp.Body).Decode(&prm); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if prm.Resource != mcpEndpoint || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != base ||
		strings.Join(prm.ScopesSupported, " ") != "READ WRITE ADMIN SYSTEM_ADMIN" || strings.Join(prm.BearerMethodsSupported, " ") != "header" {
		t.Fatalf("protected-resource metadata %+v", prm)
	}
}

// TestMCPClientConnectsWithOnlyTheHints: the official SDK client, given
// the pre-registered client alone, discovers the resource and
// authorization server, runs the code flow with PKCE S256 and resource,
// and then lists tools and reads a resource with the READ token it asked
// for; a tool that writes makes it step up to WRITE, which the link
// allows; the ADMIN tool stays refused for the WRITE link.
func TestMCPClientConnectsWithOnlyTheHints(t *testing.T) {
	_, upstream := startMCPGateway(t, "")
	c := newMCPClient(t, "alice")
	cs, err := c.connect(t, mcpEndpoint)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	if tok := c.token(t); tok.Extra("scope") != "READ" {
		t.Fatalf("first token has scope %v, want READ (the hint of initialize)", tok.Extra("scope"))
	}
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) != 3 {
		t.Fatalf("listing tools with READ: %v %v", tools, err)
	}
	res, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "note://1"})
	if err != nil || res.Contents[0].Text != "the first note" {
		t.Fatalf("reading a resource with READ: %v %v", res, err)
	}
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"text": "x"}}); err != nil {
		t.Fatalf("calling the read-only tool with READ: %v", err)
	}
	if n := c.authorizations.Load(); n != 1 {
		t.Fatalf("%d authorizations before any write, want 1", n)
	}
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "write_note", Arguments: map[string]any{"text": "x"}}); err != nil {
		t.Fatalf("calling a writing tool after step-up: %v", err)
	}
	if tok := c.token(t); tok.Extra("scope") != "WRITE" {
		t.Fatalf("after step-up the token has scope %v, want WRITE", tok.Extra("scope"))
	}
	before := upstream.calls.Load()
	_, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "delete_repo"})
	if err == nil {
		t.Fatal("the ADMIN tool ran for a link whose ceiling is WRITE")
	}
	if upstream.calls.Load() != before {
		t.Fatal("the ADMIN tool reached the upstream")
	}
}

// TestMCPAdminToolRefusedForWriteToken: a WRITE token calling a tool
// whose ceiling is ADMIN gets 403 insufficient_scope naming ADMIN and the
// resource's metadata, and the upstream never sees the call; the same
// token calls an unlisted tool.
func TestMCPAdminToolRefusedForWriteToken(t *testing.T) {
	_, upstream := startMCPGateway(t, "")
	tok := resourceToken(t, "alice", "WRITE", mcpEndpoint)
	call := func(tool string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, mcpEndpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`"}}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := call("delete_repo")
	ch := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="ADMIN"`) ||
		!strings.Contains(ch, `resource_metadata="`+base+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Fatalf("ADMIN tool with a WRITE token: %d %q", resp.StatusCode, ch)
	}
	if upstream.calls.Load() != 0 {
		t.Fatal("the refused call reached the upstream")
	}
	// Past the guard: the SDK's server answers (without a session, 400),
	// but not the guard's 401 or 403.
	if resp := call("write_note"); resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		t.Fatalf("unlisted tool with a WRITE token: %d", resp.StatusCode)
	}
}

// resourceToken runs the code flow for user with x/oauth2, asking for
// scope and the RFC 8707 resource (none when "").
func resourceToken(t *testing.T, user, scope, resource string) *oauth2.Token {
	t.Helper()
	conf := oauthConfig(oauth2.AuthStyleInHeader)
	conf.Scopes = []string{scope}
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", resource))
	}
	loc := authorize(t, browser(t), conf.AuthCodeURL("st", opts...), user, "allow")
	tok, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

func getWith(t *testing.T, u, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestTokenForAnotherResourceRefused: a token bound to /other is refused
// by the guard of /mcp (and the other way round) with 401 invalid_token,
// so a token leaked from one resource server cannot be replayed at
// another; introspection reports the binding as aud; a token asked for
// without resource works for both.
func TestTokenForAnotherResourceRefused(t *testing.T) {
	startMCPGateway(t, "")
	other := resourceToken(t, "alice", "READ", otherEndpoint)
	if resp := getWith(t, otherEndpoint, other.AccessToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("token for /other at /other: %d", resp.StatusCode)
	}
	resp := getWith(t, mcpEndpoint, other.AccessToken)
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(ch, `error="invalid_token"`) ||
		!strings.Contains(ch, "/.well-known/oauth-protected-resource/mcp") {
		t.Fatalf("token for /other at /mcp: %d %q", resp.StatusCode, ch)
	}
	mcpTok := resourceToken(t, "alice", "READ", mcpEndpoint)
	if resp := getWith(t, otherEndpoint, mcpTok.AccessToken); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token for /mcp at /other: %d", resp.StatusCode)
	}
	if resp := getWith(t, base+"/", mcpTok.AccessToken); resp.StatusCode != http.StatusOK {
		// The site root has no guard: nothing to refuse.
		t.Fatalf("unguarded root: %d", resp.StatusCode)
	}
	anywhere := resourceToken(t, "alice", "READ", "")
	if resp := getWith(t, otherEndpoint, anywhere.AccessToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("token without resource at /other: %d", resp.StatusCode)
	}

	_, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {other.AccessToken}}, clientID, secretValue)
	if m["active"] != true || m["aud"] != otherEndpoint {
		t.Fatalf("introspection: %v, want aud %s", m, otherEndpoint)
	}
}

// TestResourceIndicatorValidated: a resource the gateway does not protect
// is invalid_target at the authorization endpoint (sent to the redirect
// URI) and at the token endpoint (JSON); a refresh cannot move a grant to
// another resource.
func TestResourceIndicatorValidated(t *testing.T) {
	startMCPGateway(t, "")
	conf := oauthConfig(oauth2.AuthStyleInHeader)
	conf.Scopes = []string{"READ"}
	resp, err := browser(t).Get(conf.AuthCodeURL("st", oauth2.SetAuthURLParam("resource", "https://evil.example/mcp")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "invalid_target" || loc.Query().Get("state") != "st" {
		t.Fatalf("authorize with a foreign resource: %d %s", resp.StatusCode, loc)
	}

	tok := resourceToken(t, "alice", "READ", mcpEndpoint)
	for _, res := range []string{"https://evil.example/mcp", otherEndpoint} {
		status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {res}}, clientID, secretValue)
		if status != http.StatusBadRequest || m["error"] != "invalid_target" {
			t.Fatalf("refresh to %s: %d %v, want invalid_target", res, status, m)
		}
	}
	status, m, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {mcpEndpoint}}, clientID, secretValue)
	if status != http.StatusOK {
		t.Fatalf("refresh for the same resource: %d %v", status, m)
	}
}

// TestMCPClientRefreshesAfterExpiry: when the access token has expired,
// the SDK client refreshes it (without running the authorization flow
// again) and the refreshed token, still bound to the resource, works.
func TestMCPClientRefreshesAfterExpiry(t *testing.T) {
	startMCPGateway(t, "access_token_ttl 1s")
	c := newMCPClient(t, "bob")
	cs, err := c.connect(t, mcpEndpoint)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	first := c.token(t).AccessToken
	time.Sleep(1500 * time.Millisecond)
	if _, err := cs.ListTools(t.Context(), nil); err != nil {
		t.Fatalf("listing tools after expiry: %v", err)
	}
	if c.token(t).AccessToken == first {
		t.Fatal("the token was not refreshed")
	}
	if n := c.authorizations.Load(); n != 1 {
		t.Fatalf("%d authorization flows, want 1: the refresh should have done", n)
	}
	_, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {c.token(t).AccessToken}}, clientID, secretValue)
	if m["aud"] != mcpEndpoint {
		t.Fatalf("refreshed token: %v, want aud %s", m, mcpEndpoint)
	}
}

// readBodyErr reads and closes a body, for code that cannot fail the test.
func readBodyErr(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
