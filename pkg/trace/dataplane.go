package trace

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/svctrace/kubectl-svc-trace/pkg/rules"
	"github.com/svctrace/kubectl-svc-trace/pkg/rules/result"
)

// Traffic classes (--via): which address of the Service the client uses.
const (
	ViaClusterIP    = "clusterip"
	ViaNodePort     = "nodeport"
	ViaLoadBalancer = "loadbalancer"
	ViaExternalIP   = "externalip"
)

// Source kinds (--from).
const (
	FromPod      = "pod"
	FromNode     = "node"
	FromExternal = "external"
	FromIP       = "ip"
)

// Dataplane finding codes: the API and a node's rules disagree, or the node
// does something the user should know.
const (
	CodeDataplaneNoRules          = "DataplaneNoRules"
	CodeDataplaneRejects          = "DataplaneRejects"
	CodeDataplaneDrops            = "DataplaneDrops"
	CodeDataplaneMissingEndpoint  = "DataplaneMissingEndpoint"
	CodeDataplaneStaleEndpoint    = "DataplaneStaleEndpoint"
	CodeDataplaneWrongPort        = "DataplaneWrongPort"
	CodeDataplaneAffinityMismatch = "DataplaneAffinityMismatch"
	CodeDataplaneUncertain        = "DataplaneUncertain"
	CodeDataplaneUnsupported      = "DataplaneUnsupported"
	CodeDataplaneMissingChain     = "DataplaneMissingChain"
)

// DataplaneCodes lists the dataplane finding codes and default severities.
func DataplaneCodes() []CodeInfo {
	return []CodeInfo{
		{CodeDataplaneNoRules, SeverityError},
		{CodeDataplaneRejects, SeverityError},
		{CodeDataplaneDrops, SeverityWarning},
		{CodeDataplaneMissingEndpoint, SeverityError},
		{CodeDataplaneStaleEndpoint, SeverityError},
		{CodeDataplaneWrongPort, SeverityError},
		{CodeDataplaneAffinityMismatch, SeverityWarning},
		{CodeDataplaneUncertain, SeverityWarning},
		{CodeDataplaneUnsupported, SeverityWarning},
		{CodeDataplaneMissingChain, SeverityWarning},
	}
}

// Source is where the traced packet comes from.
type Source struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	IP   string `json:"ip"`
	// Node is the node whose rules the packet meets first (the pod's node,
	// the node itself, or the node an external client sends to).
	Node string `json:"node,omitempty"`
}

// TraceQuery is what the dataplane part of a trace evaluated.
type TraceQuery struct {
	From Source `json:"from"`
	Via  string `json:"via"`
}

// NodeDataplane is one node's state as read by the helper (or from a saved
// dump), already parsed by the caller. Nothing here is a Kubernetes type.
type NodeDataplane struct {
	Name string
	// Zone is the node's topology.kubernetes.io/zone label (topology hints).
	Zone string
	// NodeIPs are the node's own addresses (ip addr): with loopback they
	// are what `-m addrtype LOCAL` matches.
	NodeIPs []netip.Addr
	// InternalIPs are the Node object's InternalIP addresses: a NodePort
	// client uses them (kube-proxy's nodePortAddresses often exclude the
	// node's other addresses), so they are preferred as the destination.
	InternalIPs []netip.Addr
	// ProxyMode is kube-proxy's /proxyMode answer ("" if unknown).
	ProxyMode string
	// Backend is the iptables backend the node uses (legacy or nft) and
	// BackendReason how that was decided.
	Backend       string
	BackendReason string
	// Rulesets are the parsed iptables dumps of the chosen backend.
	Rulesets []*rules.Ruleset
	Routes   []rules.Route
	// RouteHops maps an endpoint IP to the node's route to it (ip route get).
	RouteHops map[string]RouteHop
	Warnings  []string
}

// RouteHop is the node's route towards an address.
type RouteHop struct {
	Dev string `json:"dev"`
	Via string `json:"via,omitempty"`
	Src string `json:"src,omitempty"`
}

