package rules

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// ServicePortInfo describes one Service port as kube-proxy sees it, in plain
// values (no Kubernetes types: this package has no client-go). The caller
// builds it from the Service and its EndpointSlices the way kube-proxy's
// serviceport.go and endpointslicecache.go do.
type ServicePortInfo struct {
	Namespace, Name string
	// PortName is the Service port's name ("" for an unnamed port).
	PortName string
	// Protocol is TCP, UDP or SCTP (any case).
	Protocol string
	// ExternallyAccessible: a NodePort, a LoadBalancer VIP (ipMode VIP or
	// unset) or an externalIP of this family (ServicePort.ExternallyAccessible).
	ExternallyAccessible bool
	// ExternalTrafficLocal: spec.externalTrafficPolicy is Local.
	ExternalTrafficLocal bool
	// InternalTrafficLocal: spec.internalTrafficPolicy is Local.
	InternalTrafficLocal bool
	// LoadBalancerVIPs and SourceRanges: a KUBE-FW chain exists when both
	// are non-empty (and there are endpoints).
	LoadBalancerVIPs []string
	SourceRanges     []string
	Endpoints        []EndpointInfo
	// ClientIPAffinity: sessionAffinity ClientIP. In nftables mode only
	// such a service has per-endpoint chains and affinity sets.
	ClientIPAffinity bool
	// ClusterIP, Port, NodePort and ExternalIPs of this port and family
	// (IPVS virtual servers are keyed by them; ClusterIP also tells the
	// family).
	ClusterIP   string
	Port        int
	NodePort    int
	ExternalIPs []string
}

// EndpointInfo is one endpoint of a Service port (addresses[0] of an
// EndpointSlice endpoint, with the slice port's number).
type EndpointInfo struct {
	IP   string
	Port int
	// Conditions, already defaulted as kube-proxy does: ready and serving
	// default to true, terminating to false.
	Ready, Serving, Terminating bool
	// NodeName is the endpoint's node; it is local when it equals
	// NodeInfo.Name.
	NodeName string
	// ZoneHints and NodeHints are the slice's hints.forZones / forNodes.
	ZoneHints, NodeHints []string
	// Label names the endpoint for people, e.g. "pod default/web-1".
	Label string
}

// NodeInfo is the node whose rules are read.
type NodeInfo struct {
	Name string
	// Zone is the node's topology.kubernetes.io/zone label.
	Zone string
}

// ChainKind says what a per-service chain is for.
type ChainKind string

// Chain kinds, by prefix (iptables; nftables).
const (
	KindService  ChainKind = "service"  // KUBE-SVC-; service-
	KindLocal    ChainKind = "local"    // KUBE-SVL-; local-
	KindExternal ChainKind = "external" // KUBE-EXT-; external-
	KindFirewall ChainKind = "firewall" // KUBE-FW-; firewall-
	KindEndpoint ChainKind = "endpoint" // KUBE-SEP-; endpoint-
	KindAffinity ChainKind = "affinity" // nftables set affinity-
)

// ChainLabel ties a chain name to the Service port (and endpoint) it was
// computed from.
type ChainLabel struct {
	Chain       string    `json:"chain"`
	Kind        ChainKind `json:"kind"`
	ServicePort string    `json:"servicePort"` // ServicePortName: "ns/name[:port]"
	Protocol    string    `json:"protocol"`
	Endpoint    string    `json:"endpoint,omitempty"` // "ip:port" for KUBE-SEP
	Label       string    `json:"label,omitempty"`    // EndpointInfo.Label
}

// String is a short human description.
func (l ChainLabel) String() string {
	s := fmt.Sprintf("%s %s/%s", l.Kind, l.ServicePort, strings.ToLower(l.Protocol))
	if l.Endpoint != "" {
		s += " -> " + l.Endpoint
	}
	if l.Label != "" {
		s += " (" + l.Label + ")"
	}
	return s
}

// ChainProblem is a chain that should not be there, or should be and is not.
type ChainProblem struct {
	Table  Table      `json:"table"`
	Chain  string     `json:"chain"`
	Line   int        `json:"line,omitempty"`
	Label  ChainLabel `json:"label,omitempty"`
	Reason string     `json:"reason"`
}

