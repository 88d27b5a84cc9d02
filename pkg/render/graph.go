package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

// graph is the path of a trace as nodes and edges, drawn by Mermaid and DOT
// alike: client → Service (per address kind) → port → endpoints → pods.
type graph struct {
	nodes []gnode
	edges []gedge
}

type gnode struct {
	id, label, class string
	round            bool
}

type gedge struct{ from, to, label string }

func (g *graph) node(id, label, class string) string {
	g.nodes = append(g.nodes, gnode{id: id, label: label, class: class})
	return id
}

func buildGraph(t *trace.ServiceTrace) *graph {
	g := &graph{}
	svc := t.Service
	g.nodes = append(g.nodes, gnode{id: "client", label: "client", class: "client", round: true})
	title := fmt.Sprintf("Service %s/%s\n%s", svc.Namespace, svc.Name, svc.Type)
	switch {
	case svc.Type == "ExternalName":
		s := g.node("svc", title+"\nCNAME "+svc.ExternalName, "svc")
		g.edges = append(g.edges, gedge{"client", s, "DNS"})
		g.node("ext", svc.ExternalName, "ext")
		g.edges = append(g.edges, gedge{s, "ext", "CNAME"})
		return g
	case svc.Headless:
		title += "\nheadless (DNS → pod IPs)"
	default:
		title += "\n" + strings.Join(svc.ClusterIPs, ", ")
	}
	s := g.node("svc", title, "svc")
	g.edges = append(g.edges, gedge{"client", s, ""})
	for pi, pt := range t.Ports {
		pid := fmt.Sprintf("port%d", pi)
		label := fmt.Sprintf("%d/%s → %s", pt.Port, pt.Protocol, pt.TargetPort)
		if pt.Name != "" {
			label = pt.Name + " " + label
		}
		if pt.NodePort != 0 {
			label += fmt.Sprintf("\nnodePort %d", pt.NodePort)
		}
		g.node(pid, label, "port")
		g.edges = append(g.edges, gedge{s, pid, ""})
		n := 0
		for _, ep := range t.Endpoints {
			if ep.PortName != pt.Name || ep.Protocol != pt.Protocol {
				continue
			}
			eid := fmt.Sprintf("ep%d_%d", pi, n)
			n++
			l := hostPortPlain(ep.IP, ep.Port) + "\n" + string(ep.State)
			if ep.Pod != "" {
				l += "\npod/" + ep.Pod
			}
			if ep.Node != "" {
				l += "\nnode/" + ep.Node
			}
			g.node(eid, l, classOf(ep))
			edge := ""
			if !ep.InUse {
				edge = "not used"
			}
			if f := nodeFraction(t, pt, ep); f != "" {
				edge = f
			}
			g.edges = append(g.edges, gedge{pid, eid, edge})
		}
		if n == 0 {
			eid := fmt.Sprintf("none%d", pi)
			g.node(eid, "no endpoints\n(connections rejected)", "bad")
			g.edges = append(g.edges, gedge{pid, eid, ""})
		}
	}
	return g
}

func classOf(ep trace.Endpoint) string {
	switch ep.State {
	case trace.StateReady:
		return "ready"
	case trace.StateServingTerminating:
		return "terminating"
	}
	return "bad"
}

func hostPortPlain(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

// Mermaid writes the trace as a Mermaid flowchart (renders in GitHub
// Markdown and step summaries).
func Mermaid(w io.Writer, t *trace.ServiceTrace) error {
	g := buildGraph(t)
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range g.nodes {
		open, closeB := "[", "]"
		if n.round {
			open, closeB = "([", "])"
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s:::%s\n", n.id, open, mermaidText(n.label), closeB, n.class)
	}
	for _, e := range g.edges {
		if e.label != "" {
			fmt.Fprintf(&b, "  %s -->|\"%s\"| %s\n", e.from, mermaidText(e.label), e.to)
		} else {
			fmt.Fprintf(&b, "  %s --> %s\n", e.from, e.to)
		}
	}
	b.WriteString("  classDef client fill:#eeeeee,stroke:#616161\n")
	b.WriteString("  classDef svc fill:#e3f2fd,stroke:#1565c0\n")
	b.WriteString("  classDef port fill:#f3e5f5,stroke:#6a1b9a\n")
	b.WriteString("  classDef ext fill:#fff8e1,stroke:#ff8f00\n")
	b.WriteString("  classDef ready fill:#e8f5e9,stroke:#2e7d32\n")
	b.WriteString("  classDef terminating fill:#fff3e0,stroke:#ef6c00\n")
	b.WriteString("  classDef bad fill:#ffebee,stroke:#c62828\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidText escapes a label for a quoted Mermaid node: quotes become
// #quot; and line breaks <br/>.
func mermaidText(s string) string {
	s = strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
	return strings.ReplaceAll(s, "\n", "<br/>")
}

// DOT writes the trace as a Graphviz digraph.
func DOT(w io.Writer, t *trace.ServiceTrace) error {
	g := buildGraph(t)
	colors := map[string]string{"client": "#eeeeee", "svc": "#e3f2fd", "port": "#f3e5f5", "ext": "#fff8e1", "ready": "#e8f5e9", "terminating": "#fff3e0", "bad": "#ffebee"}
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n", t.Service.Namespace+"/"+t.Service.Name)
	for _, n := range g.nodes {
		fmt.Fprintf(&b, "  %s [label=%s, fillcolor=%q];\n", n.id, dotString(n.label), colors[n.class])
	}
	for _, e := range g.edges {
		if e.label != "" {
			fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", e.from, e.to, dotString(e.label))
		} else {
			fmt.Fprintf(&b, "  %s -> %s;\n", e.from, e.to)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func dotString(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
	return `"` + s + `"`
}

// nodeFraction is the endpoint's share on the first inspected node, when
// the trace inspected one ("0" when the node does not send there).
func nodeFraction(t *trace.ServiceTrace, pt trace.PortTrace, ep trace.Endpoint) string {
	for _, nr := range t.Nodes {
		if nr.Verdict == "" || !strings.HasPrefix(nr.Port, portKey(pt)) {
			continue
		}
		for _, ne := range nr.Endpoints {
			if ne.IP == ep.IP && ne.Port == int(ep.Port) {
				return nr.Name + ": " + ne.Fraction
			}
		}
		return nr.Name + ": 0"
	}
	return ""
}

func portKey(pt trace.PortTrace) string {
	l := fmt.Sprintf("%d/%s", pt.Port, pt.Protocol)
	if pt.Name != "" {
		l = pt.Name + ":" + l
	}
	return l
}
