package guard

import (
	"encoding/json"
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
