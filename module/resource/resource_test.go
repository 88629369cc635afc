package resource

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, url, metadata string
		bad               bool
	}{
		{in: "/mcp", url: "https://gw.example/mcp", metadata: "https://gw.example/.well-known/oauth-protected-resource/mcp"},
		{in: "/a/b", url: "https://gw.example/a/b", metadata: "https://gw.example/.well-known/oauth-protected-resource/a/b"},
		{in: "https://API.example:8443/mcp", url: "https://api.example:8443/mcp", metadata: "https://api.example:8443/.well-known/oauth-protected-resource/mcp"},
		{in: "http://127.0.0.1:9000", url: "http://127.0.0.1:9000", metadata: "http://127.0.0.1:9000/.well-known/oauth-protected-resource"},
		{in: "mcp", bad: true},
		{in: "//evil.example/mcp", bad: true},
		{in: "/mcp?x=1", bad: true},
		{in: "/mcp#f", bad: true},
		{in: "https://api.example/mcp#f", bad: true},
		{in: "https://api.example/mcp?x", bad: true},
		{in: "ftp://api.example/mcp", bad: true},
		{in: "https://user@api.example/mcp", bad: true},
	} {
		r, err := Parse(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", tc.in, r)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got := r.URL("https://gw.example"); got != tc.url {
			t.Errorf("Parse(%q).URL = %q, want %q", tc.in, got, tc.url)
		}
		if got := r.MetadataURL("https://gw.example"); got != tc.metadata {
			t.Errorf("Parse(%q).MetadataURL = %q, want %q", tc.in, got, tc.metadata)
		}
	}
}

// TestSetProtectsOnlyRegisteredResources: a resource indicator is accepted
// only for a registered resource or the issuer's origin, with scheme and
// host in any case but the path exact.
func TestSetProtectsOnlyRegisteredResources(t *testing.T) {
	var s Set
	for _, v := range []string{"/mcp", "https://api.example/tools"} {
		r, err := Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(r)
		s.Add(r)
	}
	const issuer = "https://gw.example"
	for in, want := range map[string]string{
		"https://gw.example/mcp":    "https://gw.example/mcp",
		"HTTPS://GW.example/mcp":    "https://gw.example/mcp",
		"https://api.example/tools": "https://api.example/tools",
		"https://gw.example":        "https://gw.example",
		"https://gw.example/MCP":    "",
		"https://gw.example/mcp/":   "",
		"https://gw.example/mcp#x":  "",
		"https://gw.example/mcp?x":  "",
		"https://api.example/mcp":   "",
		"https://other.example/mcp": "",
		"/mcp":                      "",
		"":                          "",
	} {
		got, ok := s.Protects(issuer, in)
		if got != want || ok != (want != "") {
			t.Errorf("Protects(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestSetForMetadata(t *testing.T) {
	var s Set
	path, _ := Parse("/mcp")
	api, _ := Parse("https://api.example/mcp")
	s.Add(path)
	s.Add(api)
	for _, tc := range []struct {
		host, path string
		want       Resource
		ok         bool
	}{
		{"gw.example", "/.well-known/oauth-protected-resource/mcp", path, true},
		{"API.example", "/.well-known/oauth-protected-resource/mcp", api, true},
		{"gw.example", "/.well-known/oauth-protected-resource/other", Resource{}, false},
		{"gw.example", "/.well-known/oauth-protected-resource", Resource{}, false},
		{"gw.example", "/mcp", Resource{}, false},
	} {
		got, ok := s.ForMetadata(tc.host, tc.path)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ForMetadata(%q, %q) = %+v, %v; want %+v, %v", tc.host, tc.path, got, ok, tc.want, tc.ok)
		}
	}
}
