package returnto_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/returnto"
)

// gateway is the origin every accepted target must stay on.
const gateway = "https://gateway.example"

// openRedirects are return targets an attacker puts in a sign-in or
// connect link so that the gateway sends the browser to their host, from
// OWASP's and PortSwigger's open-redirect lists and the ways Go's
// http.Redirect and browsers rewrite a Location.
var openRedirects = []string{
	// Absolute and protocol-relative URLs.
	"https://evil.example/",
	"http://evil.example",
	"HTTPS://evil.example",
	"//evil.example",
	"//evil.example/path",
	"///evil.example",
	"////evil.example",
	"//evil.example@gateway.example",
	"//gateway.example@evil.example",
	"https:evil.example",
	"https:/evil.example",
	"https:\\\\evil.example",
	// Backslashes, which browsers read as slashes.
	"/\\evil.example",
	"\\/evil.example",
	"\\\\evil.example",
	"/\\/evil.example",
	"/./\\evil.example",
	"/../\\evil.example",
	"/a/../\\evil.example",
	"/.\\evil.example",
	"/a\\..\\..\\/evil.example",
	// Dot segments that clean or resolve to //host.
	"/.//evil.example",
	"/..//evil.example/",
	"/x/..//evil.example",
	"/%2e//evil.example",
	"/%2e%2e//evil.example",
	// Encoded slashes, backslashes and control characters, which a
	// handler that decodes the path and redirects turns back into //host.
	"/%2f/evil.example",
	"/%2F%2Fevil.example",
	"/%5cevil.example",
	"/%5C%5Cevil.example",
	"/%2f%2fevil.example",
	"/%09/evil.example",
	"/%0a/evil.example",
	"/%0d%0aSet-Cookie:%20x=y",
	"/%00/evil.example",
	"/%7f/evil.example",
	"/a%2",
	"/a%zz",
	// Control characters and whitespace, which browsers drop.
	"/\t/evil.example",
	"/\n/evil.example",
	"/\r/evil.example",
	"/\r\nLocation: https://evil.example",
	"/a\nSet-Cookie: x=y",
	"/\x00/evil.example",
	"/\x0b/evil.example",
	"/\x0c/evil.example",
	"/\x7f/evil.example",
	" //evil.example",
	"\t//evil.example",
	" /a",
	"/ /evil.example",
	// Schemes that run code or carry content.
	"javascript:alert(1)",
	"JavaScript:alert(1)//",
	"javascript://%0aalert(1)",
	"java\tscript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"vbscript:msgbox(1)",
	"file:///etc/passwd",
	// Hosts without a slash, relative paths, empty.
	"evil.example",
	"@evil.example",
	"a/b",
	"./a",
	"../a",
	"?a=b",
	"#a",
	"",
	// Too long to carry in a sign-in cookie.
	"/" + strings.Repeat("a", returnto.MaxLength),
	"/" + strings.Repeat("\u00e9", returnto.MaxLength/4),
}

// TestReturnTargetRefusesOpenRedirects: a sign-in, OIDC or connect link
// whose return_to names another host (or hides one behind backslashes, dot
// segments, encodings or control characters) is refused, so the gateway
// never redirects there.
func TestReturnTargetRefusesOpenRedirects(t *testing.T) {
	for _, raw := range openRedirects {
		t.Run(raw, func(t *testing.T) {
			if got := returnto.Path(raw); got != "" {
				t.Fatalf("Path(%q) = %q, want it refused", raw, got)
			}
		})
	}
}

