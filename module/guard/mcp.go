package guard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/applinks/caddy-applinks/module/scope"
)

// MaxMCPBody bounds the body of an MCP request the guard reads to judge
// it; a longer one is refused with 413.
const MaxMCPBody = 1 << 20

// MCP makes a guard judge the JSON-RPC messages of the Model Context
// Protocol's streamable HTTP transport instead of HTTP methods: initialize,
// server/discover, ping, notifications, responses to the server's
// requests, tools/list, resources/list, resources/read,
// resources/templates/list, resources/subscribe, resources/unsubscribe,
// subscriptions/listen, prompts/list, prompts/get and completion/complete
// need READ; tools/call needs WRITE, or the ceiling Tools gives the tool;
// any other method needs WRITE. A batch needs what its most demanding
// message needs. GET (the server's event stream) and DELETE (the end of a
// session) need READ.
//
// The body (at most 1 MiB, else 413) is passed upstream unchanged. A body
// that is not JSON, or not a JSON-RPC message or batch, is answered 400
// with a JSON-RPC error (-32700 parse error, -32600 invalid request) and
// id null; so is a message that names its method, params or tool name
// twice, which readers could take differently.
type MCP struct {
	// Tools maps tool names to the scope tools/call of that tool needs:
	// READ for a read-only tool, ADMIN for a dangerous one. Default:
	// WRITE for every tool.
	Tools map[string]string `json:"tools,omitempty"`

	tools map[string]scope.Scope
}

// provision parses the tool ceilings.
func (m *MCP) provision() error {
	m.tools = make(map[string]scope.Scope, len(m.Tools))
	for name, s := range m.Tools {
		if name == "" {
			return errors.New("mcp: a tool needs a name")
		}
		sc, err := scope.Parse(s)
		if err != nil {
			return fmt.Errorf("mcp: tool %q: %w", name, err)
		}
		m.tools[name] = sc
	}
	return nil
}

// isReadMethod reports whether an MCP method only reads.
func isReadMethod(method string) bool {
	switch method {
	case "initialize", "server/discover", "ping", "tools/list",
		"resources/list", "resources/read", "resources/templates/list",
		"resources/subscribe", "resources/unsubscribe", "subscriptions/listen",
		"prompts/list", "prompts/get", "completion/complete":
		return true
	}
	return strings.HasPrefix(method, "notifications/")
}

// rpcError is a JSON-RPC 2.0 error answer that the guard sends itself.
type rpcError struct {
	code   int
	status int
	msg    string
}

func (e *rpcError) Error() string { return e.msg }

// need returns the scope the request needs. It reads a POST's body and
// puts it back for the upstream; an *rpcError or a caddyhttp.HandlerError
// answers a body that cannot be judged.
func (m *MCP) need(r *http.Request) (scope.Scope, error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
		return scope.Read, nil
	case http.MethodPost:
	default:
		return scope.Write, nil
	}
	if r.ContentLength > MaxMCPBody {
		return scope.None, caddyhttp.Error(http.StatusRequestEntityTooLarge, fmt.Errorf("MCP request body of %d bytes exceeds %d", r.ContentLength, MaxMCPBody))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxMCPBody+1))
	if err != nil {
		return scope.None, caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("reading MCP request body: %w", err))
	}
	if len(body) > MaxMCPBody {
		return scope.None, caddyhttp.Error(http.StatusRequestEntityTooLarge, fmt.Errorf("MCP request body exceeds %d bytes", MaxMCPBody))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return m.judge(body)
}

// judge returns the scope a JSON-RPC body needs.
func (m *MCP) judge(body []byte) (scope.Scope, error) {
	need := scope.Read
	err := scanRPC(body, func(msg rpcMessage) {
		need = max(need, m.messageNeed(msg))
	})
	switch {
	case errors.Is(err, errRPCParse):
		return scope.None, &rpcError{code: -32700, status: http.StatusBadRequest, msg: "Parse error: " + err.Error()}
	case err != nil:
		return scope.None, &rpcError{code: -32600, status: http.StatusBadRequest, msg: "Invalid Request: " + err.Error()}
	}
	return need, nil
}

// messageNeed is the scope one message needs.
func (m *MCP) messageNeed(msg rpcMessage) scope.Scope {
	switch method := string(msg.method); {
	case !msg.hasMethod:
		return scope.Read // a response to a request of the server
	case isReadMethod(method):
		return scope.Read
	case method == "tools/call":
		if s, ok := m.tools[string(msg.tool)]; ok {
			return s
		}
		return scope.Write
	}
	return scope.Write
}

// writeRPCError answers a body the guard cannot judge.
func writeRPCError(w http.ResponseWriter, e *rpcError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":%q}}`+"\n", e.code, e.msg)
}
