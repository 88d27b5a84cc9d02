package render

import (
	"io"
	"strings"
)

// node is one line of a tree, with optional continuation lines printed
// under it (indented like its children would be) and children.
type node struct {
	text     string
	more     []string
	children []*node
}

func (n *node) add(text string, more ...string) *node {
	c := &node{text: text, more: more}
	n.children = append(n.children, c)
	return c
}

// writeTree prints a tree with box-drawing branches, as kubectl-tree does.
func writeTree(w io.Writer, root *node) error {
	var b strings.Builder
	b.WriteString(root.text)
	b.WriteByte('\n')
	for _, m := range root.more {
		b.WriteString(m)
		b.WriteByte('\n')
	}
	var walk func(n *node, prefix string)
	walk = func(n *node, prefix string) {
		for i, c := range n.children {
			last := i == len(n.children)-1
			branch, cont := "├── ", "│   "
			if last {
				branch, cont = "└── ", "    "
			}
			b.WriteString(prefix + branch + c.text + "\n")
			childCont := prefix + cont
			for _, m := range c.more {
				pad := "    "
				if len(c.children) > 0 {
					pad = "│   "
				}
				b.WriteString(strings.TrimRight(childCont+pad+m, " ") + "\n")
			}
			walk(c, childCont)
		}
	}
	walk(root, "")
	_, err := io.WriteString(w, b.String())
	return err
}

// columns pads each row's cells to the widest cell of its column (display
// width ignoring ANSI codes), joined by two spaces, without trailing blanks.
func columns(rows [][]string) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if w := displayWidth(c); w > widths[i] {
				widths[i] = w
			}
		}
	}
	out := make([]string, len(rows))
	for ri, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		out[ri] = strings.TrimRight(b.String(), " ")
	}
	return out
}

// displayWidth counts runes outside ANSI escape sequences.
func displayWidth(s string) int {
	n := 0
	inEsc := false
	for _, r := range s {
		switch {
		case inEsc:
			if r == 'm' {
				inEsc = false
			}
		case r == '\x1b':
			inEsc = true
		default:
			n++
		}
	}
	return n
}
