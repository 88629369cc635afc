package guard

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/scope"
)

func newMCP(t testing.TB, tools map[string]string) *MCP {
	t.Helper()
	m := &MCP{Tools: tools}
	if err := m.provision(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMCPJudgesMessages(t *testing.T) {
	m := newMCP(t, map[string]string{"search": "READ", "delete_repo": "ADMIN"})
	for _, tc := range []struct {
		name, body string
		want       scope.Scope
	}{
		{"initialize", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, scope.Read},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, scope.Read},
		{"discover", `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}`, scope.Read},
		{"subscribe", `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"note://1"}}`, scope.Read},
		{"ping", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, scope.Read},
		{"tools/list", `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, scope.Read},
		{"resources/read", `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///a"}}`, scope.Read},
		{"resources/templates/list", `{"jsonrpc":"2.0","id":3,"method":"resources/templates/list"}`, scope.Read},
		{"prompts/get", `{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"p"}}`, scope.Read},
		{"completion", `{"jsonrpc":"2.0","id":3,"method":"completion/complete"}`, scope.Read},
		{"response to the server", `{"jsonrpc":"2.0","id":7,"result":{"roots":[]}}`, scope.Read},
		{"unlisted tool", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"write_file","arguments":{}}}`, scope.Write},
		{"read-only tool", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"search","arguments":{"q":"x"}}}`, scope.Read},
		{"admin tool", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{"name":"search"},"name":"delete_repo"}}`, scope.Admin},
		{"params before method", `{"params":{"name":"delete_repo"},"id":4,"method":"tools/call","jsonrpc":"2.0"}`, scope.Admin},
		{"params before another method", `{"params":{"name":"delete_repo","name":"p"},"id":4,"method":"prompts/get"}`, scope.Read},
		{"tool name escaped", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"delete\u005frepo"}}`, scope.Admin},
		{"method key escaped", `{"jsonrpc":"2.0","id":4,"\u006dethod":"tools/call","params":{"name":"delete_repo"}}`, scope.Admin},
		{"method key in other case", `{"jsonrpc":"2.0","id":4,"METHOD":"tools/call","Params":{"NAME":"delete_repo"}}`, scope.Admin},
		{"params key with long s", `{"jsonrpc":"2.0","id":4,"method":"tools/call","param` + "\u017f" + `":{"name":"delete_repo"}}`, scope.Admin},
		{"tool without name", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{}}`, scope.Write},
		{"unknown method", `{"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":"debug"}}`, scope.Write},
		{"method in other case is unknown", `{"jsonrpc":"2.0","id":5,"method":"Tools/List"}`, scope.Write},
		{"batch takes the highest", `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_repo"}},{"jsonrpc":"2.0","method":"notifications/cancelled"}]`, scope.Admin},
		{"batch of reads", " [ {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} , {\"id\":2,\"result\":{}} ] \n", scope.Read},
		{"strings that look like structure", `{"jsonrpc":"2.0","id":"}]\"method\":","method":"tools/list","params":{"x":"\\\"}","name":"delete_repo"}}`, scope.Read},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.judge([]byte(tc.body))
			if err != nil || got != tc.want {
				t.Fatalf("judge(%s) = %v, %v; want %v", tc.body, got, err, tc.want)
			}
		})
	}
}

