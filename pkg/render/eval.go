package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/svctrace/kubectl-svc-trace/pkg/rules/result"
)

// EvalFormats are the -o values `eval` accepts.
func EvalFormats() []Format { return []Format{FormatTree, FormatJSON, FormatYAML} }

// Eval writes the result of one packet evaluation in the chosen format.
func Eval(w io.Writer, r *result.Result, o Options) error {
	switch o.Format {
	case FormatJSON:
		return JSON(w, r)
	case FormatYAML:
		return YAML(w, r)
	case FormatTree, "":
		return EvalTree(w, r, o)
	}
	return fmt.Errorf("eval cannot print format %q", o.Format)
}

// EvalTree is the human view of an evaluation: the packet, the verdict, the
// endpoints with their exact probabilities, then the path as a tree — the
// rules every branch shares, one child per choice at each fork (statistic
// load balancing, session affinity) with its probability, each ending in
// its outcome — and the warnings. Every rule line shows table, chain, rule
// number and source line, with the rule's raw text under it.
func EvalTree(w io.Writer, r *result.Result, o Options) error {
	s := style{on: o.Color}
	var b strings.Builder
	q := r.Query
	src := esc(q.Src)
	if q.SrcPort != 0 {
		src = esc(hostPort(q.Src, q.SrcPort))
	}
	where := "prerouting (a packet from a pod or from outside the node)"
	if q.Hook == "output" {
		where = "output (a packet sent by a process on the node)"
	}
	fmt.Fprintf(&b, "%s %s -> %s, entering at %s\n", esc(q.Proto), src, esc(hostPort(q.Dst, q.DstPort)), where)
	if len(q.NodeIPs) > 0 {
		fmt.Fprintf(&b, "node addresses: %s\n", esc(strings.Join(q.NodeIPs, ", ")))
	}
	for _, in := range r.Inputs {
		what := strings.Join(in.Contents, ", ")
		if !in.Used {
			what = s.dim("not used: " + in.Family + " only")
		}
		src := in.Source
		if src == "" {
			src = "-"
		}
		fmt.Fprintf(&b, "rules: %s (%s): %s\n", esc(src), esc(in.Format), esc(what))
	}
	masq := "no"
	if r.Masquerade {
		masq = s.yellow("yes")
	}
	fmt.Fprintf(&b, "verdict: %s   masquerade: %s", verdictStyle(s, r.Verdict), masq)
	if r.Uncertain {
		b.WriteString("   " + s.yellow("(uncertain: some rules could not be evaluated, see warnings)"))
	}
	b.WriteString("\n")
	if len(r.Endpoints) > 0 {
		b.WriteString(s.bold("endpoints") + "\n")
		rows := [][]string{}
		for _, e := range r.Endpoints {
			pct := fmt.Sprintf("%.1f%%", e.Probability*100)
			if e.Fraction == "?" {
				pct = "?" // the scheduler decides by state: no share to give
			}
			row := []string{"  " + esc(hostPort(e.IP, e.Port)), s.cyan(e.Fraction), pct}
			var notes []string
			if e.Choice != "" {
				notes = append(notes, esc(e.Choice))
			}
			if e.Masquerade {
				notes = append(notes, "masqueraded")
			}
			if e.Sticky {
				notes = append(notes, "session affinity")
			}
			if e.Uncertain {
				notes = append(notes, s.yellow("uncertain"))
			}
			row = append(row, esc(e.Chain), esc(e.Label), strings.Join(notes, ", "))
			rows = append(rows, row)
		}
		for _, l := range columns(rows) {
			b.WriteString(l + "\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	root := &node{text: s.bold("path")}
	if r.Path != nil {
		addPathNode(root, r.Path, s)
	}
	if err := writeTree(w, root); err != nil {
		return err
	}
	if len(r.Warnings) > 0 {
		var wb strings.Builder
		wb.WriteString(s.bold("warnings") + "\n")
		for _, x := range r.Warnings {
			wb.WriteString("  " + s.yellow(esc(x.String())) + "\n")
		}
		if _, err := io.WriteString(w, wb.String()); err != nil {
			return err
		}
	}
	return nil
}

func hostPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

func verdictStyle(s style, v result.Verdict) string {
	switch v {
	case result.VerdictDNAT, result.VerdictAccept:
		return s.green(string(v))
	case result.VerdictDrop, result.VerdictReject:
		return s.red(string(v))
	}
	return s.yellow(string(v))
}

// addPathNode adds a path node's steps, then its forks or its outcome, as
// children of parent.
func addPathNode(parent *node, p *result.PathNode, s style) { addPath(parent, p, s, nil) }

// addPath is addPathNode with a step filter: when keep is set, only the
// steps it keeps are shown, without their raw rule text.
func addPath(parent *node, p *result.PathNode, s style, keep func(result.Step) bool) {
	for _, st := range p.Steps {
		switch {
		case keep == nil:
			parent.add(stepText(st, s), s.dim(esc(st.Raw)))
		case keep(st):
			parent.add(stepText(st, s))
		}
	}
	for i := range p.Branches {
		br := &p.Branches[i]
		prob := s.cyan(br.Fraction)
		if br.Sticky {
			prob = s.cyan("sticky")
		}
		child := parent.add(fmt.Sprintf("[%s] %s", prob, esc(br.Condition)))
		addPath(child, &br.Node, s, keep)
	}
	if p.Outcome != nil {
		parent.add(outcomeText(p.Outcome, s))
	}
}

func stepText(st result.Step, s style) string {
	where := esc(st.Table) + " " + esc(st.Chain)
	if st.Rule > 0 {
		where += fmt.Sprintf(" #%d", st.Rule)
	}
	var loc []string
	if st.Source != "" {
		loc = append(loc, esc(st.Source))
	}
	if st.Line > 0 {
		loc = append(loc, fmt.Sprintf("line %d", st.Line))
	}
	text := where
	if len(loc) > 0 {
		text += " (" + strings.Join(loc, " ") + ")"
	}
	text += ": " + s.bold(esc(st.Action))
	if st.Label != "" {
		text += " " + s.dim("["+esc(st.Label)+"]")
	}
	return text
}

func outcomeText(o *result.Outcome, s style) string {
	var b strings.Builder
	b.WriteString("=> ")
	b.WriteString(verdictStyle(s, o.Verdict))
	switch o.Verdict {
	case result.VerdictDNAT:
		b.WriteString(" to " + esc(o.DNAT))
	case result.VerdictNone:
		b.WriteString(" (passes untouched)")
	}
	switch {
	case o.Masquerade && o.SNAT != "" && o.SNAT != "masquerade":
		b.WriteString(", SNAT to " + esc(o.SNAT))
	case o.Masquerade:
		b.WriteString(", " + s.yellow("masqueraded"))
	case o.Verdict == result.VerdictDNAT || o.Verdict == result.VerdictAccept || o.Verdict == result.VerdictNone:
		b.WriteString(", source kept")
	}
	if o.Uncertain {
		b.WriteString(" " + s.yellow("(uncertain)"))
	}
	return b.String()
}
