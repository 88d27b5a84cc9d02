// Package render writes every byte the user sees: the human tree, the wide
// table (tablewriter), and the machine formats (JSON, YAML). It depends on
// the trace model and never the reverse.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// Format is an output format, parsed once from -o.
type Format string

const (
	FormatTree Format = "tree"
	FormatWide Format = "wide"
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
	// FormatMermaid and FormatDOT draw the path as a graph.
	FormatMermaid Format = "mermaid"
	FormatDOT     Format = "dot"
	// FormatTable, FormatJUnit and FormatMarkdown are check's formats.
	FormatTable    Format = "table"
	FormatJUnit    Format = "junit"
	FormatMarkdown Format = "markdown"
)

// TraceFormats are the -o values the trace command accepts.
func TraceFormats() []Format {
	return []Format{FormatTree, FormatWide, FormatJSON, FormatYAML, FormatMermaid, FormatDOT}
}

// CheckFormats are the -o values the check command accepts.
func CheckFormats() []Format {
	return []Format{FormatTable, FormatJSON, FormatYAML, FormatJUnit, FormatMarkdown}
}

// ParseFormat validates an -o value against the allowed set.
func ParseFormat(s string, allowed []Format) (Format, error) {
	if s == "" {
		return allowed[0], nil
	}
	var names []string
	for _, f := range allowed {
		if string(f) == s {
			return f, nil
		}
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: %s", s, strings.Join(names, ","))
}

// Options are rendering choices made by the command from flags and the
// terminal: the engine never sees them.
type Options struct {
	Format Format
	// Color enables ANSI colours (only ever for tree/wide on a terminal, or
	// --color=always).
	Color bool
}

// JSON writes v as indented JSON with a trailing newline.
func JSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// YAML writes v as YAML, with the same field names as JSON.
func YAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// esc makes a string from the cluster safe to print on a terminal (no
// escape sequences smuggled in labels, reasons or messages).
func esc(s string) string { return printers.EscapeTerminal(s) }

// style applies ANSI SGR codes when colour is on.
type style struct{ on bool }

func (s style) wrap(code, text string) string {
	if !s.on || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s style) bold(t string) string   { return s.wrap("1", t) }
func (s style) dim(t string) string    { return s.wrap("2", t) }
func (s style) red(t string) string    { return s.wrap("31", t) }
func (s style) green(t string) string  { return s.wrap("32", t) }
func (s style) yellow(t string) string { return s.wrap("33", t) }
func (s style) cyan(t string) string   { return s.wrap("36", t) }

// trimLines removes trailing blanks that table padding leaves, as kubectl's
// own printers never print them.
func trimLines(b []byte) []byte {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, " ")
	}
	return bytes.Join(lines, []byte("\n"))
}