// ChainMap is the result of MapChains.
type ChainMap struct {
	// Labels holds every chain name the given Service ports can produce,
	// whether or not kube-proxy should create it now.
	Labels map[string]ChainLabel `json:"labels"`
	// Stale: KUBE-SVC/SVL/EXT/FW/SEP chains in the rules that belong to no
	// current Service port or endpoint.
	Stale []ChainProblem `json:"stale"`
	// Missing: chains kube-proxy creates for the API state (an endpoint it
	// would use, a policy chain) that the rules do not have.
	Missing []ChainProblem `json:"missing"`

	// epLabels names endpoints by service port and address, for the
	// nftables mode, where one service chain DNATs to all of them.
	epLabels map[string]string
}

func epKey(spn, proto, ep string) string { return spn + "/" + proto + " " + ep }

// Label returns the label of a chain name.
func (m *ChainMap) Label(chain string) (ChainLabel, bool) {
	l, ok := m.Labels[chain]
	return l, ok
}

// MapChains recomputes kube-proxy's chain names for every Service port
// (comments are dropped in large clusters, so names are the only reliable
// link), and compares them with the nat tables of rs: chains of no current
// Service port or endpoint are stale, chains kube-proxy would create for the
// API state but the rules lack are missing. services must list every
// Service port of the cluster (of this family), or the chains of the others
// are reported stale.
//
// Which chains exist follows syncProxyRules in pkg/proxy/iptables/proxier.go:
// KUBE-SVC when the cluster-policy endpoint set is used and non-empty,
// KUBE-SVL likewise for local policy, KUBE-EXT when there are endpoints and
// the port is externally accessible, KUBE-FW when there are also LB VIPs
// and source ranges, and one KUBE-SEP per endpoint in allReachableEndpoints
// of CategorizeEndpoints (pkg/proxy/topology.go).
//
// In nftables mode (an nft ruleset among rs) the same is done for the
// chains and affinity sets of the `kube-proxy` table of the services'
// family, after syncProxyRules in pkg/proxy/nftables/proxier.go:
// service-/local- as above, external- when there are endpoints and the
// port is externally accessible, firewall- whenever there are LB VIPs and
// source ranges (even without endpoints), and with ClientIP affinity an
// endpoint- chain and affinity- set per reachable endpoint. Service-owned
// objects are recognised by the '/' in their names (isServiceChainName
// there).
func MapChains(rs []*Ruleset, services []ServicePortInfo, node NodeInfo) *ChainMap {
	m := &ChainMap{Labels: map[string]ChainLabel{}, Stale: []ChainProblem{}, Missing: []ChainProblem{}, epLabels: map[string]string{}}
	expected := map[string]ChainLabel{}
	expectedNFT := map[string]ChainLabel{}
	fam := FamilyUnknown
	for _, sp := range services {
		if a, err := netip.ParseAddr(sp.ClusterIP); err == nil {
			fam = IPv4
			if a.Unmap().Is6() {
				fam = IPv6
			}
			break
		}
	}
	for _, sp := range services {
		spn := ServicePortName(sp.Namespace, sp.Name, sp.PortName)
		proto := strings.ToLower(sp.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		mk := func(kind ChainKind, chain string) ChainLabel {
			l := ChainLabel{Chain: chain, Kind: kind, ServicePort: spn, Protocol: proto}
			m.Labels[chain] = l
			return l
		}
		svc := mk(KindService, ServicePortChainName(spn, proto))
		svl := mk(KindLocal, LocalChainName(spn, proto))
		ext := mk(KindExternal, ExternalChainName(spn, proto))
		fw := mk(KindFirewall, FirewallChainName(spn, proto))
		eps := dedupEndpoints(sp.Endpoints)
		for _, ep := range eps {
			es := EndpointString(ep.IP, ep.Port)
			l := ChainLabel{Chain: EndpointChainName(spn, proto, es), Kind: KindEndpoint, ServicePort: spn, Protocol: proto, Endpoint: es, Label: ep.Label}
			m.Labels[l.Chain] = l
		}
		cluster, local, reachable, hasAny := CategorizeEndpoints(eps, sp, node)
		if len(cluster) > 0 && usesClusterEndpoints(sp) {
			expected[svc.Chain] = svc
		}
		if len(local) > 0 && usesLocalEndpoints(sp) {
			expected[svl.Chain] = svl
		}
		if hasAny && sp.ExternallyAccessible {
			expected[ext.Chain] = ext
		}
		if hasAny && len(sp.LoadBalancerVIPs) > 0 && len(sp.SourceRanges) > 0 {
			expected[fw.Chain] = fw
		}
		for _, ep := range reachable {
			es := EndpointString(ep.IP, ep.Port)
			l := m.Labels[EndpointChainName(spn, proto, es)]
			expected[l.Chain] = l
		}

		// nftables
		base := NFTServiceChainBase(sp.Namespace, sp.Name, proto, sp.PortName)
		nsvc := mk(KindService, NFTPrefixService+base)
		nloc := mk(KindLocal, NFTPrefixLocal+base)
		next := mk(KindExternal, NFTPrefixExternal+base)
		nfw := mk(KindFirewall, NFTPrefixFirewall+base)
		for _, ep := range eps {
			es := EndpointString(ep.IP, ep.Port)
			m.epLabels[epKey(spn, proto, es)] = ep.Label
			eb := NFTEndpointChainBase(sp.Namespace, sp.Name, proto, sp.PortName, es)
			for _, k := range []ChainKind{KindEndpoint, KindAffinity} {
				prefix := NFTPrefixEndpoint
				if k == KindAffinity {
					prefix = NFTPrefixAffinity
				}
				l := ChainLabel{Chain: prefix + eb, Kind: k, ServicePort: spn, Protocol: proto, Endpoint: es, Label: ep.Label}
				m.Labels[l.Chain] = l
			}
		}
		if len(cluster) > 0 && usesClusterEndpoints(sp) {
			expectedNFT[nsvc.Chain] = nsvc
		}
		if len(local) > 0 && usesLocalEndpoints(sp) {
			expectedNFT[nloc.Chain] = nloc
		}
		if hasAny && sp.ExternallyAccessible {
			expectedNFT[next.Chain] = next
		}
		if len(sp.LoadBalancerVIPs) > 0 && len(sp.SourceRanges) > 0 {
			expectedNFT[nfw.Chain] = nfw
		}
		if sp.ClientIPAffinity {
			for _, ep := range reachable {
				eb := NFTEndpointChainBase(sp.Namespace, sp.Name, proto, sp.PortName, EndpointString(ep.IP, ep.Port))
				expectedNFT[NFTPrefixEndpoint+eb] = m.Labels[NFTPrefixEndpoint+eb]
				expectedNFT[NFTPrefixAffinity+eb] = m.Labels[NFTPrefixAffinity+eb]
			}
		}
	}
	present := map[string]bool{}
	presentNFT := map[string]bool{}
	nftSeen := false
	for _, r := range rs {
		if r == nil || (fam != FamilyUnknown && r.Family != FamilyUnknown && r.Family != fam) {
			continue
		}
		if r.NFT != nil {
			for _, t := range r.NFT.Tables {
				if t.Name != "kube-proxy" || (fam == IPv4 && t.Family != "ip") || (fam == IPv6 && t.Family != "ip6") {
					continue
				}
				nftSeen = true
				objs := map[string]int{}
				for _, c := range t.Chains {
					objs[c.Name] = c.Line
				}
				for _, st := range t.Sets {
					if strings.HasPrefix(st.Name, NFTPrefixAffinity) {
						objs[st.Name] = st.Line
					}
				}
				for name, line := range objs {
					if !strings.Contains(name, "/") {
						continue
					}
					presentNFT[name] = true
					if _, ok := expectedNFT[name]; ok {
						continue
					}
					p := ChainProblem{Table: Table(t.String()), Chain: name, Line: line}
					if l, ok := m.Labels[name]; ok {
						p.Label = l
						p.Reason = "belongs to " + l.String() + ", which kube-proxy would not program for the current API state"
					} else {
						p.Reason = "belongs to no current Service port or endpoint"
					}
					m.Stale = append(m.Stale, p)
				}
			}
		}
		t := r.Table(TableNAT)
		if t == nil {
			continue
		}
		for _, c := range t.Chains {
			if !IsServiceChain(c.Name) {
				continue
			}
			present[c.Name] = true
			if _, ok := expected[c.Name]; ok {
				continue
			}
			p := ChainProblem{Table: TableNAT, Chain: c.Name, Line: c.Line}
			if l, ok := m.Labels[c.Name]; ok {
				p.Label = l
				p.Reason = "belongs to " + l.String() + ", which kube-proxy would not program for the current API state"
			} else {
				p.Reason = "belongs to no current Service port or endpoint"
			}
			m.Stale = append(m.Stale, p)
		}
	}
	mapIPVS(m, rs, services, node, fam)
	iptSeen := false
	for _, r := range rs {
		if r != nil && r.Table(TableNAT) != nil && (fam == FamilyUnknown || r.Family == FamilyUnknown || r.Family == fam) {
			iptSeen = true
		}
	}
	if iptSeen {
		for name, l := range expected {
			if !present[name] {
				m.Missing = append(m.Missing, ChainProblem{Table: TableNAT, Chain: name, Label: l,
					Reason: "kube-proxy programs " + l.String() + " for the current API state, but the rules have no such chain"})
			}
		}
	}
	if nftSeen {
		tbl := "ip kube-proxy"
		if fam == IPv6 {
			tbl = "ip6 kube-proxy"
		}
		for name, l := range expectedNFT {
			if !presentNFT[name] {
				what := "chain"
				if l.Kind == KindAffinity {
					what = "set"
				}
				m.Missing = append(m.Missing, ChainProblem{Table: Table(tbl), Chain: name, Label: l,
					Reason: "kube-proxy programs " + l.String() + " for the current API state, but the ruleset has no such " + what})
			}
		}
	}
	sort.Slice(m.Missing, func(i, j int) bool { return m.Missing[i].Chain < m.Missing[j].Chain })
	sort.Slice(m.Stale, func(i, j int) bool {
		if m.Stale[i].Table != m.Stale[j].Table {
			return m.Stale[i].Table < m.Stale[j].Table
		}
		return m.Stale[i].Chain < m.Stale[j].Chain
	})
	return m
}

// usesClusterEndpoints mirrors ServicePort.UsesClusterEndpoints
// (pkg/proxy/serviceport.go): !internalPolicyLocal || ExternallyAccessible().
func usesClusterEndpoints(sp ServicePortInfo) bool {
	return !sp.InternalTrafficLocal || sp.ExternallyAccessible
}

// usesLocalEndpoints mirrors ServicePort.UsesLocalEndpoints:
// internalPolicyLocal || (externalPolicyLocal && ExternallyAccessible()).
func usesLocalEndpoints(sp ServicePortInfo) bool {
	return sp.InternalTrafficLocal || (sp.ExternalTrafficLocal && sp.ExternallyAccessible)
}

// dedupEndpoints keeps one endpoint per ip:port, a non-terminating one when
// slices disagree (endpointslicecache.go), sorted by the endpoint string as
// kube-proxy sorts them.
func dedupEndpoints(eps []EndpointInfo) []EndpointInfo {
	by := map[string]EndpointInfo{}
	var keys []string
	for _, ep := range eps {
		k := EndpointString(ep.IP, ep.Port)
		prev, ok := by[k]
		if !ok {
			keys = append(keys, k)
			by[k] = ep
		} else if prev.Terminating && !ep.Terminating {
			by[k] = ep
		}
	}
	sort.Strings(keys)
	out := make([]EndpointInfo, len(keys))
	for i, k := range keys {
		out[i] = by[k]
	}
	return out
}

// CategorizeEndpoints mirrors CategorizeEndpoints in pkg/proxy/topology.go:
// the cluster-policy set (ready endpoints allowed by topology hints, else
// all serving-terminating ones), the local-policy set (local ready, else
// local serving-terminating), their union, and whether the Service has any
// usable endpoint anywhere. The PreferSameTrafficDistribution gate is GA
// and locked on in v1.36, so node hints are honoured.
func CategorizeEndpoints(eps []EndpointInfo, sp ServicePortInfo, node NodeInfo) (cluster, local, reachable []EndpointInfo, hasAny bool) {
	if len(eps) == 0 {
		return
	}
	isLocal := func(ep EndpointInfo) bool { return node.Name != "" && ep.NodeName == node.Name }
	var mode string
	useServingTerminating := false
	if usesClusterEndpoints(sp) {
		mode = topologyModeFromHints(eps, node)
		for _, ep := range eps {
			if ep.Ready && availableForTopology(ep, mode, node) {
				cluster = append(cluster, ep)
			}
		}
		if len(cluster) == 0 {
			for _, ep := range eps {
				if ep.Serving && ep.Terminating {
					cluster = append(cluster, ep)
				}
			}
		}
		if len(cluster) > 0 {
			hasAny = true
		}
	}
	if !usesLocalEndpoints(sp) {
		reachable = cluster
		return
	}
	var localReady, localServingTerminating bool
	for _, ep := range eps {
		if ep.Ready {
			hasAny = true
			if isLocal(ep) {
				localReady = true
			}
		} else if ep.Serving && ep.Terminating {
			hasAny = true
			if isLocal(ep) {
				localServingTerminating = true
			}
		}
	}
	if localReady {
		for _, ep := range eps {
			if isLocal(ep) && ep.Ready {
				local = append(local, ep)
			}
		}
	} else if localServingTerminating {
		useServingTerminating = true
		for _, ep := range eps {
			if isLocal(ep) && ep.Serving && ep.Terminating {
				local = append(local, ep)
			}
		}
	}
	if !usesClusterEndpoints(sp) {
		reachable = local
		return
	}
	if mode == "" && !useServingTerminating {
		reachable = cluster
		return
	}
	reachable = dedupEndpoints(append(append([]EndpointInfo(nil), cluster...), local...))
	return
}

// topologyModeFromHints mirrors the function of that name in
// pkg/proxy/topology.go.
func topologyModeFromHints(eps []EndpointInfo, node NodeInfo) string {
	hasReady, forNode, allNode, forZone, allZone := false, false, true, false, true
	for _, ep := range eps {
		if !ep.Ready {
			continue
		}
		hasReady = true
		if len(ep.NodeHints) == 0 {
			allNode = false
		} else if contains(ep.NodeHints, node.Name) {
			forNode = true
		}
		if len(ep.ZoneHints) == 0 {
			allZone = false
		} else if contains(ep.ZoneHints, node.Zone) {
			forZone = true
		}
	}
	switch {
	case !hasReady:
		return ""
	case allNode && forNode:
		return "PreferSameNode"
	case allZone && forZone:
		return "PreferSameZone"
	}
	return ""
}

func availableForTopology(ep EndpointInfo, mode string, node NodeInfo) bool {
	switch mode {
	case "":
		return true
	case "PreferSameNode":
		return contains(ep.NodeHints, node.Name)
	case "PreferSameZone":
		return contains(ep.ZoneHints, node.Zone)
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Apply writes the chain labels into an evaluation result: each step in a
// labelled chain or jumping to one, and each endpoint by its KUBE-SEP chain.
func (m *ChainMap) Apply(res *Result) {
	if m == nil || res == nil {
		return
	}
	label := func(chain string) string {
		if l, ok := m.Labels[chain]; ok {
			return l.String()
		}
		return ""
	}
	fix := func(steps []Step) {
		for i := range steps {
			s := &steps[i]
			target := ""
			if t, ok := strings.CutPrefix(s.Action, "jump "); ok {
				target = t
			} else if t, ok := strings.CutPrefix(s.Action, "goto "); ok {
				target = t
			}
			if l := label(target); l != "" {
				s.Label = l
			} else if l := label(s.Chain); l != "" {
				s.Label = l
			}
		}
	}
	for i := range res.Branches {
		fix(res.Branches[i].Steps)
	}
	var walk func(n *PathNode)
	walk = func(n *PathNode) {
		fix(n.Steps)
		for i := range n.Branches {
			walk(&n.Branches[i].Node)
		}
	}
	if res.Path != nil {
		walk(res.Path)
	}
	for i := range res.Endpoints {
		e := &res.Endpoints[i]
		if l, ok := m.Labels[e.Chain]; ok {
			e.Label = l.ServicePort
			pod := l.Label
			if l.Kind == KindService || l.Kind == KindLocal {
				// nftables: the service chain DNATs to every endpoint
				pod = m.epLabels[epKey(l.ServicePort, l.Protocol, EndpointString(e.IP, e.Port))]
			}
			if pod != "" {
				e.Label += " " + pod
			}
		}
	}
}

// mapIPVS compares IPVS virtual and real servers with what kube-proxy's
// IPVS mode programs for the Service ports (syncService and syncEndpoint
// in pkg/proxy/ipvs/proxier.go): a virtual server per ClusterIP:port,
// externalIP:port, load-balancer VIP:port and node address:NodePort, whose
// real servers are the cluster-policy endpoints, or for a Local policy
// (internalTrafficPolicy for the ClusterIP, externalTrafficPolicy for the
// others) the local ones — falling back to the cluster endpoints when
// there are no local endpoints, where iptables and nftables modes drop
// (kubernetes PR 97081). Real servers of weight 0 are draining (graceful
// termination) and are neither stale nor missing. Virtual servers are
// labelled with their Service port, so Apply names IPVS steps and
// endpoints.
func mapIPVS(m *ChainMap, rs []*Ruleset, services []ServicePortInfo, node NodeInfo, fam Family) {
	var vss []*IPVSService
	for _, r := range rs {
		if r == nil || r.IPVS == nil {
			continue
		}
		for _, s := range r.IPVS.Services {
			if fam == FamilyUnknown || !s.Addr.IsValid() || s.Addr.Is4() == (fam == IPv4) {
				vss = append(vss, s)
			}
		}
	}
	if len(vss) == 0 {
		return
	}
	type want struct {
		label ChainLabel
		eps   []EndpointInfo
	}
	expected := map[string]want{}  // by service key
	nodePorts := map[string]want{} // "PROTO port"
	for _, sp := range services {
		spn := ServicePortName(sp.Namespace, sp.Name, sp.PortName)
		proto := strings.ToUpper(sp.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		eps := dedupEndpoints(sp.Endpoints)
		cluster, local, _, _ := CategorizeEndpoints(eps, sp, node)
		pick := func(onlyLocal bool) []EndpointInfo {
			if onlyLocal && len(local) > 0 {
				return local
			}
			return cluster
		}
		label := ChainLabel{Kind: KindService, ServicePort: spn, Protocol: strings.ToLower(proto)}
		add := func(ip string, port int, onlyLocal bool) {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				return
			}
			k := proto + " " + netip.AddrPortFrom(a.Unmap(), uint16(port)).String()
			l := label
			l.Chain = k
			expected[k] = want{l, pick(onlyLocal)}
			m.Labels[k] = l
		}
		add(sp.ClusterIP, sp.Port, sp.InternalTrafficLocal)
		for _, ip := range sp.ExternalIPs {
			add(ip, sp.Port, sp.ExternalTrafficLocal)
		}
		for _, ip := range sp.LoadBalancerVIPs {
			add(ip, sp.Port, sp.ExternalTrafficLocal)
		}
		if sp.NodePort != 0 {
			l := label
			nodePorts[fmt.Sprintf("%s %d", proto, sp.NodePort)] = want{l, pick(sp.ExternalTrafficLocal)}
		}
		for _, ep := range eps {
			m.epLabels[epKey(spn, label.Protocol, EndpointString(ep.IP, ep.Port))] = ep.Label
		}
	}
	seen := map[string]bool{}
	for _, s := range vss {
		k := s.Key()
		w, ok := expected[k]
		if !ok {
			if np, isNP := nodePorts[fmt.Sprintf("%s %d", s.Proto, s.Port)]; isNP && s.Proto != "FWM" {
				w, ok = np, true
				w.label.Chain = k
				m.Labels[k] = w.label
			}
		}
		if !ok {
			m.Stale = append(m.Stale, ChainProblem{Table: "ipvs", Chain: k, Line: s.Line,
				Reason: "virtual service of no current Service port (by ClusterIP, external IP, load-balancer IP or NodePort)"})
			continue
		}
		seen[k] = true
		have := map[string]bool{}
		for _, r := range s.Reals {
			es := r.String()
			have[es] = true
			if r.Weight == 0 {
				continue // draining
			}
			found := false
			for _, ep := range w.eps {
				if EndpointString(ep.IP, ep.Port) == es {
					found = true
				}
			}
			if !found {
				l := w.label
				l.Endpoint, l.Kind = es, KindEndpoint
				m.Stale = append(m.Stale, ChainProblem{Table: "ipvs", Chain: k, Line: r.Line, Label: l,
					Reason: "real server " + es + " is not an endpoint kube-proxy would use for " + w.label.ServicePort + " now"})
			}
		}
		for _, ep := range w.eps {
			es := EndpointString(ep.IP, ep.Port)
			if !have[es] {
				l := w.label
				l.Endpoint, l.Kind, l.Label = es, KindEndpoint, ep.Label
				m.Missing = append(m.Missing, ChainProblem{Table: "ipvs", Chain: k, Label: l,
					Reason: "kube-proxy would make " + es + " a real server of " + k + ", but the table has no such real server"})
			}
		}
	}
	for k, w := range expected {
		if !seen[k] {
			m.Missing = append(m.Missing, ChainProblem{Table: "ipvs", Chain: k, Label: w.label,
				Reason: "kube-proxy programs a virtual service " + k + " for " + w.label.ServicePort + ", but the table has none"})
		}
	}
}
