package render

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

// ServiceTrace writes one trace in the chosen format.
func ServiceTrace(w io.Writer, t *trace.ServiceTrace, o Options) error {
	switch o.Format {
	case FormatJSON:
		return JSON(w, t)
	case FormatYAML:
		return YAML(w, t)
	case FormatWide:
		return serviceWide(w, t, style{on: o.Color})
	case FormatMermaid:
		return Mermaid(w, t)
	case FormatDOT:
		return DOT(w, t)
	default:
		return writeTree(w, serviceTree(t, style{on: o.Color}))
	}
}

func serviceTree(t *trace.ServiceTrace, s style) *node {
	svc := t.Service
	root := &node{text: s.bold("Service "+esc(svc.Namespace)+"/"+esc(svc.Name)) + "  " + s.cyan(svc.Type)}
	var info [][]string
	addInfo := func(k, v string) { info = append(info, []string{k, v}) }

	switch {
	case svc.Type == "ExternalName":
		addInfo("ExternalName", esc(svc.ExternalName)+" (DNS CNAME; nothing is proxied)")
	case svc.Headless:
		addInfo("ClusterIP", "None (headless: DNS returns endpoint IPs)")
	default:
		addInfo("ClusterIP", clusterIPs(svc))
	}
	if svc.IPFamilyPolicy != "" && svc.IPFamilyPolicy != "SingleStack" {
		addInfo("IP families", svc.IPFamilyPolicy)
	}
	if len(svc.ExternalIPs) > 0 {
		addInfo("External IPs", esc(strings.Join(svc.ExternalIPs, ", ")))
	}
	if svc.Type == "LoadBalancer" {
		addInfo("LoadBalancer", lbIngress(svc, s))
		if len(svc.LoadBalancerSourceRanges) > 0 {
			addInfo("Source ranges", esc(strings.Join(svc.LoadBalancerSourceRanges, ", ")))
		}
	}
	if svc.Type != "ExternalName" {
		sel := "<none> (endpoints are managed by hand)"
		if len(svc.Selector) > 0 {
			sel = esc(selectorString(svc.Selector)) + fmt.Sprintf("  (%d pods)", len(t.Pods))
		}
		addInfo("Selector", sel)
		aff := svc.SessionAffinity
		if svc.SessionAffinityTimeoutSeconds != nil {
			aff += fmt.Sprintf(" (timeout %ds)", *svc.SessionAffinityTimeoutSeconds)
		}
		addInfo("Session affinity", aff)
		addInfo("Traffic policy", trafficPolicy(svc))
		if svc.PublishNotReadyAddresses {
			addInfo("Publish not-ready", "true (not-ready pods are published as ready)")
		}
		if svc.HealthCheckNodePort != 0 {
			addInfo("Health check", fmt.Sprintf("node port %d", svc.HealthCheckNodePort))
		}
	}
	for _, l := range columns(info) {
		root.add(l)
	}

	if svc.Type != "ExternalName" {
		for _, pt := range t.Ports {
			portNode := root.add(portHeader(pt, s))
			var rows [][]string
			var reasons [][]string
			for _, ep := range t.Endpoints {
				if ep.PortName != pt.Name || ep.Protocol != pt.Protocol {
					continue
				}
				mark, state := stateMark(ep, s)
				where := ""
				if ep.Pod != "" {
					where = "pod/" + esc(ep.Pod)
				} else {
					where = s.dim("(no pod)")
				}
				node := ""
				if ep.Node != "" {
					node = "node/" + esc(ep.Node)
				}
				rows = append(rows, []string{mark + " " + endpointAddr(ep.IP, ep.Port), state, where, node})
				var more []string
				if ep.Reason != "" {
					more = append(more, s.dim(esc(ep.Reason)))
				}
				reasons = append(reasons, more)
			}
			if len(rows) == 0 {
				portNode.add(s.red("no endpoints"))
			}
			for i, l := range columns(rows) {
				portNode.add(l, reasons[i]...)
			}
			var unresolved []string
			for _, tp := range pt.TargetPorts {
				if tp.Error != "" {
					unresolved = append(unresolved, "pod/"+esc(tp.Pod)+": "+esc(tp.Error))
				}
			}
			if len(unresolved) > 0 {
				n := portNode.add(s.yellow("targetPort " + esc(pt.TargetPort) + " unresolved on:"))
				for _, u := range unresolved {
					n.add(u)
				}
			}
		}
		var missing []trace.Pod
		for _, p := range t.Pods {
			if !p.InEndpoints {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			n := root.add(s.yellow("Pods not in any EndpointSlice"))
			for _, p := range missing {
				n.add("pod/"+esc(p.Name)+"  "+esc(p.Phase), s.dim(esc(p.Reason)))
			}
		}
	}

	addDataplane(root, t, s)
	fn := root.add(findingsHeader(t, s))
	for _, f := range t.Findings {
		var more []string
		more = append(more, esc(f.Message))
		if f.Advice != "" {
			more = append(more, s.dim("→ "+esc(f.Advice)))
		}
		fn.add(severityLabel(f.Severity, s)+" "+s.bold(f.Code), more...)
	}
	for _, wmsg := range t.Warnings {
		root.add(s.yellow("warning: ") + esc(wmsg))
	}
	return root
}

func findingsHeader(t *trace.ServiceTrace, s style) string {
	if len(t.Findings) == 0 {
		return "Findings: " + s.green("none")
	}
	counts := map[trace.Severity]int{}
	for _, f := range t.Findings {
		counts[f.Severity]++
	}
	var parts []string
	for _, sev := range []trace.Severity{trace.SeverityError, trace.SeverityWarning, trace.SeverityInfo} {
		if c := counts[sev]; c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, sev))
		}
	}
	return "Findings (" + strings.Join(parts, ", ") + ")"
}