// TestMCPRefusesAmbiguousMessages: a message whose method, params or tool
// name appears twice (in any spelling that encoding/json takes for the
// same field) is refused, so no reader upstream can take the tools/call
// the guard did not judge.
func TestMCPRefusesAmbiguousMessages(t *testing.T) {
	m := newMCP(t, map[string]string{"search": "READ"})
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"x"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"},"params":{"name":"x"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","NAME":"x"}}`,
		`{"jsonrpc":"2.0","id":1,"params":{"name":"search","NAME":"x"},"method":"tools/call"}`,
	} {
		_, err := m.judge([]byte(body))
		var re *rpcError
		if !errors.As(err, &re) || re.code != -32600 || re.status != http.StatusBadRequest {
			t.Errorf("judge(%s) = %v, want a -32600 invalid request", body, err)
		}
	}
}

func TestMCPRefusesMalformedBodies(t *testing.T) {
	m := newMCP(t, nil)
	for body, code := range map[string]int{
		``:                                     -32700,
		`{`:                                    -32700,
		`{"method":"ping"`:                     -32700,
		`{"method":"ping"} {"method":"x"}`:     -32700,
		`{"method":"ping",}`:                   -32700,
		`{"method" "ping"}`:                    -32700,
		`{"method":"ping","params":{"a":[}]}}`: -32700,
		`{"method":"ping","params":"unterminated}`: -32700,
		`{"method":"\u00zz"}`:                      -32700,
		`{"method":"ping","params":[1,\"a"]}`:      -32700,
		`[]`:                                       -32600,
		`[1]`:                                      -32600,
		`"ping"`:                                   -32600,
		`{"method":7}`:                             -32600,
		strings.Repeat("[", 600) + strings.Repeat("]", 600):                      -32700,
		`{"params":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`: -32700,
	} {
		_, err := m.judge([]byte(body))
		var re *rpcError
		if !errors.As(err, &re) || re.code != code {
			t.Errorf("judge(%.40q) = %v, want JSON-RPC error %d", body, err, code)
		}
	}
}

// TestMCPPassesTheBodyOnUnchanged: the upstream reads the very bytes the
// guard judged.
func TestMCPPassesTheBodyOnUnchanged(t *testing.T) {
	m := newMCP(t, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"text":"` + strings.Repeat("é", 1000) + `"}}}`
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	need, err := m.need(r)
	if err != nil || need != scope.Write {
		t.Fatalf("need = %v, %v", need, err)
	}
	got, _ := io.ReadAll(r.Body)
	if string(got) != body {
		t.Fatal("the body changed")
	}
}

func TestMCPMethodsAndBounds(t *testing.T) {
	m := newMCP(t, nil)
	for method, want := range map[string]scope.Scope{
		http.MethodGet: scope.Read, http.MethodDelete: scope.Read, http.MethodOptions: scope.Read,
		http.MethodPut: scope.Write, http.MethodPatch: scope.Write,
	} {
		if got, err := m.need(httptest.NewRequest(method, "/mcp", nil)); err != nil || got != want {
			t.Errorf("%s needs %v, %v; want %v", method, got, err, want)
		}
	}
	big := `{"method":"ping","params":{"x":"` + strings.Repeat("a", MaxMCPBody) + `"}}`
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(big))
	_, err := m.need(r)
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) || he.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the bound: %v, want 413", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(big))
	r.ContentLength = -1 // chunked: the bound holds without a length
	if _, err := m.need(r); !errors.As(err, &he) || he.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a chunked body over the bound: %v, want 413", err)
	}
}

func TestMCPToolCeilingsAreChecked(t *testing.T) {
	for _, tools := range []map[string]string{{"x": "read"}, {"": "READ"}} {
		if err := (&MCP{Tools: tools}).provision(); err == nil {
			t.Errorf("tools %v accepted", tools)
		}
	}
}

// rpcBodies are MCP bodies of about n bytes: a tool call whose argument
// is one long string (a file's content) of plain text or quoting often,
// one whose arguments are many small values, the same with params before
// the method, and one whose arguments are nothing but brackets.
func rpcBodies(n int) map[string][]byte {
	plain := strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing\\n", n/52)
	text := strings.Repeat("lorem ipsum \\\"dolor\\\" sit amet, ", n/32)
	var many strings.Builder
	for many.Len() < n {
		many.WriteString(`{"k":"v","n":12345,"ok":true},`)
	}
	return map[string][]byte{
		"text":     []byte(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"a.txt","content":"` + plain + `"}}}`),
		"quoted":   []byte(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"a.txt","content":"` + text + `"}}}`),
		"values":   []byte(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"write_file","arguments":{"rows":[` + many.String() + `{}]}}}`),
		"late":     []byte(`{"jsonrpc":"2.0","id":9,"params":{"name":"write_file","arguments":{"rows":[` + many.String() + `{}]}},"method":"tools/call"}`),
		"brackets": []byte(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"write_file","arguments":{"rows":[` + strings.Repeat(`[],`, n/3) + `[]]}}}`),
	}
}

func BenchmarkMCPJudge(b *testing.B) {
	m := newMCP(b, map[string]string{"search": "READ"})
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10} {
		for kind, body := range rpcBodies(size) {
			b.Run(kind+"/"+strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if s, err := m.judge(body); err != nil || s != scope.Write {
						b.Fatal(s, err)
					}
				}
			})
		}
	}
}

// TestMCPEscapesAtEveryOffset: an escape anywhere in a skipped string,
// also where it straddles the words and blocks the scan reads, or follows
// a run without quotes long enough to be jumped over, neither ends the
// string early nor lets structure hidden in it count.
func TestMCPEscapesAtEveryOffset(t *testing.T) {
	m := newMCP(t, map[string]string{"delete_repo": "ADMIN"})
	escapes := []string{`\"`, `\\`, `\\\"`, `\\\\`, `\u0022`, `\"},\"method\":\"tools/list`, `\\\"],\"x\":[\"`}
	for n := range 140 {
		for _, esc := range escapes {
			v := strings.Repeat("a", n) + esc + strings.Repeat("b", n%9)
			for _, body := range []string{
				`{"params":{"arguments":{"v":"` + v + `"},"name":"delete_repo"},"method":"tools/call"}`,
				`{"params":{"arguments":["` + v + `",{"v":["` + v + `"]}],"name":"delete_repo"},"method":"tools/call"}`,
				`{"method":"tools/call","params":{"arguments":"` + v + `","name":"delete_repo"}}`,
				`{"method":"tools/call","params":{"name":"delete_repo","x":"` + v + `"}}`,
			} {
				if !json.Valid([]byte(body)) {
					t.Fatalf("test body %s is not JSON", body)
				}
				got, err := m.judge([]byte(body))
				if err != nil || got != scope.Admin {
					t.Fatalf("%s: %v, %v; want ADMIN", body, got, err)
				}
			}
		}
	}
}