// NodeResult is the evaluation of the query on one node, for one port.
type NodeResult struct {
	Name            string         `json:"name"`
	Port            string         `json:"port"`
	ProxyMode       string         `json:"proxyMode,omitempty"`
	IPTablesBackend string         `json:"iptablesBackend,omitempty"`
	BackendReason   string         `json:"backendReason,omitempty"`
	Packet          result.Query   `json:"packet"`
	Verdict         result.Verdict `json:"verdict,omitempty"`
	Masquerade      bool           `json:"masquerade"`
	Uncertain       bool           `json:"uncertain,omitempty"`
	Endpoints       []NodeEndpoint `json:"endpoints"`
	// Expected is what kube-proxy should send this traffic to, computed
	// from the API objects (CategorizeEndpoints and the traffic policies).
	Expected []string         `json:"expected"`
	Path     *result.PathNode `json:"path,omitempty"`
	Findings []Finding        `json:"findings"`
	Warnings []string         `json:"warnings,omitempty"`
}

// NodeEndpoint is one DNAT target of the node's rules.
type NodeEndpoint struct {
	IP          string    `json:"ip"`
	Port        int       `json:"port"`
	Probability float64   `json:"probability"`
	Fraction    string    `json:"fraction"`
	Masquerade  bool      `json:"masquerade"`
	Sticky      bool      `json:"sticky,omitempty"`
	Chain       string    `json:"chain,omitempty"`
	Pod         string    `json:"pod,omitempty"`
	State       string    `json:"state,omitempty"`
	Route       *RouteHop `json:"route,omitempty"`
	// InAPI is false for a stale target the API no longer has.
	InAPI bool `json:"inAPI"`
}

// Hop is one step of the path, in order, for the JSON document and the
// diagrams: client, service address, then the rules of the first node, then
// the endpoints with their probabilities.
type Hop struct {
	Kind        string  `json:"kind"`
	Name        string  `json:"name"`
	Detail      string  `json:"detail,omitempty"`
	Node        string  `json:"node,omitempty"`
	Table       string  `json:"table,omitempty"`
	Chain       string  `json:"chain,omitempty"`
	Rule        int     `json:"rule,omitempty"`
	Raw         string  `json:"raw,omitempty"`
	Probability float64 `json:"probability,omitempty"`
}

// DataplaneInput is what Dataplane joins with the API trace.
type DataplaneInput struct {
	Query TraceQuery
	Nodes []NodeDataplane
	// Ports are the Service's ports as kube-proxy sees them, per family
	// (pkg/cmd builds them with ServicePortsFromObjects).
	Ports map[string][]rules.ServicePortInfo // "IPv4"/"IPv6" → ports
}