func severityLabel(sev trace.Severity, s style) string {
	switch sev {
	case trace.SeverityError:
		return s.red("✘ error")
	case trace.SeverityWarning:
		return s.yellow("⚠ warning")
	default:
		return s.cyan("ℹ info")
	}
}

func stateMark(ep trace.Endpoint, s style) (string, string) {
	switch ep.State {
	case trace.StateReady:
		return s.green("✔"), s.green(string(ep.State))
	case trace.StateServingTerminating:
		st := string(ep.State)
		if ep.InUse {
			st += " (in use)"
		}
		return s.yellow("◐"), s.yellow(st)
	default:
		return s.red("✘"), s.red(string(ep.State))
	}
}

func portHeader(pt trace.PortTrace, s style) string {
	var b strings.Builder
	b.WriteString("Port ")
	if pt.Name != "" {
		b.WriteString(esc(pt.Name) + " ")
	}
	fmt.Fprintf(&b, "%d/%s → %s", pt.Port, pt.Protocol, esc(pt.TargetPort))
	if _, err := strconv.Atoi(pt.TargetPort); err != nil {
		// A named port: say what it resolves to.
		ports := map[int32]bool{}
		var list []string
		for _, tp := range pt.TargetPorts {
			if tp.Error == "" && !ports[tp.Port] {
				ports[tp.Port] = true
				list = append(list, strconv.Itoa(int(tp.Port)))
			}
		}
		if len(list) > 0 {
			b.WriteString(" (" + strings.Join(list, ", ") + ")")
		}
	}
	if pt.NodePort != 0 {
		fmt.Fprintf(&b, ", nodePort %d", pt.NodePort)
	}
	if pt.AppProtocol != "" {
		b.WriteString(", appProtocol " + esc(pt.AppProtocol))
	}
	var counts []string
	if pt.Ready > 0 {
		counts = append(counts, s.green(fmt.Sprintf("%d ready", pt.Ready)))
	}
	if pt.ServingTerminating > 0 {
		counts = append(counts, s.yellow(fmt.Sprintf("%d serving-terminating", pt.ServingTerminating)))
	}
	if pt.NotReady > 0 {
		counts = append(counts, s.red(fmt.Sprintf("%d not-ready", pt.NotReady)))
	}
	if len(counts) > 0 {
		b.WriteString("  [" + strings.Join(counts, ", ") + "]")
	}
	return s.bold(b.String())
}

