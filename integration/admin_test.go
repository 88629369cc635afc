package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

const adminBase = "http://localhost:2999"

// adminCall sends a JSON request to the admin API and decodes the answer.
func adminCall(t *testing.T, method, path string, body any) (int, map[string]any, []any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	r, err := http.NewRequest(method, adminBase+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	var obj map[string]any
	var list []any
	if strings.HasPrefix(strings.TrimSpace(raw), "[") {
		_ = json.Unmarshal([]byte(raw), &list)
	} else if raw != "" {
		_ = json.Unmarshal([]byte(raw), &obj)
	}
	return resp.StatusCode, obj, list
}

// TestAdminAPILinks: an incoming link created through the admin API works
// in a token flow; its credentials can be viewed again; a rotated secret
// keeps the old one valid during the overlap; deleting the link ends its
// tokens; config-declared links are read-only; bad input is refused with
// nothing created.
func TestAdminAPILinks(t *testing.T) {
	startGateway(t, gatewayOptions{})
	const cb = "http://127.0.0.1:9481/ci"
	status, created, _ := adminCall(t, "POST", "/applinks/links", map[string]any{"name": "ci", "redirect_uris": []string{cb}, "scope": "WRITE"})
	if status != http.StatusCreated || created["client_secret"] == nil || created["client_id"] == nil || created["source"] != "runtime" {
		t.Fatalf("create: %d %v", status, created)
	}
	id, cid, sec := created["id"].(string), created["client_id"].(string), created["client_secret"].(string)
	for name, body := range map[string]map[string]any{
		"duplicate name":      {"name": "ci", "redirect_uris": []string{cb}, "scope": "READ"},
		"http redirect":       {"name": "x1", "redirect_uris": []string{"http://evil.example/cb"}, "scope": "READ"},
		"unknown scope":       {"name": "x2", "redirect_uris": []string{cb}, "scope": "GOD"},
		"no redirect":         {"name": "x3", "scope": "READ"},
		"unknown field":       {"name": "x4", "redirect_uris": []string{cb}, "scope": "READ", "colour": "red"},
		"name used by config": {"name": "app", "redirect_uris": []string{cb}, "scope": "READ"},
	} {
		status, m, _ := adminCall(t, "POST", "/applinks/links", body)
		if status != http.StatusBadRequest && status != http.StatusConflict || m["error"] == nil {
			t.Errorf("%s: %d %v", name, status, m)
		}
	}
	_, _, list := adminCall(t, "GET", "/applinks/links", nil)
	var names []string
	for _, e := range list {
		l := e.(map[string]any)
		names = append(names, l["name"].(string))
		if l["client_secret"] != nil {
			t.Errorf("the list shows a secret of %s", l["name"])
		}
	}
	if strings.Join(names, ",") != "app,other,ci" {
		t.Fatalf("links: %v (nothing half-created must appear)", names)
	}
	if status, cred, _ := adminCall(t, "GET", "/applinks/links/"+id+"/credentials", nil); status != 200 || cred["client_secret"] != sec {
		t.Fatalf("view credentials: %d %v", status, cred)
	}

	// The link works in a token flow.
	conf := &oauth2.Config{ClientID: cid, ClientSecret: sec, RedirectURL: cb, Endpoint: discover()}
	loc := authorize(t, browser(t), conf.AuthCodeURL("s"), "alice", "allow")
	status, tok, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {cb}}, cid, sec)
	if status != 200 {
		t.Fatalf("token: %d %v", status, tok)
	}
	access := tok["access_token"].(string)

	status, rotated, _ := adminCall(t, "POST", "/applinks/links/"+id+"/rotate-secret", nil)
	newSec, _ := rotated["client_secret"].(string)
	if status != 200 || newSec == "" || newSec == sec {
		t.Fatalf("rotate: %d %v", status, rotated)
	}
	for _, s := range []string{sec, newSec} {
		if status, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {access}}, cid, s); status != 200 || m["active"] != true {
			t.Fatalf("introspect with a secret during the overlap: %d %v", status, m)
		}
	}

	if status, m, _ := adminCall(t, "DELETE", "/applinks/links/"+idOf(t, "app"), nil); status != http.StatusConflict {
		t.Fatalf("deleting a config link: %d %v", status, m)
	}
	if status, _, _ := adminCall(t, "DELETE", "/applinks/links/"+id, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {access}}, cid, newSec); status != http.StatusUnauthorized {
		t.Fatalf("the deleted link's client still authenticates: %d", status)
	}
	if status, _, _ := adminCall(t, "GET", "/applinks/links/"+id, nil); status != http.StatusNotFound {
		t.Fatalf("the deleted link: %d", status)
	}
}