// Dataplane evaluates the query on every node and joins the result with
// the API view: per node the verdict, the endpoints with exact
// probabilities and masquerade, the route to each, and every disagreement
// between the rules and the EndpointSlices as a finding.
func Dataplane(t *ServiceTrace, in DataplaneInput) error {
	q := in.Query
	src, err := netip.ParseAddr(q.From.IP)
	if err != nil {
		return fmt.Errorf("source address %q: %w", q.From.IP, err)
	}
	src = src.Unmap()
	family := "IPv4"
	if src.Is6() {
		family = "IPv6"
	}
	t.Query = &q
	svc := t.Service
	for _, n := range in.Nodes {
		for _, pt := range t.Ports {
			nr := NodeResult{Name: n.Name, Port: portLabelOf(pt.ServicePort), ProxyMode: n.ProxyMode, IPTablesBackend: n.Backend, BackendReason: n.BackendReason,
				Endpoints: []NodeEndpoint{}, Expected: []string{}, Findings: []Finding{}, Warnings: append([]string(nil), n.Warnings...)}
			dst, dport, derr := destination(svc, pt.ServicePort, q.Via, family, n)
			if derr != nil {
				nr.Warnings = append(nr.Warnings, derr.Error())
				t.Nodes = append(t.Nodes, nr)
				continue
			}
			hook := rules.HookPrerouting
			if q.From.Kind == FromNode && q.From.Node == n.Name {
				hook = rules.HookOutput
			}
			pkt := rules.Packet{Src: src, Dst: dst, DstPort: uint16(dport), Proto: strings.ToLower(pt.Protocol)}
			sp := findPort(in.Ports[family], svc.Namespace, svc.Name, pt.Name, pt.Protocol)
			switch {
			case n.ProxyMode != "" && n.ProxyMode != "iptables" && n.ProxyMode != "nftables":
				nr.Findings = append(nr.Findings, Finding{Code: CodeDataplaneUnsupported, Severity: SeverityWarning,
					Message: fmt.Sprintf("kube-proxy on node %s runs in %s mode, which this version does not evaluate yet; only the API view is shown", n.Name, n.ProxyMode),
					Objects: []string{"node/" + n.Name}})
				nr.Packet = result.Query{Hook: string(hook), Src: src.String(), Dst: dst.String(), DstPort: dport, Proto: pkt.Proto}
				t.Nodes = append(t.Nodes, nr)
				continue
			case len(n.Rulesets) == 0:
				nr.Findings = append(nr.Findings, Finding{Code: CodeDataplaneNoRules, Severity: SeverityError,
					Message: fmt.Sprintf("node %s: no iptables rules were read", n.Name), Objects: []string{"node/" + n.Name}})
				t.Nodes = append(t.Nodes, nr)
				continue
			}
			res, err := rules.Evaluate(rules.EvalInput{Rulesets: n.Rulesets, NodeIPs: n.NodeIPs, Hook: hook, Packet: pkt, Routes: n.Routes})
			if err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
			node := rules.NodeInfo{Name: n.Name, Zone: n.Zone}
			if sp != nil {
				rules.MapChains(n.Rulesets, []rules.ServicePortInfo{*sp}, node).Apply(res)
			}
			nr.Packet, nr.Verdict, nr.Masquerade, nr.Uncertain, nr.Path = res.Query, res.Verdict, res.Masquerade, res.Uncertain, res.Path
			for _, w := range res.Warnings {
				nr.Warnings = append(nr.Warnings, w.String())
			}
			for _, e := range res.Endpoints {
				ne := NodeEndpoint{IP: e.IP, Port: e.Port, Probability: e.Probability, Fraction: e.Fraction, Masquerade: e.Masquerade, Sticky: e.Sticky, Chain: e.Chain}
				if api := findEndpoint(t.Endpoints, pt, e.IP, e.Port); api != nil {
					ne.InAPI, ne.Pod, ne.State = true, api.Pod, string(api.State)
				}
				if h, ok := n.RouteHops[e.IP]; ok {
					h := h
					ne.Route = &h
				}
				nr.Endpoints = append(nr.Endpoints, ne)
			}
			if sp != nil {
				nr.Findings = append(nr.Findings, drift(t, &nr, res, *sp, node, q, n)...)
			}
			t.Nodes = append(t.Nodes, nr)
		}
	}
	// With one node per port, the endpoints of the API view carry the
	// node's probability and masquerade directly.
	perPort := map[string]int{}
	for _, nr := range t.Nodes {
		perPort[nr.Port]++
	}
	for i := range t.Endpoints {
		ep := &t.Endpoints[i]
		label := portLabelOf(ServicePort{Name: ep.PortName, Port: ep.ServicePort, Protocol: ep.Protocol})
		if perPort[label] != 1 {
			continue
		}
		for _, nr := range t.Nodes {
			if nr.Port != label || nr.Verdict == "" {
				continue
			}
			p, m := 0.0, false
			for _, ne := range nr.Endpoints {
				if ne.IP == ep.IP && ne.Port == int(ep.Port) {
					p, m = ne.Probability, ne.Masquerade
				}
			}
			ep.Probability, ep.Masquerade = &p, &m
		}
	}
	for _, nr := range t.Nodes {
		t.Findings = append(t.Findings, nr.Findings...)
	}
	t.Hops = buildHops(t, in)
	return nil
}

func portLabelOf(p ServicePort) string {
	l := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
	if p.Name != "" {
		l = p.Name + ":" + l
	}
	return l
}