func clusterIPs(svc trace.Service) string {
	var parts []string
	for i, ip := range svc.ClusterIPs {
		p := esc(ip)
		if i < len(svc.IPFamilies) {
			p += " (" + svc.IPFamilies[i] + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, ", ")
}

func lbIngress(svc trace.Service, s style) string {
	if len(svc.LoadBalancerIngress) == 0 {
		return s.yellow("<pending>")
	}
	var parts []string
	for _, in := range svc.LoadBalancerIngress {
		p := in.IP
		if p == "" {
			p = in.Hostname
		}
		p = esc(p)
		if in.IPMode != "" {
			p += " (ipMode " + in.IPMode + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

func trafficPolicy(svc trace.Service) string {
	var parts []string
	if svc.ExternalTrafficPolicy != "" {
		parts = append(parts, "external "+svc.ExternalTrafficPolicy)
	}
	itp := svc.InternalTrafficPolicy
	if itp == "" {
		itp = "Cluster"
	}
	parts = append(parts, "internal "+itp)
	if svc.TrafficDistribution != "" {
		parts = append(parts, "distribution "+esc(svc.TrafficDistribution))
	}
	return strings.Join(parts, ", ")
}

func selectorString(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

func endpointAddr(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", esc(ip), port)
	}
	return fmt.Sprintf("%s:%d", esc(ip), port)
}

// newTable is a kubectl-looking table: no borders, left-aligned upper-case
// headers, three spaces between columns, no wrapping.
func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "   ", Overwrite: true}),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
}

// renderTable renders header+rows into w with trailing blanks removed.
func renderTable(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	t := newTable(&buf)
	h := make([]any, len(header))
	for i, v := range header {
		h[i] = v
	}
	t.Header(h...)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := w.Write(trimLines(buf.Bytes()))
	return err
}

// serviceWide is -o wide: the service in one table row, the endpoints in a
// table, and the findings in a table.
func serviceWide(w io.Writer, t *trace.ServiceTrace, s style) error {
	svc := t.Service
	ip := orNone(esc(strings.Join(svc.ClusterIPs, ",")))
	if svc.Headless {
		ip = "None"
	}
	external := "<none>"
	switch {
	case svc.Type == "ExternalName":
		external = esc(svc.ExternalName)
	case svc.Type == "LoadBalancer":
		external = lbIngress(svc, style{})
	case len(svc.ExternalIPs) > 0:
		external = esc(strings.Join(svc.ExternalIPs, ","))
	}
	var ports []string
	for _, p := range svc.Ports {
		x := fmt.Sprintf("%d", p.Port)
		if p.NodePort != 0 {
			x += fmt.Sprintf(":%d", p.NodePort)
		}
		x += "/" + p.Protocol + "→" + esc(p.TargetPort)
		ports = append(ports, x)
	}
	sel := "<none>"
	if len(svc.Selector) > 0 {
		sel = esc(selectorString(svc.Selector))
	}
	if err := renderTable(w, []string{"NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL", "PORT(S)", "SELECTOR", "AFFINITY", "ETP", "ITP"},
		[][]string{{esc(svc.Namespace), esc(svc.Name), svc.Type, ip, external, strings.Join(ports, ","), sel, svc.SessionAffinity, orNone(svc.ExternalTrafficPolicy), orNone(svc.InternalTrafficPolicy)}}); err != nil {
		return err
	}
	if svc.Type != "ExternalName" {
		fmt.Fprintln(w)
		var rows [][]string
		for _, ep := range t.Endpoints {
			_, state := stateMark(ep, s)
			port := strconv.Itoa(int(ep.ServicePort)) + "/" + ep.Protocol
			if ep.PortName != "" {
				port = esc(ep.PortName) + ":" + port
			}
			rows = append(rows, []string{port, endpointAddr(ep.IP, ep.Port), state, yesNo(ep.InUse), orNone(esc(ep.Pod)), orNone(esc(ep.Node)), orNone(esc(ep.Zone)), orNone(esc(ep.Slice)), orNone(esc(ep.Reason))})
		}
		if len(rows) == 0 {
			fmt.Fprintln(w, "No endpoints.")
		} else if err := renderTable(w, []string{"PORT", "ENDPOINT", "STATE", "IN-USE", "POD", "NODE", "ZONE", "SLICE", "REASON"}, rows); err != nil {
			return err
		}
		var prow [][]string
		for _, p := range t.Pods {
			if !p.InEndpoints {
				prow = append(prow, []string{esc(p.Name), orNone(p.IP), esc(p.Phase), orNone(esc(p.Node)), esc(p.Reason)})
			}
		}
		if len(prow) > 0 {
			fmt.Fprintln(w)
			if err := renderTable(w, []string{"POD NOT IN ENDPOINTS", "IP", "PHASE", "NODE", "REASON"}, prow); err != nil {
				return err
			}
		}
	}
	if err := nodesWide(w, t, s); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(t.Findings) == 0 {
		fmt.Fprintln(w, "No findings.")
	} else {
		var rows [][]string
		for _, f := range t.Findings {
			rows = append(rows, []string{severityLabel(f.Severity, s), f.Code, esc(f.Message)})
		}
		if err := renderTable(w, []string{"SEVERITY", "CODE", "MESSAGE"}, rows); err != nil {
			return err
		}
	}
	for _, wmsg := range t.Warnings {
		fmt.Fprintln(w, s.yellow("warning: ")+esc(wmsg))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