// idOf returns the id of the link with the given name.
func idOf(t *testing.T, name string) string {
	t.Helper()
	return linkIDWhere(t, "name", name)
}

// linkIDWhere returns the id of the incoming link whose field (in the
// admin API's answer) is value.
func linkIDWhere(t *testing.T, field, value string) string {
	t.Helper()
	_, _, list := adminCall(t, "GET", "/applinks/links", nil)
	for _, e := range list {
		if l := e.(map[string]any); l[field] == value {
			return l["id"].(string)
		}
	}
	t.Fatalf("no link of %s %s", field, value)
	return ""
}

// TestAdminAPIUsersAndGrants: users created through the API sign in;
// disabling one ends their sign-in; config users are read-only; a grant
// revoked through the API ends its tokens.
func TestAdminAPIUsersAndGrants(t *testing.T) {
	startGateway(t, gatewayOptions{})
	if status, m, _ := adminCall(t, "PUT", "/applinks/users/zoe", map[string]any{"password": "zoe-password-1", "role": "WRITE"}); status != http.StatusCreated || m["role"] != "WRITE" {
		t.Fatalf("create user: %d %v", status, m)
	}
	resp := signIn(t, browser(t), "zoe", "zoe-password-1")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path == "/applinks/login" {
		t.Fatalf("zoe's sign-in: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if status, m, _ := adminCall(t, "PUT", "/applinks/users/zoe", map[string]any{"role": "WRITE", "disabled": true}); status != http.StatusOK || m["disabled"] != true {
		t.Fatalf("disable: %d %v", status, m)
	}
	resp = signIn(t, browser(t), "zoe", "zoe-password-1")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled user signed in: %d", resp.StatusCode)
	}
	for name, body := range map[string]map[string]any{
		"config user": {"password": "x", "role": "READ"},
		"no password": {"role": "READ"},
		"bad role":    {"password": "x", "role": "ROOT"},
	} {
		user := map[string]string{"config user": "alice", "no password": "yan", "bad role": "yan"}[name]
		if status, m, _ := adminCall(t, "PUT", "/applinks/users/"+user, body); status < 400 || m["error"] == nil {
			t.Errorf("%s: %d %v", name, status, m)
		}
	}
	_, _, users := adminCall(t, "GET", "/applinks/users", nil)
	if len(users) != 5 {
		t.Errorf("users: %v", users)
	}

	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	_, _, grants := adminCall(t, "GET", "/applinks/grants?user=alice", nil)
	if len(grants) != 1 {
		t.Fatalf("alice's grants: %v", grants)
	}
	gid := grants[0].(map[string]any)["id"].(string)
	if status, _, _ := adminCall(t, "DELETE", "/applinks/grants/"+gid, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d", status)
	}
	if introspect(t, tok.AccessToken)["active"] != false {
		t.Fatal("a grant revoked through the API still has active tokens")
	}
	tok = obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	if status, m, _ := adminCall(t, "POST", "/applinks/users/alice/revoke-grants", nil); status != http.StatusOK || m["revoked"] != float64(1) {
		t.Fatalf("revoke-grants: %d %v", status, m)
	}
	if introspect(t, tok.AccessToken)["active"] != false {
		t.Fatal("revoke-grants left an active token")
	}
	if status, m, _ := adminCall(t, "PUT", "/applinks/users/yan", map[string]any{"password": "short", "role": "READ"}); status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error"]), "at least 8") {
		t.Fatalf("a short password: %d %v", status, m)
	}
}