// destination picks the packet's destination for the traffic class.
func destination(svc Service, p ServicePort, via, family string, n NodeDataplane) (netip.Addr, int, error) {
	pick := func(ips []string) (netip.Addr, bool) {
		for _, s := range ips {
			a, err := netip.ParseAddr(s)
			if err == nil && a.Unmap().Is6() == (family == "IPv6") {
				return a.Unmap(), true
			}
		}
		return netip.Addr{}, false
	}
	switch via {
	case ViaClusterIP, "":
		if svc.Headless || svc.Type == "ExternalName" {
			return netip.Addr{}, 0, fmt.Errorf("service has no ClusterIP: clients connect to the endpoints directly, kube-proxy is not involved")
		}
		if a, ok := pick(svc.ClusterIPs); ok {
			return a, int(p.Port), nil
		}
		return netip.Addr{}, 0, fmt.Errorf("service has no %s ClusterIP", family)
	case ViaNodePort:
		if p.NodePort == 0 {
			return netip.Addr{}, 0, fmt.Errorf("port %s has no nodePort", portLabelOf(p))
		}
		for _, a := range append(append([]netip.Addr(nil), n.InternalIPs...), n.NodeIPs...) {
			if a.Is6() == (family == "IPv6") && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
				return a, int(p.NodePort), nil
			}
		}
		return netip.Addr{}, 0, fmt.Errorf("node %s has no %s address", n.Name, family)
	case ViaLoadBalancer:
		var ips []string
		for _, in := range svc.LoadBalancerIngress {
			ips = append(ips, in.IP)
		}
		if a, ok := pick(ips); ok {
			return a, int(p.Port), nil
		}
		return netip.Addr{}, 0, fmt.Errorf("service has no %s load-balancer ingress IP", family)
	case ViaExternalIP:
		if a, ok := pick(svc.ExternalIPs); ok {
			return a, int(p.Port), nil
		}
		return netip.Addr{}, 0, fmt.Errorf("service has no %s externalIP", family)
	}
	return netip.Addr{}, 0, fmt.Errorf("unknown --via %q", via)
}

func findPort(ports []rules.ServicePortInfo, ns, name, portName, proto string) *rules.ServicePortInfo {
	for i := range ports {
		p := &ports[i]
		if p.Namespace == ns && p.Name == name && p.PortName == portName && strings.EqualFold(p.Protocol, proto) {
			return p
		}
	}
	return nil
}

func findEndpoint(eps []Endpoint, pt PortTrace, ip string, port int) *Endpoint {
	for i := range eps {
		e := &eps[i]
		if e.PortName == pt.Name && e.Protocol == pt.Protocol && e.IP == ip && int(e.Port) == port {
			return e
		}
	}
	return nil
}

// expectedEndpoints is what kube-proxy should DNAT this traffic to, from
// the API: CategorizeEndpoints, then the policy chain the traffic class
// uses (pkg/proxy/iptables/proxier.go: internalPolicyChain for ClusterIP;
// externalPolicyChain for NodePort/LB/externalIP, except that eTP=Local
// short-circuits traffic from pods and from the node itself to the
// cluster chain).
func expectedEndpoints(sp rules.ServicePortInfo, node rules.NodeInfo, q TraceQuery, sourceIsNode bool) (eps []rules.EndpointInfo, hasAny bool, policy string) {
	cluster, local, _, hasAny := rules.CategorizeEndpoints(sp.Endpoints, sp, node)
	switch q.Via {
	case ViaClusterIP, "":
		if sp.InternalTrafficLocal {
			return local, hasAny, "internalTrafficPolicy Local"
		}
		return cluster, hasAny, "Cluster"
	default:
		if sp.ExternalTrafficLocal && !(q.From.Kind == FromPod || sourceIsNode) {
			return local, hasAny, "externalTrafficPolicy Local"
		}
		return cluster, hasAny, "Cluster"
	}
}

