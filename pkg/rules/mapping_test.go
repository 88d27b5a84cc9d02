package rules

import (
	"strings"
	"testing"
)

func genServicePorts(svcs []genService) []ServicePortInfo {
	var out []ServicePortInfo
	for _, s := range svcs {
		ns, rest, _ := strings.Cut(s.spn, "/")
		name, port, _ := strings.Cut(rest, ":")
		sp := ServicePortInfo{Namespace: ns, Name: name, PortName: port, Protocol: "TCP", ExternallyAccessible: s.nodePort != 0}
		for _, ep := range s.eps {
			i := strings.LastIndexByte(ep, ':')
			sp.Endpoints = append(sp.Endpoints, EndpointInfo{IP: strings.Trim(ep[:i], "[]"), Port: 8080, Ready: true, Serving: true, NodeName: "node1"})
		}
		out = append(out, sp)
	}
	return out
}

func TestMapChainsGenerated(t *testing.T) {
	text, svcs := genDump(genOpts{services: 6, endpoints: 3, nodePortEvery: 2})
	rs := []*Ruleset{parseT(t, text, ParseOptions{})}
	sps := genServicePorts(svcs)
	m := MapChains(rs, sps, NodeInfo{Name: "node1"})
	if len(m.Stale) != 0 || len(m.Missing) != 0 {
		t.Fatalf("stale %+v missing %+v", m.Stale, m.Missing)
	}
	l, ok := m.Label(svcs[1].sepChains[2])
	if !ok || l.Kind != KindEndpoint || l.ServicePort != svcs[1].spn || l.Endpoint != svcs[1].eps[2] {
		t.Errorf("label %+v", l)
	}
	// A Service deleted from the API: its chains are stale. A new endpoint
	// kube-proxy has not programmed yet: its chain is missing.
	sps2 := append([]ServicePortInfo(nil), sps[1:]...)
	sps2[0].Endpoints = append(sps2[0].Endpoints, EndpointInfo{IP: "10.99.0.1", Port: 8080, Ready: true, Serving: true})
	m = MapChains(rs, sps2, NodeInfo{Name: "node1"})
	stale := map[string]bool{}
	for _, p := range m.Stale {
		stale[p.Chain] = true
		if p.Line == 0 || p.Reason == "" {
			t.Errorf("stale %+v", p)
		}
	}
	want := append([]string{svcs[0].svcChain, svcs[0].extChain}, svcs[0].sepChains...)
	if len(stale) != len(want) {
		t.Errorf("stale %v, want %v", stale, want)
	}
	for _, c := range want {
		if !stale[c] {
			t.Errorf("%s not reported stale", c)
		}
	}
	if len(m.Missing) != 1 || m.Missing[0].Label.Endpoint != "10.99.0.1:8080" || m.Missing[0].Label.Kind != KindEndpoint {
		t.Errorf("missing %+v", m.Missing)
	}
}

// The endpoint sets follow CategorizeEndpoints (pkg/proxy/topology.go) and
// kube-proxy's policy-chain rules; each case is one of its documented
// branches.
func TestCategorizeEndpoints(t *testing.T) {
	node := NodeInfo{Name: "node1", Zone: "z1"}
	ep := func(ip string, ready, serving, terminating bool, nodeName string) EndpointInfo {
		return EndpointInfo{IP: ip, Port: 80, Ready: ready, Serving: serving, Terminating: terminating, NodeName: nodeName}
	}
	ips := func(eps []EndpointInfo) string {
		var s []string
		for _, e := range eps {
			s = append(s, e.IP)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name                      string
		sp                        ServicePortInfo
		eps                       []EndpointInfo
		cluster, local, reachable string
		hasAny                    bool
	}{
		{"ready only", ServicePortInfo{}, []EndpointInfo{ep("a", true, true, false, "node1"), ep("b", false, false, false, "node2")}, "a", "", "a", true},
		{"fallback to serving-terminating", ServicePortInfo{}, []EndpointInfo{ep("a", false, true, true, "node2"), ep("b", false, false, true, "node2")}, "a", "", "a", true},
		{"nothing usable", ServicePortInfo{}, []EndpointInfo{ep("a", false, false, true, "node2")}, "", "", "", false},
		{"iTP Local: local only", ServicePortInfo{InternalTrafficLocal: true}, []EndpointInfo{ep("a", true, true, false, "node1"), ep("b", true, true, false, "node2")}, "", "a", "a", true},
		{"iTP Local, no local endpoint", ServicePortInfo{InternalTrafficLocal: true}, []EndpointInfo{ep("b", true, true, false, "node2")}, "", "", "", true},
		{"eTP Local: both sets", ServicePortInfo{ExternalTrafficLocal: true, ExternallyAccessible: true}, []EndpointInfo{ep("a", true, true, false, "node1"), ep("b", true, true, false, "node2")}, "a,b", "a", "a,b", true},
		{"eTP Local, local terminating", ServicePortInfo{ExternalTrafficLocal: true, ExternallyAccessible: true},
			[]EndpointInfo{ep("a", false, true, true, "node1"), ep("b", true, true, false, "node2")}, "b", "a", "a,b", true},
		{"zone hints", ServicePortInfo{}, []EndpointInfo{
			{IP: "a", Port: 80, Ready: true, Serving: true, ZoneHints: []string{"z1"}},
			{IP: "b", Port: 80, Ready: true, Serving: true, ZoneHints: []string{"z2"}}}, "a", "", "a", true},
		{"zone hints missing on one: ignored", ServicePortInfo{}, []EndpointInfo{
			{IP: "a", Port: 80, Ready: true, Serving: true, ZoneHints: []string{"z1"}},
			{IP: "b", Port: 80, Ready: true, Serving: true}}, "a,b", "", "a,b", true},
		{"node hints", ServicePortInfo{}, []EndpointInfo{
			{IP: "a", Port: 80, Ready: true, Serving: true, NodeHints: []string{"node2"}},
			{IP: "b", Port: 80, Ready: true, Serving: true, NodeHints: []string{"node1"}}}, "b", "", "b", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, l, r, any := CategorizeEndpoints(tc.eps, tc.sp, node)
			if ips(c) != tc.cluster || ips(l) != tc.local || ips(r) != tc.reachable || any != tc.hasAny {
				t.Errorf("cluster %q local %q reachable %q any %v", ips(c), ips(l), ips(r), any)
			}
		})
	}
}