// TestAdminAPIOutgoing: outgoing links are created (endpoints checked),
// listed and deleted through the API.
func TestAdminAPIOutgoing(t *testing.T) {
	startGateway(t, gatewayOptions{})
	bad := map[string]any{"name": "meta", "provider": map[string]any{"provider": "oauth2", "authorization_endpoint": "http://169.254.169.254/a", "token_endpoint": "https://idp.example/t"}, "client_id": "c"}
	if status, m, _ := adminCall(t, "POST", "/applinks/outgoing", bad); status != http.StatusBadRequest {
		t.Fatalf("a metadata-address endpoint: %d %v", status, m)
	}
	good := map[string]any{"name": "drive", "provider": map[string]any{"provider": "google"}, "client_id": "c", "client_secret": "s", "scopes": []string{"https://www.googleapis.com/auth/drive.readonly"}}
	if status, m, _ := adminCall(t, "POST", "/applinks/outgoing", good); status != http.StatusCreated || m["redirect_uri_path"] != "/applinks/callback/drive" {
		t.Fatalf("create: %d %v", status, m)
	}
	if status, _, _ := adminCall(t, "POST", "/applinks/outgoing", good); status != http.StatusConflict {
		t.Fatalf("duplicate: %d", status)
	}
	_, _, list := adminCall(t, "GET", "/applinks/outgoing", nil)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "drive" || list[0].(map[string]any)["mode"] != "per_user" {
		t.Fatalf("list: %v", list)
	}
	if status, _, _ := adminCall(t, "DELETE", "/applinks/outgoing/drive", nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := adminCall(t, "DELETE", "/applinks/outgoing/drive", nil); status != http.StatusNotFound {
		t.Fatalf("delete again: %d", status)
	}
}

// strs reads a JSON array of strings; nil when absent.
func strs(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestAdminAPIEditLink: a runtime incoming link edited through the admin
// API keeps its id, client id and secret; a lowered scope binds a token
// issued before on its very next request (cached validations included);
// new redirect URIs and a PKCE requirement apply to the next authorization;
// fields left out stay; config links are read-only; bad input is refused
// with the link unchanged.
func TestAdminAPIEditLink(t *testing.T) {
	guardedGateway(t)
	const cb, cb2 = "http://127.0.0.1:9481/ci", "http://127.0.0.1:9481/ci2"
	status, created, _ := adminCall(t, "POST", "/applinks/links", map[string]any{"name": "ci", "redirect_uris": []string{cb}, "scope": "WRITE"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, created)
	}
	id, cid, sec := created["id"].(string), created["client_id"].(string), created["client_secret"].(string)

	conf := &oauth2.Config{ClientID: cid, ClientSecret: sec, RedirectURL: cb, Endpoint: discover()}
	loc := authorize(t, browser(t), conf.AuthCodeURL("s"), "alice", "allow")
	status, tok, _ := postForm(t, "/rest/oauth2/latest/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {cb}}, cid, sec)
	if status != 200 || tok["scope"] != "WRITE" {
		t.Fatalf("token: %d %v", status, tok)
	}
	access := tok["access_token"].(string)
	if resp, s, _ := call(t, http.MethodPost, "/things", bearer(access)); resp.StatusCode != http.StatusOK || s.Scope != "WRITE" {
		t.Fatalf("a WRITE token writing: %d %+v", resp.StatusCode, s)
	}

	status, m, _ := adminCall(t, "PATCH", "/applinks/links/"+id, map[string]any{"scope": "READ"})
	if status != http.StatusOK || m["scope"] != "READ" || m["id"] != id || m["client_id"] != cid || m["name"] != "ci" || m["client_secret"] != nil ||
		!slices.Equal(strs(m["redirect_uris"]), []string{cb}) || m["require_pkce"] != nil {
		t.Fatalf("lower the scope: %d %v", status, m)
	}
	if resp, _, _ := call(t, http.MethodPost, "/things", bearer(access)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a token of a link lowered to READ writes: %d", resp.StatusCode)
	}
	if resp, s, _ := call(t, http.MethodGet, "/things", bearer(access)); resp.StatusCode != http.StatusOK || s.Scope != "READ" {
		t.Fatalf("a token of a link lowered to READ reading: %d %+v", resp.StatusCode, s)
	}
	if status, m, _ := postForm(t, "/rest/oauth2/latest/introspect", url.Values{"token": {access}}, cid, sec); status != 200 || m["active"] != true || m["scope"] != "READ" {
		t.Fatalf("introspect after lowering the scope: %d %v", status, m)
	}

	status, m, _ = adminCall(t, "PATCH", "/applinks/links/"+id, map[string]any{"redirect_uris": []string{cb2}, "require_pkce": true})
	if status != http.StatusOK || m["scope"] != "READ" || m["require_pkce"] != true || !slices.Equal(strs(m["redirect_uris"]), []string{cb2}) {
		t.Fatalf("new redirect and PKCE: %d %v", status, m)
	}
	resp, err := noRedirects.Get(conf.AuthCodeURL("s"))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Redirect URL mismatch") {
		t.Fatalf("authorization with the removed redirect URL: %d", resp.StatusCode)
	}
	conf.RedirectURL = cb2
	resp, err = noRedirects.Get(conf.AuthCodeURL("s"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), cb2) || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("authorization without PKCE: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	verifier := oauth2.GenerateVerifier()
	loc = authorize(t, browser(t), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", "allow")
	t2, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || t2.Extra("scope") != "READ" {
		t.Fatalf("flow through the edited link: %v %v", err, t2)
	}

	for name, body := range map[string]map[string]any{
		"http redirect":  {"redirect_uris": []string{"http://evil.example/cb"}},
		"no redirect":    {"redirect_uris": []string{}},
		"unknown scope":  {"scope": "GOD"},
		"lower-case":     {"scope": "read"},
		"unknown field":  {"scope": "READ", "name": "renamed"},
		"not an object":  {"redirect_uris": "https://x.example/cb"},
		"fragment":       {"redirect_uris": []string{"https://x.example/cb#f"}},
		"custom no dot":  {"redirect_uris": []string{"myapp://cb"}},
		"several, 1 bad": {"redirect_uris": []string{"https://x.example/cb", "http://evil.example/cb"}},
	} {
		if status, m, _ := adminCall(t, "PATCH", "/applinks/links/"+id, body); status != http.StatusBadRequest || m["error"] == nil {
			t.Errorf("%s: %d %v", name, status, m)
		}
	}
	if status, m, _ := adminCall(t, "GET", "/applinks/links/"+id, nil); status != 200 || m["scope"] != "READ" || m["name"] != "ci" || !slices.Equal(strs(m["redirect_uris"]), []string{cb2}) {
		t.Fatalf("refused edits changed the link: %d %v", status, m)
	}

	if status, m, _ := adminCall(t, "PATCH", "/applinks/links/"+idOf(t, "app"), map[string]any{"scope": "READ"}); status != http.StatusConflict || m["error"] == nil {
		t.Fatalf("editing a config link: %d %v", status, m)
	}
	if status, m, _ := adminCall(t, "GET", "/applinks/links/"+idOf(t, "app"), nil); m["scope"] != "WRITE" {
		t.Fatalf("the config link after a refused edit: %d %v", status, m)
	}
	if status, _, _ := adminCall(t, "PATCH", "/applinks/links/nope", map[string]any{"scope": "READ"}); status != http.StatusNotFound {
		t.Fatalf("editing an unknown link: %d", status)
	}
}

// TestAdminAPIEditOutgoing: a runtime outgoing link's client id, secret,
// scopes and mode are edited through the admin API, fields left out and
// an empty secret stay, and the next use sees the change; declared links
// are read-only; bad input is refused.
func TestAdminAPIEditOutgoing(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraGlobal: `outgoing declared {
			provider google
			client_id d
			client_secret ds
		}`})
	good := map[string]any{"name": "drive", "provider": map[string]any{"provider": "google"}, "client_id": "c", "client_secret": "s", "scopes": []string{"a"}, "mode": "shared"}
	if status, m, _ := adminCall(t, "POST", "/applinks/outgoing", good); status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, m)
	}

	status, m, _ := adminCall(t, "PATCH", "/applinks/outgoing/drive", map[string]any{"client_id": "c2", "scopes": []string{"b", "c"}})
	if status != http.StatusOK || m["name"] != "drive" || m["client_id"] != "c2" || m["mode"] != "shared" || !slices.Equal(strs(m["scopes"]), []string{"b", "c"}) ||
		m["redirect_uri_path"] != "/applinks/callback/drive" || m["client_secret"] != nil {
		t.Fatalf("edit: %d %v", status, m)
	}
	l, err := g.app().Outgoing().Link(t.Context(), "drive")
	if err != nil || l.ClientID != "c2" || l.ClientSecret != "s" || l.Mode != "shared" {
		t.Fatalf("the edited link in use: %+v %v", l, err)
	}

	status, m, _ = adminCall(t, "PATCH", "/applinks/outgoing/drive", map[string]any{"client_secret": "s2", "mode": "per_user"})
	if status != http.StatusOK || m["client_id"] != "c2" || m["mode"] != "per_user" || !slices.Equal(strs(m["scopes"]), []string{"b", "c"}) {
		t.Fatalf("edit the secret and mode: %d %v", status, m)
	}
	if l, err = g.app().Outgoing().Link(t.Context(), "drive"); err != nil || l.ClientSecret != "s2" || l.Mode != "per_user" {
		t.Fatalf("the link after a new secret: mode %q, %v", l.Mode, err)
	}
	_, _, list := adminCall(t, "GET", "/applinks/outgoing", nil)
	if len(list) != 2 || list[1].(map[string]any)["client_id"] != "c2" || list[1].(map[string]any)["mode"] != "per_user" {
		t.Fatalf("list after edits: %v", list)
	}

	for name, body := range map[string]map[string]any{
		"bad mode":      {"mode": "everyone"},
		"unknown field": {"provider": map[string]any{"provider": "microsoft"}},
		"scopes string": {"scopes": "b c"},
	} {
		if status, m, _ := adminCall(t, "PATCH", "/applinks/outgoing/drive", body); status != http.StatusBadRequest || m["error"] == nil {
			t.Errorf("%s: %d %v", name, status, m)
		}
	}
	if l, err = g.app().Outgoing().Link(t.Context(), "drive"); err != nil || l.ClientID != "c2" || l.Mode != "per_user" {
		t.Fatalf("refused edits changed the link: %+v %v", l, err)
	}
	if status, m, _ := adminCall(t, "PATCH", "/applinks/outgoing/declared", map[string]any{"client_id": "x"}); status != http.StatusConflict || m["error"] == nil {
		t.Fatalf("editing a declared link: %d %v", status, m)
	}
	if status, _, _ := adminCall(t, "PATCH", "/applinks/outgoing/nope", map[string]any{"client_id": "x"}); status != http.StatusNotFound {
		t.Fatalf("editing an unknown link: %d", status)
	}
	if status, _, _ := adminCall(t, "PUT", "/applinks/outgoing/drive", map[string]any{"client_id": "x"}); status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", status)
	}
}