// drift compares the node's answer with the API's.
func drift(t *ServiceTrace, nr *NodeResult, res *rules.Result, sp rules.ServicePortInfo, node rules.NodeInfo, q TraceQuery, n NodeDataplane) []Finding {
	var out []Finding
	obj := "node/" + n.Name
	sourceIsNode := false
	if a, err := netip.ParseAddr(q.From.IP); err == nil {
		for _, ip := range n.NodeIPs {
			if ip == a.Unmap() {
				sourceIsNode = true
			}
		}
	}
	want, hasAny, policy := expectedEndpoints(sp, node, q, sourceIsNode)
	wantSet := map[string]rules.EndpointInfo{}
	for _, e := range want {
		k := rules.EndpointString(e.IP, e.Port)
		wantSet[k] = e
		nr.Expected = append(nr.Expected, k)
	}
	sort.Strings(nr.Expected)
	got := map[string]bool{}
	for _, e := range res.Endpoints {
		got[rules.EndpointString(e.IP, e.Port)] = true
	}
	if res.Uncertain {
		out = append(out, Finding{Code: CodeDataplaneUncertain, Severity: SeverityWarning,
			Message: fmt.Sprintf("node %s: some rules on the path could not be decided (see the node's warnings); the answer may be incomplete", n.Name), Objects: []string{obj}})
	}
	switch res.Verdict {
	case result.VerdictReject, result.VerdictDrop:
		if st := decidingStep(res); st != nil && !kubeProxyRule(*st) {
			// Not kube-proxy's doing: a firewall or CNI rule on the path.
			out = append(out, Finding{Code: CodeDataplaneRejects, Severity: SeverityError,
				Message: fmt.Sprintf("node %s %ss %s traffic to port %s in %s/%s rule %d, a rule kube-proxy did not write: %s",
					n.Name, strings.ToLower(string(res.Verdict)), viaName(q.Via), nr.Port, st.Table, st.Chain, st.Rule, st.Raw),
				Advice:  "a host firewall, CNI or policy rule blocks the Service's traffic after kube-proxy's DNAT; check that rule",
				Objects: []string{obj}})
			return out
		}
		if len(want) > 0 {
			out = append(out, Finding{Code: CodeDataplaneRejects, Severity: SeverityError,
				Message: fmt.Sprintf("node %s %ss %s traffic to port %s although the API has %d usable endpoint(s) for it: kube-proxy's rules are out of date or kube-proxy is not running",
					n.Name, strings.ToLower(string(res.Verdict)), viaName(q.Via), nr.Port, len(want)),
				Advice:  "check kube-proxy on that node (logs, /healthz on port 10256); its last sync did not see these endpoints",
				Objects: []string{obj}})
		} else if hasAny {
			out = append(out, Finding{Code: CodeDataplaneDrops, Severity: SeverityWarning,
				Message: fmt.Sprintf("node %s drops %s traffic to port %s: %s and no usable endpoint on this node (as kube-proxy intends)", n.Name, viaName(q.Via), nr.Port, policy),
				Objects: []string{obj}})
		}
		return out
	case result.VerdictNone, result.VerdictAccept:
		if len(want) > 0 || hasAny {
			out = append(out, Finding{Code: CodeDataplaneNoRules, Severity: SeverityError,
				Message: fmt.Sprintf("node %s has no kube-proxy rule for %s:%d (%s): the packet is not DNATed", n.Name, res.Query.Dst, res.Query.DstPort, viaName(q.Via)),
				Advice:  "kube-proxy may not be running on this node, may run in another mode, or has not synced this Service yet",
				Objects: []string{obj}})
		}
		return out
	}
	var missing, stale, wrongPort []string
	for k, e := range wantSet {
		if got[k] {
			continue
		}
		if portOnly(res.Endpoints, e.IP) {
			wrongPort = append(wrongPort, k)
		} else {
			missing = append(missing, k)
		}
	}
	for _, e := range res.Endpoints {
		k := rules.EndpointString(e.IP, e.Port)
		if _, ok := wantSet[k]; ok || containsPrefixIP(wrongPort, e.IP) {
			continue
		}
		stale = append(stale, k)
	}
	sort.Strings(missing)
	sort.Strings(stale)
	sort.Strings(wrongPort)
	if len(missing) > 0 {
		out = append(out, Finding{Code: CodeDataplaneMissingEndpoint, Severity: SeverityError,
			Message: fmt.Sprintf("node %s does not send %s traffic to %s, which the API lists as usable endpoint(s)", n.Name, viaName(q.Via), strings.Join(missing, ", ")),
			Advice:  "kube-proxy on that node has not synced the latest EndpointSlices; check that it runs and can reach the API server",
			Objects: append([]string{obj}, missing...)})
	}
	if len(stale) > 0 {
		out = append(out, Finding{Code: CodeDataplaneStaleEndpoint, Severity: SeverityError,
			Message: fmt.Sprintf("node %s still sends %s traffic to %s, which the API no longer lists as usable: connections there fail or hit the wrong pod", n.Name, viaName(q.Via), strings.Join(stale, ", ")),
			Advice:  "kube-proxy on that node is behind the API (stopped, crash-looping, or cannot reach the API server)",
			Objects: append([]string{obj}, stale...)})
	}
	if len(wrongPort) > 0 {
		out = append(out, Finding{Code: CodeDataplaneWrongPort, Severity: SeverityError,
			Message: fmt.Sprintf("node %s DNATs to the right pod IPs but other ports than the API's %s", n.Name, strings.Join(wrongPort, ", ")),
			Objects: append([]string{obj}, wrongPort...)})
	}
	sticky := false
	for _, b := range res.Branches {
		if b.Sticky {
			sticky = true
		}
	}
	affinity := t.Service.SessionAffinity == "ClientIP"
	if affinity != sticky && len(res.Endpoints) > 0 {
		msg := fmt.Sprintf("the Service asks for sessionAffinity ClientIP but node %s's rules have no affinity (recent) match", n.Name)
		if !affinity {
			msg = fmt.Sprintf("node %s's rules pin clients to endpoints (session affinity) but the Service's sessionAffinity is %s", n.Name, t.Service.SessionAffinity)
		}
		out = append(out, Finding{Code: CodeDataplaneAffinityMismatch, Severity: SeverityWarning, Message: msg, Objects: []string{obj}})
	}
	return out
}

