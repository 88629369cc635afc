// Command server is the MCP server of examples/mcp: a small notebook with
// a tool that reads, one that writes and one that deletes, served over
// streamable HTTP on 127.0.0.1:3000 for the gateway to guard. It trusts
// the X-Forwarded-User header the gateway sets and listens on loopback
// only, so that nothing but the gateway reaches it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:3000", "address to listen on (keep it loopback: the gateway is the way in)")
	flag.Parse()
	nb := &notebook{notes: []string{"Welcome: this note was here first."}}
	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "search_notes", Description: "Find the notes containing a word (needs READ)."}, nb.search)
	mcp.AddTool(server, &mcp.Tool{Name: "add_note", Description: "Add a note (needs WRITE)."}, nb.add)
	mcp.AddTool(server, &mcp.Tool{Name: "delete_notes", Description: "Delete every note (needs ADMIN)."}, nb.deleteAll)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	log.Printf("MCP server on http://%s/mcp", *addr)
	log.Fatal(http.ListenAndServe(*addr, handler))
}

// notebook holds the notes in memory.
type notebook struct {
	mu    sync.Mutex
	notes []string
}

type searchArgs struct {
	Word string `json:"word" jsonschema:"the word to look for; empty lists every note"`
}

type noteArgs struct {
	Text string `json:"text" jsonschema:"the note"`
}

func (nb *notebook) search(_ context.Context, req *mcp.CallToolRequest, in searchArgs) (*mcp.CallToolResult, any, error) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	found := slices.DeleteFunc(slices.Clone(nb.notes), func(n string) bool { return !strings.Contains(strings.ToLower(n), strings.ToLower(in.Word)) })
	return text(fmt.Sprintf("%s asked; %d of %d notes match:\n%s", user(req), len(found), len(nb.notes), strings.Join(found, "\n"))), nil, nil
}

func (nb *notebook) add(_ context.Context, req *mcp.CallToolRequest, in noteArgs) (*mcp.CallToolResult, any, error) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	nb.notes = append(nb.notes, in.Text)
	return text(fmt.Sprintf("note %d added by %s", len(nb.notes), user(req))), nil, nil
}

func (nb *notebook) deleteAll(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	n := len(nb.notes)
	nb.notes = nil
	return text(fmt.Sprintf("%d notes deleted by %s", n, user(req))), nil, nil
}

// user is the name the gateway forwarded for the token's user.
func user(req *mcp.CallToolRequest) string {
	if req.Extra != nil && req.Extra.Header.Get("X-Forwarded-User") != "" {
		return req.Extra.Header.Get("X-Forwarded-User")
	}
	return "someone (not through the gateway)"
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