// TestReturnTargetKeepsLocalPaths: paths of this site, with their queries,
// are kept, in the canonical form that goes into Location.
func TestReturnTargetKeepsLocalPaths(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/a", "/a"},
		{"/a/", "/a/"},
		{"/a?b", "/a?b"},
		{"/a?", "/a"},
		{"/hello?x=1", "/hello?x=1"},
		{"/wiki/spaces/X?a=1&b=%2F", "/wiki/spaces/X?a=1&b=%2F"},
		{"/rest/oauth2/latest/authorize?response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=x%2By", "/rest/oauth2/latest/authorize?response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=x%2By"},
		{"/a?next=//evil.example", "/a?next=//evil.example"},
		{"/a?b=\\c", "/a?b=%5Cc"},
		{"/a/b#frag", "/a/b"},
		{"/a//b", "/a/b"},
		{"/a/./b/../c", "/a/c"},
		{"/..", "/"},
		{"/../a", "/a"},
		{"/a/%2e%2e/b", "/b"},
		{"/%7Euser/%41", "/~user/A"},
		{"/a%20b", "/a%20b"},
		{"/a%3fb?c", "/a%3Fb?c"},
		{"/@evil.example", "/@evil.example"},
		{"/evil.example", "/evil.example"},
		{"/caf\u00e9?q=\u00e9", "/caf%C3%A9?q=%C3%A9"},
		{"/\uff0f\uff0fevil.example", "/%EF%BC%8F%EF%BC%8Fevil.example"},
		{"/a\"<b>", "/a%22%3Cb%3E"},
		{"/a?b=%zz&c=50%", "/a?b=%25zz&c=50%25"},
		{"/applinks/account", "/applinks/account"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := returnto.Path(tt.in); got != tt.want {
				t.Fatalf("Path(%q) = %q, want %q", tt.in, got, tt.want)
			}
			checkStaysOnGateway(t, tt.in, tt.want)
		})
	}
}

// TestRedirectWritesTheJudgedTarget: Redirect writes exactly the accepted
// target into Location, and the fallback for a refused one.
func TestRedirectWritesTheJudgedTarget(t *testing.T) {
	for in, want := range map[string]string{"/a/./b?x=1": "/a/b?x=1", "/./\\evil.example": "/", "": "/"} {
		w := httptest.NewRecorder()
		returnto.Redirect(w, in)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("Redirect(%q): %d %q, want 303 %q", in, w.Code, w.Header().Get("Location"), want)
		}
	}
}

// FuzzReturnTarget: whatever Path accepts stays on the gateway's origin,
// whether resolved by net/url, written by http.Redirect or read by a
// browser, and is its own canonical form.
func FuzzReturnTarget(f *testing.F) {
	for _, s := range openRedirects {
		f.Add(s)
	}
	f.Add("/hello?x=1")
	f.Add("/a/./b/../c?d=%2F#e")
	f.Fuzz(func(t *testing.T, raw string) {
		got := returnto.Path(raw)
		if got == "" {
			return
		}
		checkStaysOnGateway(t, raw, got)
	})
}

// checkStaysOnGateway fails unless target, accepted for raw, stays on the
// gateway however it is read.
func checkStaysOnGateway(t *testing.T, raw, target string) {
	t.Helper()
	if again := returnto.Path(target); again != target {
		t.Fatalf("Path(%q) = %q, but Path(%q) = %q: not canonical", raw, target, target, again)
	}
	// As a browser reads it: tabs and newlines are dropped, \ is /, and
	// only a second / or \ reaches for another host.
	if len(target) < 1 || target[0] != '/' || (len(target) > 1 && (target[1] == '/' || target[1] == '\\')) {
		t.Fatalf("Path(%q) = %q: not an absolute path on this host", raw, target)
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			t.Fatalf("Path(%q) = %q: byte %#x a browser may rewrite", raw, target, c)
		}
	}
	base, _ := url.Parse(gateway + "/applinks/login")
	resolve := func(loc string) {
		t.Helper()
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("Location %q for %q does not parse: %v", loc, raw, err)
		}
		if r := base.ResolveReference(u); r.Scheme+"://"+r.Host != gateway || r.User != nil {
			t.Fatalf("Location %q for %q resolves to %s, off %s", loc, raw, r, gateway)
		}
	}
	resolve(target)
	// As http.Redirect would write it: its path cleaning leaves the
	// canonical form unchanged.
	w := httptest.NewRecorder()
	http.Redirect(w, httptest.NewRequest(http.MethodGet, gateway+"/applinks/login", nil), target, http.StatusSeeOther)
	if loc := w.Header().Get("Location"); loc != target {
		t.Fatalf("http.Redirect writes %q for %q, not the judged %q", loc, raw, target)
	}
	w = httptest.NewRecorder()
	returnto.Redirect(w, raw)
	if loc := w.Header().Get("Location"); loc != target {
		t.Fatalf("Redirect writes %q for %q, not the judged %q", loc, raw, target)
	}
	resolve(w.Header().Get("Location"))
}