// kubeProxyRule says whether a step is in kube-proxy's own rules: its
// KUBE-* iptables chains, or its nftables tables (ip/ip6 kube-proxy).
func kubeProxyRule(st result.Step) bool {
	return strings.HasPrefix(st.Chain, "KUBE-") || strings.HasSuffix(st.Table, " kube-proxy") || st.Table == "kube-proxy"
}

// decidingStep is the step that dropped or rejected the packet on its
// first such branch.
func decidingStep(res *rules.Result) *result.Step {
	for _, b := range res.Branches {
		if b.Verdict != result.VerdictDrop && b.Verdict != result.VerdictReject {
			continue
		}
		for i := len(b.Steps) - 1; i >= 0; i-- {
			a := strings.ToUpper(b.Steps[i].Action)
			if strings.Contains(a, "DROP") || strings.Contains(a, "REJECT") {
				return &b.Steps[i]
			}
		}
	}
	return nil
}

func portOnly(eps []rules.Endpoint, ip string) bool {
	for _, e := range eps {
		if e.IP == ip {
			return true
		}
	}
	return false
}

func containsPrefixIP(list []string, ip string) bool {
	for _, k := range list {
		if strings.HasPrefix(k, ip+":") || strings.HasPrefix(k, "["+ip+"]:") {
			return true
		}
	}
	return false
}

func viaName(via string) string {
	switch via {
	case ViaNodePort:
		return "NodePort"
	case ViaLoadBalancer:
		return "LoadBalancer"
	case ViaExternalIP:
		return "externalIP"
	}
	return "ClusterIP"
}

// buildHops lays out the path of the first node's first port: client,
// service address, the shared rule steps, then each endpoint with its
// probability.
func buildHops(t *ServiceTrace, in DataplaneInput) []Hop {
	q := in.Query
	name := q.From.Kind
	if q.From.Name != "" {
		name += "/" + q.From.Name
	}
	hops := []Hop{{Kind: "client", Name: name, Detail: q.From.IP, Node: q.From.Node}}
	if len(t.Nodes) == 0 {
		return hops
	}
	nr := t.Nodes[0]
	hops = append(hops, Hop{Kind: "service", Name: t.Service.Namespace + "/" + t.Service.Name,
		Detail: fmt.Sprintf("%s %s:%s/%s", viaName(q.Via), nr.Packet.Dst, strconv.Itoa(nr.Packet.DstPort), strings.ToUpper(nr.Packet.Proto)), Node: nr.Name})
	if nr.Path != nil {
		for _, st := range nr.Path.Steps {
			hops = append(hops, Hop{Kind: "rule", Name: st.Action, Detail: st.Label, Node: nr.Name, Table: st.Table, Chain: st.Chain, Rule: st.Rule, Raw: st.Raw})
		}
	}
	for _, e := range nr.Endpoints {
		d := "DNAT " + rules.EndpointString(e.IP, e.Port)
		if e.Pod != "" {
			d += " → pod/" + e.Pod
		}
		if e.Route != nil {
			d += " via " + e.Route.Dev
		}
		hops = append(hops, Hop{Kind: "endpoint", Name: rules.EndpointString(e.IP, e.Port), Detail: d, Node: nr.Name, Chain: e.Chain, Probability: e.Probability})
	}
	if len(nr.Endpoints) == 0 && nr.Verdict != "" {
		hops = append(hops, Hop{Kind: "verdict", Name: string(nr.Verdict), Node: nr.Name})
	}
	return hops
}
