package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// output prints what a command got: one JSON document with --json, a
// table (or the fields of one record) otherwise. Every text that came
// from the API is made printable first, so a name, a user's provider
// name or a provider's error text cannot send escape sequences to the
// administrator's terminal.
type output struct {
	w    io.Writer
	json bool
}

// document prints v as one indented JSON document.
func (o output) document(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the output: %w", err)
	}
	_, err = fmt.Fprintf(o.w, "%s\n", b)
	return err
}

// table prints rows under headers, aligned; empty cells show "-".
func (o output) table(headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// fields prints one record as "Label:  value" lines.
func (o output) fields(pairs ...[2]string) error {
	tw := tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], cell(p[1]))
	}
	return tw.Flush()
}

// line prints one sentence made printable.
func (o output) line(format string, args ...any) error {
	_, err := fmt.Fprintln(o.w, printable(fmt.Sprintf(format, args...)))
	return err
}

// pem prints a PEM block the gateway made (a public key), as it is,
// after a blank line.
func (o output) pem(block string) error {
	if strings.IndexFunc(block, func(r rune) bool { return r != '\n' && !printableRune(r) }) >= 0 {
		return o.line("%s", block)
	}
	_, err := fmt.Fprint(o.w, "\n"+strings.TrimRight(block, "\n")+"\n")
	return err
}

// cell is s made printable, "-" when empty.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

// printable returns s unchanged when every character in it is graphic,
// and quoted with escapes otherwise: control characters, terminal escape
// sequences, tabs (which would break the table) and bidirectional
// overrides are shown, not obeyed.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !printableRune(r) }) < 0 {
		return s
	}
	return strconv.QuoteToGraphic(s)
}

func printableRune(r rune) bool {
	return r == ' ' || unicode.IsGraphic(r) && r != unicode.ReplacementChar
}

// when shows a time in UTC to the minute; "" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// yes shows a flag as "yes" or "".
func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
