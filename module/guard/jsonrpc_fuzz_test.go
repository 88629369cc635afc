package guard

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzScanRPCAgreesWithEncodingJSON: for every body encoding/json takes
// as one JSON-RPC message, the guard reads the method and tool name that
// encoding/json decodes (case-insensitive names, escapes, last duplicate
// winning), or refuses the body; it never judges a method the upstream
// would not run.
func FuzzScanRPCAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}`,
		`{"METHOD":"tools/call","Params":{"NAME":"x"}}`,
		`{"method":"tools/list","method":"tools/call"}`,
		`{"\u006dethod":"ping","params":[1,{"a":"}"}]}`,
		`[{"method":"ping"},{"id":1,"result":{}}]`,
		`{"params":{"name":"a","arguments":{"name":"b"}},"method":"tools/call"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got []rpcMessage
		err := scanRPC(body, func(m rpcMessage) { got = append(got, m) })
		var want struct {
			Method *string `json:"method"`
			Params *struct {
				Name *string `json:"name"`
			} `json:"params"`
		}
		if json.Unmarshal(body, &want) != nil {
			return // not one message that decodes so; the upstream refuses it or it is a batch
		}
		if err != nil {
			return // refusing is always safe
		}
		if len(got) != 1 {
			t.Fatalf("%q: %d messages", body, len(got))
		}
		m := got[0]
		if (want.Method != nil) != m.hasMethod || want.Method != nil && *want.Method != string(m.method) {
			t.Fatalf("%q: method %q (present %v), encoding/json reads %v", body, m.method, m.hasMethod, want.Method)
		}
		if string(m.method) == "tools/call" && want.Params != nil && want.Params.Name != nil && *want.Params.Name != string(m.tool) {
			t.Fatalf("%q: tool %q, encoding/json reads %q", body, m.tool, *want.Params.Name)
		}
	})
}

// FuzzScanRPCChecksStructure: the guard takes no body whose strings do not
// close or whose brackets do not nest, and never calls JSON a parse error
// unless it nests deeper than maxRPCDepth.
func FuzzScanRPCChecksStructure(f *testing.F) {
	for _, s := range structureSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := scanRPC(body, func(rpcMessage) {})
		ok, depth := nests(body)
		if err == nil && !ok {
			t.Fatalf("%q: taken, but its strings or brackets do not nest", body)
		}
		if errors.Is(err, errRPCParse) && depth <= maxRPCDepth && json.Valid(body) {
			t.Fatalf("%q: JSON, refused as not JSON", body)
		}
	})
}

// FuzzValueEndAgreesWithAByteReader: however the blocks that valueEnd
// reads cut escapes, strings and brackets, it finds the end of a value
// where a reader of one byte at a time does, or refuses what that reader
// refuses; it may also refuse a backslash outside strings after the end.
func FuzzValueEndAgreesWithAByteReader(f *testing.F) {
	for _, s := range structureSeeds {
		f.Add([]byte(s[len(`{"method":"ping","params":`):]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' && b[0] != '[' && b[0] != '{' {
			return
		}
		want, backslashAfter := byteValueEnd(b)
		if got := valueEnd(b, 0); got != want && (got != -1 || !backslashAfter) {
			t.Fatalf("%q: valueEnd %d, read byte by byte %d", b, got, want)
		}
	})
}

var structureSeeds = []string{
	`{"method":"ping","params":{"name":"x","arguments":{"a":["\\\"",{"b":"\"}"}]}}}`,
	`{"method":"ping","params":["` + strings.Repeat(`\"`, 40) + `",{"x":[[]]}]}`,
	`{"method":"ping","params":{"s":"` + strings.Repeat("a", 100) + `\\\"` + strings.Repeat("]", 70) + `"}}`,
	`{"method":"ping","params":` + strings.Repeat("[{\"k\":", 70) + `1` + strings.Repeat("}]", 70) + `}`,
	`{"method":"ping","params":[1,\"a"]}`,
	`{"method":"ping","params":{"a":[}]}}`,
	`{"method":"ping","params":"` + strings.Repeat("\\", 33) + `"}`,
}

// nests reports whether the strings of body close and its brackets nest,
// and the deepest nesting.
func nests(body []byte) (ok bool, depth int) {
	var open []byte
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '"':
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
			if i >= len(body) {
				return false, depth
			}
		case '{', '[':
			open = append(open, c+2) // '{'+2 is '}', '['+2 is ']'
			depth = max(depth, len(open))
		case '}', ']':
			if len(open) == 0 || open[len(open)-1] != c {
				return false, depth
			}
			open = open[:len(open)-1]
		}
	}
	return len(open) == 0, depth
}

// byteValueEnd is valueEnd(b, 0) read one byte at a time, and whether a
// backslash outside strings comes after the end.
func byteValueEnd(b []byte) (end int, backslashAfter bool) {
	var open []byte
	end = -1
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return end, false
			}
			if end < 0 && len(open) == 0 {
				end = i + 1
			}
		case c == '\\':
			return end, end >= 0
		case end >= 0:
		case c == '{' || c == '[':
			if len(open) == maxRPCDepth {
				return -1, false
			}
			open = append(open, c+2)
		case c == '}' || c == ']':
			if open[len(open)-1] != c {
				return -1, false
			}
			if open = open[:len(open)-1]; len(open) == 0 {
				end = i + 1
			}
		}
	}
	return end, false
}
