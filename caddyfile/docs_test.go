package caddyfile_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// modulePath is the import path of this plugin; modules whose type lives
// under it are the plugin's.
const modulePath = "github.com/applinks/caddy-applinks"

// TestDocumentedCaddyfilesAdapt: a reader who copies a complete Caddyfile
// from the README or docs/ gets one that adapts, without warnings, and is
// `caddy fmt` clean. Syntax blocks (with <placeholders>) and fragments are
// not complete Caddyfiles and are left out.
func TestDocumentedCaddyfilesAdapt(t *testing.T) {
	files, err := filepath.Glob("../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	files = append(files, "../README.md")
	fence := regexp.MustCompile("(?ms)^```caddyfile\n(.*?)^```$")
	site := regexp.MustCompile(`^(\{|\S+[.:]\S* \{)$`)
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range fence.FindAllStringSubmatch(string(data), -1) {
			block := m[1]
			first, _, _ := strings.Cut(block, "\n")
			if strings.Contains(block, "<") || !site.MatchString(first) {
				continue
			}
			found++
			t.Run(filepath.Base(f)+"#"+strconv.Itoa(i), func(t *testing.T) {
				_, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(block), map[string]any{"filename": f})
				if err != nil {
					t.Fatalf("adapting:\n%s\n%v", block, err)
				}
				for _, w := range warnings {
					t.Errorf("warning: %s", w.Message)
				}
				if formatted := string(caddyfile.Format([]byte(block))); formatted != block {
					t.Errorf("not caddy fmt clean:\n%s\nwant:\n%s", block, formatted)
				}
			})
		}
	}
	if found < 5 {
		t.Fatalf("found %d complete Caddyfiles in the docs, want at least 5: is the fence still ```caddyfile?", found)
	}
}

// TestEveryCaddyfileOptionHasAReferenceHeading: an option the parser
// accepts but docs/caddyfile.md does not explain is one nobody can link to
// or look up; every directive and every subdirective of the parser has a
// heading of its own there.
func TestEveryCaddyfileOptionHasAReferenceHeading(t *testing.T) {
	headings := markdownHeadings(t, "../docs/caddyfile.md")
	// The parse functions and the prefix their options' headings carry.
	prefixes := map[string]string{
		"parseAppOption":      "",
		"parseLogin":          "login oidc: ",
		"parseOutgoing":       "outgoing: ",
		"parseIncoming":       "incoming: ",
		"parseOAuth1":         "incoming: oauth1: ",
		"parseOutgoingOAuth1": "outgoing: oauth1: ",
		"parseRequireToken":   "require_token: ",
		"parseMCP":            "require_token: mcp: ",
		"parseOutgoingToken":  "outgoing_token: ",
		"UnmarshalCaddyfile":  "storage: ",
	}
	var want []string
	for _, file := range []string{"caddyfile.go", "oauth1.go", "../module/store/badgerstore/caddyfile.go", "../module/store/pgstore/caddyfile.go"} {
		directives, options := parserWords(t, file)
		want = append(want, directives...)
		for fn, words := range options {
			prefix, ok := prefixes[fn]
			if !ok {
				t.Errorf("%s: %s has options %v but no heading prefix in this test", file, fn, words)
				continue
			}
			for _, w := range words {
				want = append(want, prefix+w)
			}
		}
	}
	if len(want) < 30 {
		t.Fatalf("found only %d options in the parser: %v", len(want), want)
	}
	for _, w := range want {
		if !hasHeading(headings, w) {
			t.Errorf("docs/caddyfile.md has no heading for %q", w)
		}
	}
}

// TestEveryModuleFieldIsInTheJSONReference: a JSON user reads
// docs/json.md; every module of the plugin has its section there, and every
// field of its config (and of the objects inside it) has a row.
func TestEveryModuleFieldIsInTheJSONReference(t *testing.T) {
	sections := markdownSections(t, "../docs/json.md")
	found := 0
	for _, id := range caddy.Modules() {
		info, err := caddy.GetModule(id)
		if err != nil {
			t.Fatal(err)
		}
		typ := reflect.TypeOf(info.New())
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if !strings.HasPrefix(typ.PkgPath(), modulePath) {
			continue
		}
		found++
		section, ok := sections[id]
		if !ok {
			t.Errorf("docs/json.md has no section ## %s", id)
			continue
		}
		for _, field := range jsonFields(typ) {
			if !strings.Contains(section, "| `"+field+"` |") {
				t.Errorf("docs/json.md, ## %s: no row for field %q", id, field)
			}
		}
	}
	if found != 11 {
		t.Errorf("the plugin registers %d modules, docs/json.md lists 11: update its list-modules output", found)
	}
}

// parserWords returns the directives a file registers and, per function,
// the words its switch statements accept.
func parserWords(t *testing.T, file string) (directives []string, options map[string][]string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	options = map[string][]string{}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "RegisterHandlerDirective" {
					directives = append(directives, stringLit(t, n.Args[0]))
				}
			case *ast.CaseClause:
				for _, e := range n.List {
					options[fn.Name.Name] = append(options[fn.Name.Name], stringLit(t, e))
				}
			}
			return true
		})
	}
	return directives, options
}

func stringLit(t *testing.T, e ast.Expr) string {
	t.Helper()
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		t.Fatalf("expected a string literal, got %T", e)
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hasHeading reports whether a heading names the option: exactly, or
// followed by more words ("login oidc", "applinks (directive)").
func hasHeading(headings []string, option string) bool {
	for _, h := range headings {
		if h == option || strings.HasPrefix(h, option+" ") {
			return true
		}
	}
	return false
}

// markdownHeadings returns a file's headings without #, backticks and
// surrounding space, skipping fenced code.
func markdownHeadings(t *testing.T, file string) []string {
	t.Helper()
	var out []string
	for _, l := range markdownLines(t, file) {
		if h, ok := heading(l); ok {
			out = append(out, h)
		}
	}
	return out
}

// markdownSections maps each level-2 heading to its text up to the next
// level-2 heading.
func markdownSections(t *testing.T, file string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var name string
	var b strings.Builder
	flush := func() {
		if name != "" {
			out[name] = b.String()
		}
		b.Reset()
	}
	for _, l := range markdownLines(t, file) {
		if strings.HasPrefix(l, "## ") {
			flush()
			name, _ = heading(l)
			continue
		}
		b.WriteString(l + "\n")
	}
	flush()
	return out
}

// markdownLines returns the lines outside fenced code blocks.
func markdownLines(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inCode := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			out = append(out, l)
		}
	}
	return out
}

func heading(l string) (string, bool) {
	trimmed := strings.TrimLeft(l, "#")
	if trimmed == l || !strings.HasPrefix(trimmed, " ") {
		return "", false
	}
	return strings.TrimSpace(strings.ReplaceAll(trimmed, "`", "")), true
}

// jsonFields returns the JSON names of a config struct's fields, embedded
// structs flattened, and of the structs in its slices.
func jsonFields(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type.Elem())...)
		}
	}
	return out
}
