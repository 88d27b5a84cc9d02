package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/svctrace/kubectl-svc-trace/pkg/rules/result"
	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

// addDataplane adds the traced path to the service tree: the query, then
// per inspected node and port the rules walked (with the branch shares),
// the endpoints with probability, masquerade and route, and the node's
// findings.
func addDataplane(root *node, t *trace.ServiceTrace, s style) {
	if t.Query == nil {
		return
	}
	q := t.Query
	from := q.From.Kind
	if q.From.Name != "" {
		from += "/" + esc(q.From.Name)
	}
	head := root.add(s.bold(fmt.Sprintf("Path from %s (%s)", from, esc(q.From.IP))) + " via " + viaLabel(q.Via))
	for _, nr := range t.Nodes {
		mode := nr.ProxyMode
		if mode == "" {
			mode = "unknown mode"
		}
		title := fmt.Sprintf("node %s · port %s · kube-proxy %s", esc(nr.Name), esc(nr.Port), esc(mode))
		if nr.IPTablesBackend != "" {
			title += fmt.Sprintf(" · iptables %s backend (%s)", esc(nr.IPTablesBackend), esc(nr.BackendReason))
		}
		if nr.Verdict != "" {
			title += " · " + verdictStyle(s, nr.Verdict)
		}
		n := head.add(s.bold(title))
		if nr.Packet.Dst != "" {
			n.add(fmt.Sprintf("packet %s → %s, %s hook", esc(nr.Packet.Src), hostPort(nr.Packet.Dst, nr.Packet.DstPort)+"/"+strings.ToUpper(nr.Packet.Proto), esc(nr.Packet.Hook)))
		}
		if nr.Path != nil {
			rulesNode := n.add("rules " + s.dim("(kube-proxy's chains; `kubectl svc-trace eval` shows every rule)"))
			addBriefPath(rulesNode, nr.Path, s)
		}
		if len(nr.Endpoints) > 0 {
			var rows [][]string
			for _, e := range nr.Endpoints {
				share := e.Fraction
				if e.Sticky {
					share += " (+sticky)"
				}
				who := s.dim("(not in the API)")
				if e.InAPI {
					who = "pod/" + esc(orNone(e.Pod)) + " " + e.State
				}
				masq := "source kept"
				if e.Masquerade {
					masq = s.yellow("masqueraded")
				}
				route := ""
				if e.Route != nil {
					route = "via " + esc(e.Route.Dev)
					if e.Route.Via != "" {
						route += " gw " + esc(e.Route.Via)
					}
				}
				rows = append(rows, []string{hostPort(e.IP, e.Port), s.cyan(share), who, masq, route})
			}
			en := n.add("endpoints")
			for _, l := range columns(rows) {
				en.add(l)
			}
		}
		for _, w := range nr.Warnings {
			n.add(s.yellow("warning: ") + esc(w))
		}
	}
}

// addBriefPath is addPathNode for the trace: only the steps that explain
// the Service's path (kube-proxy's nat chains and every DNAT, REJECT, DROP
// or masquerade), without the raw rule text.
func addBriefPath(parent *node, p *result.PathNode, s style) { addPath(parent, p, s, briefStep) }

func briefStep(st result.Step) bool {
	a := strings.ToUpper(st.Action)
	for _, k := range []string{"DNAT", "REJECT", "DROP", "MASQUERADE", "SNAT"} {
		if strings.Contains(a, k) {
			return true
		}
	}
	if strings.HasSuffix(st.Table, " kube-proxy") {
		// nftables mode: kube-proxy's own table, minus the masquerading
		// bookkeeping.
		return st.Chain != "masquerading" && st.Chain != "nat-postrouting"
	}
	return st.Table == "nat" && strings.HasPrefix(st.Chain, "KUBE-") && st.Chain != "KUBE-POSTROUTING" && st.Chain != "KUBE-MARK-MASQ"
}

func viaLabel(via string) string {
	switch via {
	case trace.ViaNodePort:
		return "NodePort"
	case trace.ViaLoadBalancer:
		return "LoadBalancer"
	case trace.ViaExternalIP:
		return "externalIP"
	}
	return "ClusterIP"
}

// nodesWide is the per-node table of -o wide.
func nodesWide(w io.Writer, t *trace.ServiceTrace, s style) error {
	if len(t.Nodes) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	var rows [][]string
	for _, nr := range t.Nodes {
		var eps []string
		for _, e := range nr.Endpoints {
			eps = append(eps, hostPort(e.IP, e.Port)+"="+e.Fraction)
		}
		masq := "no"
		if nr.Masquerade {
			masq = "yes"
		}
		problems := 0
		for _, f := range nr.Findings {
			if f.Severity != trace.SeverityInfo {
				problems++
			}
		}
		rows = append(rows, []string{esc(nr.Name), esc(nr.Port), orNone(nr.ProxyMode), orNone(nr.IPTablesBackend), verdictStyle(s, nr.Verdict), masq, orNone(strings.Join(eps, ",")), fmt.Sprint(problems)})
	}
	return renderTable(w, []string{"NODE", "PORT", "MODE", "BACKEND", "VERDICT", "MASQ", "ENDPOINTS", "DRIFT"}, rows)
}