// TestMCPChecksNestingAtEveryDepth: skipped values nest up to
// maxRPCDepth containers, also across the 64 levels the scan keeps in one
// word; a container closed by the other kind of bracket, at any depth, and
// a string left open are parse errors.
func TestMCPChecksNestingAtEveryDepth(t *testing.T) {
	m := newMCP(t, nil)
	// nested returns params of d containers, arrays and objects by turns,
	// around a string; the container at depth wrong closes with the other
	// bracket.
	nested := func(d, wrong int, inner string) []byte {
		var b strings.Builder
		b.WriteString(`{"method":"ping","params":`)
		for i := range d {
			b.WriteString([]string{`[`, `{"k":`}[i%2])
		}
		b.WriteString(inner)
		for i := d - 1; i >= 0; i-- {
			kind := i % 2
			if i == wrong {
				kind = 1 - kind
			}
			b.WriteString([]string{`]`, `}`}[kind])
		}
		b.WriteString(`}`)
		return []byte(b.String())
	}
	for _, d := range []int{1, 2, 63, 64, 65, 66, 127, 128, 129, 200, 511, maxRPCDepth} {
		body := nested(d, -1, `"x"`)
		if !json.Valid(body) {
			t.Fatalf("depth %d: test body %.80s is not JSON", d, body)
		}
		if got, err := m.judge(body); err != nil || got != scope.Read {
			t.Errorf("depth %d: %v, %v; want READ", d, got, err)
		}
		for _, wrong := range []int{0, d / 2, d - 1, d - 64, 63, 64} {
			if wrong < 0 || wrong >= d {
				continue
			}
			var re *rpcError
			if _, err := m.judge(nested(d, wrong, `"x"`)); !errors.As(err, &re) || re.code != -32700 {
				t.Errorf("depth %d, wrong bracket at %d: %v, want a parse error", d, wrong, err)
			}
		}
		var re *rpcError
		if _, err := m.judge(nested(d, -1, `"x`)); !errors.As(err, &re) || re.code != -32700 {
			t.Errorf("depth %d, string left open: %v, want a parse error", d, err)
		}
	}
	var re *rpcError
	if _, err := m.judge(nested(maxRPCDepth+1, -1, `"x"`)); !errors.As(err, &re) || re.code != -32700 {
		t.Errorf("depth %d: %v, want a parse error", maxRPCDepth+1, err)
	}
}
