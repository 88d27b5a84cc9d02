package rules

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The fixtures under testdata/kube-proxy are what a real node printed:
// hack/record-rules.sh brought up the harness cluster (kube-proxy v1.36.3,
// iptables mode), created the scenarios of testdata/record/scenarios.yaml,
// saved the node's rules, and round-tripped them through real
// iptables-legacy-restore/-save and iptables-nft-restore/-save in fresh
// network namespaces (plain, with counters, and as iptables -S per table).
// objects.json holds the API objects, node.json the node's addresses and
// routes, traffic.json which pod answered real connections.

const kpDir = "testdata/kube-proxy"

type kpObjects struct {
	Items []struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			ClusterIPs  []string `json:"clusterIPs"`
			ExternalIPs []string `json:"externalIPs"`
			Ports       []struct {
				Name     string `json:"name"`
				Port     int    `json:"port"`
				NodePort int    `json:"nodePort"`
			} `json:"ports"`
		} `json:"spec"`
		Status struct {
			PodIPs []struct {
				IP string `json:"ip"`
			} `json:"podIPs"`
			LoadBalancer struct {
				Ingress []struct {
					IP string `json:"ip"`
				} `json:"ingress"`
			} `json:"loadBalancer"`
		} `json:"status"`
		AddressType string `json:"addressType"`
		Endpoints   []struct {
			Addresses  []string `json:"addresses"`
			Conditions struct {
				Ready       *bool `json:"ready"`
				Serving     *bool `json:"serving"`
				Terminating *bool `json:"terminating"`
			} `json:"conditions"`
			NodeName string `json:"nodeName"`
		} `json:"endpoints"`
		Ports []struct {
			Name string `json:"name"`
			Port int    `json:"port"`
		} `json:"ports"`
	} `json:"items"`
}

type kpNode struct {
	NodeIPs      []string          `json:"nodeIPs"`
	ClusterCIDRs []string          `json:"clusterCIDRs"`
	Routes4      []json.RawMessage `json:"routes4"`
	Routes6      []json.RawMessage `json:"routes6"`
}

// kpFixture is the recorded world, loaded once per test.
type kpFixture struct {
	objs    kpObjects
	node    kpNode
	nodeIPs []netip.Addr
	routes  []Route
	dumps   map[string][]*Ruleset // variant -> rulesets (one or two files)
}

func loadKP(t *testing.T) *kpFixture {
	t.Helper()
	f := &kpFixture{dumps: map[string][]*Ruleset{}}
	b, err := os.ReadFile(filepath.Join(kpDir, "objects.json"))
	if err != nil {
		t.Fatalf("no recorded kube-proxy fixtures (run hack/record-rules.sh): %v", err)
	}
	if err := json.Unmarshal(b, &f.objs); err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(filepath.Join(kpDir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f.node); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.node.NodeIPs {
		f.nodeIPs = append(f.nodeIPs, netip.MustParseAddr(s))
	}
	for _, rs := range [][]json.RawMessage{f.node.Routes4, f.node.Routes6} {
		js, _ := json.Marshal(rs)
		rt, err := ParseRoutes(string(js))
		if err != nil {
			t.Fatal(err)
		}
		f.routes = append(f.routes, rt...)
	}
	parse := func(name string, opts ParseOptions) *Ruleset {
		b, err := os.ReadFile(filepath.Join(kpDir, name))
		if err != nil {
			return nil
		}
		opts.Source = name
		rs, err := ParseString(string(b), opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, w := range rs.Warnings {
			// The node had legacy tables too (the kernel runs them as
			// well); that is the only warning a real dump may carry.
			if !strings.Contains(w.Message, "iptables-legacy") {
				t.Errorf("%s: %s", name, w)
			}
		}
		if ws := rs.Check(); len(ws) > 0 {
			t.Errorf("%s: rule warnings:\n%s", name, warningsText(ws))
		}
		return rs
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, v := range []string{"node-nft", "nft", "legacy", "nft-%s-counters", "legacy-%s-counters"} {
			name := v + "-" + fam + ".save"
			if strings.Contains(v, "%s") {
				name = fmt.Sprintf(v, fam) + ".save"
				name = strings.Replace(name, "-"+fam+"-counters", "-"+fam+"-counters", 1)
			}
			if rs := parse(name, ParseOptions{}); rs != nil {
				f.dumps[name] = []*Ruleset{rs}
			}
		}
		for _, b := range []string{"nft", "legacy"} {
			nat := parse(fmt.Sprintf("%s-%s-nat.S", b, fam), ParseOptions{})
			filter := parse(fmt.Sprintf("%s-%s-filter.S", b, fam), ParseOptions{})
			if nat != nil && filter != nil {
				if nat.Tables[0].Name != TableNAT || filter.Tables[0].Name != TableFilter {
					t.Errorf("%s -S: tables inferred as %s and %s", b, nat.Tables[0].Name, filter.Tables[0].Name)
				}
				f.dumps[fmt.Sprintf("%s-%s-nat+filter.S", b, fam)] = []*Ruleset{nat, filter}
			}
		}
	}
	if len(f.dumps) < 4 {
		t.Fatalf("only %d dump variants recorded", len(f.dumps))
	}
	return f
}

func (f *kpFixture) service(t *testing.T, name string) (clusterIPs []string, ports map[string][2]int, extIPs, lbIPs []string) {
	t.Helper()
	for _, it := range f.objs.Items {
		if it.Kind == "Service" && it.Metadata.Name == name {
			ports = map[string][2]int{}
			for _, p := range it.Spec.Ports {
				ports[p.Name] = [2]int{p.Port, p.NodePort}
			}
			for _, in := range it.Status.LoadBalancer.Ingress {
				lbIPs = append(lbIPs, in.IP)
			}
			return it.Spec.ClusterIPs, ports, it.Spec.ExternalIPs, lbIPs
		}
	}
	t.Fatalf("service %s not recorded", name)
	return
}

// endpoints are the recorded EndpointSlice endpoints of a service, for one
// address type and port name, filtered by which: "ready", "serving-terminating".
func (f *kpFixture) endpoints(svc, addrType, port, which string) []string {
	var out []string
	for _, it := range f.objs.Items {
		if it.Kind != "EndpointSlice" || it.Metadata.Labels["kubernetes.io/service-name"] != svc || it.AddressType != addrType {
			continue
		}
		pn := -1
		for _, p := range it.Ports {
			if p.Name == port {
				pn = p.Port
			}
		}
		if pn < 0 {
			continue
		}
		for _, e := range it.Endpoints {
			c := e.Conditions
			ready := c.Ready == nil || *c.Ready
			serving := c.Serving == nil || *c.Serving
			term := c.Terminating != nil && *c.Terminating
			if (which == "ready" && ready) || (which == "serving-terminating" && serving && term) {
				out = append(out, netip.AddrPortFrom(netip.MustParseAddr(e.Addresses[0]), uint16(pn)).String())
			}
		}
	}
	sort.Strings(out)
	return out
}

func (f *kpFixture) podIP(t *testing.T, name string, v6 bool) string {
	for _, it := range f.objs.Items {
		if it.Kind == "Pod" && it.Metadata.Name == name {
			for _, ip := range it.Status.PodIPs {
				if strings.Contains(ip.IP, ":") == v6 {
					return ip.IP
				}
			}
		}
	}
	t.Fatalf("pod %s has no %v address", name, v6)
	return ""
}

func resultEndpoints(res *Result) []string {
	var out []string
	for _, e := range res.Endpoints {
		out = append(out, netip.AddrPortFrom(netip.MustParseAddr(e.IP), uint16(e.Port)).String())
	}
	sort.Strings(out)
	return out
}

// TestKubeProxyScenarios asserts, for every recorded scenario and for
// packets from a pod, from the node and from outside, the verdict, the
// endpoints with exact probabilities and the masquerade decision that
// kube-proxy's semantics prescribe (shared docs, kube-proxy-semantics.md
// §0.3, §0.4, §1.7): the expected endpoints come from the recorded
// EndpointSlices, not from the rules. Every dump variant — the node's own
// iptables-nft-save, the legacy and nft round trips, with counters, and
// iptables -S of nat plus filter — must give the same answers.
func TestKubeProxyScenarios(t *testing.T) {
	f := loadKP(t)
	client4 := f.podIP(t, "client", false)
	node4 := f.node.NodeIPs[0]
	const outside, denied = "203.0.113.5", "198.51.100.5"
	type tc struct {
		name      string
		hook      Hook
		src, dst  string
		port      int
		verdict   Verdict
		endpoints []string
		masq      bool
		v6        bool
		// remote: the endpoints are on another node; route their pod
		// range over an overlay interface as a multi-node cluster does
		// (on the one-node harness it would follow the default route to
		// the uplink, where the harness's safety rules drop it).
		remote bool
	}
	var cases []tc
	add := func(c tc) { cases = append(cases, c) }
	ip := func(svc string, i int) string { ips, _, _, _ := f.service(t, svc); return ips[i] }
	port := func(svc, name string) int { _, p, _, _ := f.service(t, svc); return p[name][0] }
	nodePort := func(svc string) int { _, p, _, _ := f.service(t, svc); return p[""][1] }
	ready := func(svc string) []string { return f.endpoints(svc, "IPv4", "", "ready") }

	for _, svc := range []string{"clusterip", "nodeport", "lb", "externalip", "affinity"} {
		add(tc{svc + " from a pod", HookPrerouting, client4, ip(svc, 0), 80, VerdictDNAT, ready(svc), false, false, false})
		add(tc{svc + " from the node", HookOutput, node4, ip(svc, 0), 80, VerdictDNAT, ready(svc), true, false, false})
		add(tc{svc + " ClusterIP from outside", HookPrerouting, outside, ip(svc, 0), 80, VerdictDNAT, ready(svc), true, false, false})
	}
	add(tc{"single endpoint", HookPrerouting, client4, ip("single", 0), 80, VerdictDNAT, ready("single"), false, false, false})
	add(tc{"named port http", HookPrerouting, client4, ip("multiport", 0), port("multiport", "http"), VerdictDNAT, f.endpoints("multiport", "IPv4", "http", "ready"), false, false, false})
	add(tc{"named port metrics", HookPrerouting, client4, ip("multiport", 0), port("multiport", "metrics"), VerdictDNAT, f.endpoints("multiport", "IPv4", "metrics", "ready"), false, false, false})
	for _, svc := range []string{"nodeport", "lb"} {
		add(tc{svc + " NodePort from outside", HookPrerouting, outside, node4, nodePort(svc), VerdictDNAT, ready(svc), true, false, false})
		add(tc{svc + " NodePort from a pod", HookPrerouting, client4, node4, nodePort(svc), VerdictDNAT, ready(svc), true, false, false})
		add(tc{svc + " NodePort from the node", HookOutput, node4, node4, nodePort(svc), VerdictDNAT, ready(svc), true, false, false})
	}
	// nodePortAddresses is the node IP only: localhost is not a NodePort.
	add(tc{"NodePort on localhost", HookOutput, "127.0.0.1", "127.0.0.1", nodePort("nodeport"), VerdictNone, nil, false, false, false})
	_, _, _, lb := f.service(t, "lb")
	add(tc{"load-balancer IP from outside", HookPrerouting, outside, lb[0], 80, VerdictDNAT, ready("lb"), true, false, false})
	add(tc{"load-balancer IP from the node", HookOutput, node4, lb[0], 80, VerdictDNAT, ready("lb"), true, false, false})
	_, _, _, lbr := f.service(t, "lb-ranges")
	add(tc{"source range: allowed client", HookPrerouting, outside, lbr[0], 80, VerdictDNAT, ready("lb-ranges"), true, false, false})
	add(tc{"source range: other client dropped", HookPrerouting, denied, lbr[0], 80, VerdictDrop, nil, false, false, false})
	add(tc{"source range: the node is not in it", HookOutput, node4, lbr[0], 80, VerdictDrop, nil, false, false, false})
	add(tc{"source range: a pod is not in it", HookPrerouting, client4, lbr[0], 80, VerdictDrop, nil, false, false, false})
	_, _, _, lbn := f.service(t, "lb-ranges-node")
	add(tc{"source range with the node's network: node allowed", HookOutput, node4, lbn[0], 80, VerdictDNAT, ready("lb-ranges-node"), true, false, false})
	add(tc{"source range with the node's network: other client dropped", HookPrerouting, denied, lbn[0], 80, VerdictDrop, nil, false, false, false})
	_, _, ext, _ := f.service(t, "externalip")
	add(tc{"external IP from outside", HookPrerouting, outside, ext[0], 80, VerdictDNAT, ready("externalip"), true, false, false})
	add(tc{"external IP from a pod", HookPrerouting, client4, ext[0], 80, VerdictDNAT, ready("externalip"), true, false, false})
	// eTP=Local, endpoints on this node: the client address is kept for
	// outside traffic; pod traffic short-circuits to the cluster chain;
	// the node's own traffic is masqueraded.
	add(tc{"eTP=Local from outside keeps the source", HookPrerouting, outside, node4, nodePort("etp-local"), VerdictDNAT, ready("etp-local"), false, false, false})
	add(tc{"eTP=Local from a pod", HookPrerouting, client4, node4, nodePort("etp-local"), VerdictDNAT, ready("etp-local"), false, false, false})
	add(tc{"eTP=Local from the node", HookOutput, node4, node4, nodePort("etp-local"), VerdictDNAT, ready("etp-local"), true, false, false})
	// eTP=Local with every endpoint on another node.
	add(tc{"eTP=Local, no local endpoint: outside dropped", HookPrerouting, outside, node4, nodePort("etp-local-remote"), VerdictDrop, nil, false, false, false})
	add(tc{"eTP=Local, no local endpoint: pod short-circuits", HookPrerouting, client4, node4, nodePort("etp-local-remote"), VerdictDNAT, ready("etp-local-remote"), false, false, true})
	add(tc{"eTP=Local, no local endpoint: node short-circuits, masqueraded", HookOutput, node4, node4, nodePort("etp-local-remote"), VerdictDNAT, ready("etp-local-remote"), true, false, true})
	add(tc{"eTP=Local, no local endpoint: ClusterIP uses all endpoints", HookPrerouting, client4, ip("etp-local-remote", 0), 80, VerdictDNAT, ready("etp-local-remote"), false, false, true})
	add(tc{"remote endpoint without an overlay route: the harness's uplink rules drop it", HookPrerouting, client4, ip("etp-local-remote", 0), 80, VerdictDrop, nil, false, false, false})
	add(tc{"iTP=Local from a pod", HookPrerouting, client4, ip("itp-local", 0), 80, VerdictDNAT, ready("itp-local"), false, false, false})
	add(tc{"iTP=Local from the node", HookOutput, node4, ip("itp-local", 0), 80, VerdictDNAT, ready("itp-local"), true, false, false})
	add(tc{"iTP=Local, no local endpoint: dropped", HookPrerouting, client4, ip("itp-local-remote", 0), 80, VerdictDrop, nil, false, false, false})
	add(tc{"no endpoints: ClusterIP rejected", HookPrerouting, client4, ip("noendpoints", 0), 80, VerdictReject, nil, false, false, false})
	add(tc{"no endpoints: from the node rejected", HookOutput, node4, ip("noendpoints", 0), 80, VerdictReject, nil, false, false, false})
	add(tc{"no endpoints: NodePort rejected", HookPrerouting, outside, node4, nodePort("noendpoints"), VerdictReject, nil, false, false, false})
	add(tc{"only terminating endpoints: the serving one is used", HookPrerouting, client4, ip("terminating", 0), 80, VerdictDNAT,
		f.endpoints("terminating", "IPv4", "", "serving-terminating"), false, false, false})
	add(tc{"dual-stack IPv4", HookPrerouting, client4, ip("dualstack", 0), 80, VerdictDNAT, ready("dualstack"), false, false, false})
	if len(f.node.NodeIPs) > 1 {
		client6, node6 := f.podIP(t, "client", true), f.node.NodeIPs[1]
		ready6 := f.endpoints("dualstack", "IPv6", "", "ready")
		add(tc{"dual-stack IPv6 from a pod", HookPrerouting, client6, ip("dualstack", 1), 80, VerdictDNAT, ready6, false, true, false})
		add(tc{"dual-stack IPv6 from the node", HookOutput, node6, ip("dualstack", 1), 80, VerdictDNAT, ready6, true, true, false})
		add(tc{"dual-stack IPv6 NodePort from outside", HookPrerouting, "2001:db8::5", node6, nodePort("dualstack"), VerdictDNAT, ready6, true, true, false})
	}

	for variant, rss := range f.dumps {
		isV6 := strings.Contains(variant, "v6")
		for _, c := range cases {
			if c.v6 != isV6 {
				continue
			}
			t.Run(variant+"/"+c.name, func(t *testing.T) {
				routes := f.routes
				if c.remote {
					routes = append(append([]Route(nil), routes...), Route{Dst: netip.MustParsePrefix("10.244.1.0/24"), Dev: "overlay0"})
				}
				res, err := Evaluate(EvalInput{Rulesets: rss, NodeIPs: f.nodeIPs, Routes: routes, Hook: c.hook,
					Packet: Packet{Src: netip.MustParseAddr(c.src), Dst: netip.MustParseAddr(c.dst), DstPort: uint16(c.port), Proto: "tcp"}})
				if err != nil {
					t.Fatal(err)
				}
				got := resultEndpoints(res)
				if res.Verdict != c.verdict || strings.Join(got, ",") != strings.Join(c.endpoints, ",") || res.Masquerade != c.masq || res.Uncertain {
					t.Fatalf("%s -> %s:%d (%s): got %s %v masq=%v uncertain=%v, want %s %v masq=%v\n%s",
						c.src, c.dst, c.port, c.hook, res.Verdict, got, res.Masquerade, res.Uncertain, c.verdict, c.endpoints, c.masq, warningsText(res.Warnings))
				}
				want := fmt.Sprintf("1/%d", len(c.endpoints))
				if len(c.endpoints) == 1 {
					want = "1"
				}
				for _, e := range res.Endpoints {
					if e.Fraction != want || e.Masquerade != c.masq {
						t.Errorf("endpoint %+v: want %s masq=%v", e, want, c.masq)
					}
				}
			})
		}
	}
}

// TestKubeProxyHairpin: a backend reaching its own Service is masqueraded
// only on the branch that lands on itself (KUBE-SEP's -s <ep> rule).
func TestKubeProxyHairpin(t *testing.T) {
	f := loadKP(t)
	ips, _, _, _ := f.service(t, "clusterip")
	eps := f.endpoints("clusterip", "IPv4", "", "ready")
	self := netip.MustParseAddrPort(eps[1]).Addr()
	res, err := Evaluate(EvalInput{Rulesets: f.dumps["nft-v4.save"], NodeIPs: f.nodeIPs, Routes: f.routes,
		Packet: Packet{Src: self, Dst: netip.MustParseAddr(ips[0]), DstPort: 80, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Masquerade || len(res.Endpoints) != 3 {
		t.Fatalf("%s masq=%v %v", res.Verdict, res.Masquerade, resultEndpoints(res))
	}
	for _, e := range res.Endpoints {
		if want := e.IP == self.String(); e.Masquerade != want {
			t.Errorf("endpoint %s masquerade=%v, want %v", e.IP, e.Masquerade, want)
		}
	}
}

// TestKubeProxyAffinity: ClientIP affinity gives the fresh client 1/3 each
// and a sticky branch per endpoint; with the affinity state known, the one
// endpoint.
func TestKubeProxyAffinity(t *testing.T) {
	f := loadKP(t)
	ips, _, _, _ := f.service(t, "affinity")
	in := EvalInput{Rulesets: f.dumps["nft-v4.save"], NodeIPs: f.nodeIPs, Routes: f.routes,
		Packet: Packet{Src: netip.MustParseAddr(f.podIP(t, "client", false)), Dst: netip.MustParseAddr(ips[0]), DstPort: 80, Proto: "tcp"}}
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	sticky := 0
	for _, b := range res.Branches {
		if b.Sticky {
			sticky++
			if !strings.Contains(strings.Join(b.Conditions, " "), "seen within 600s") {
				t.Errorf("sticky branch without the affinity timeout: %v", b.Conditions)
			}
		}
	}
	if sticky != 3 {
		t.Errorf("%d sticky branches", sticky)
	}
	target := res.Endpoints[2]
	in.Affinity = map[string]bool{target.Chain: true}
	res, err = Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Endpoints) != 1 || res.Endpoints[0].IP != target.IP || res.Endpoints[0].Fraction != "1" {
		t.Errorf("known affinity: %v", resultEndpoints(res))
	}
}

// TestKubeProxyRealTraffic compares the prediction with real connections:
// for every recorded (scenario, source, destination), the pods that
// answered must be exactly the predicted endpoints (for affinity: one of
// them), each answer must show the client address the prediction implies
// (masqueraded or kept), and when nothing answered the verdict must be DROP
// or REJECT.
func TestKubeProxyRealTraffic(t *testing.T) {
	f := loadKP(t)
	b, err := os.ReadFile(filepath.Join(kpDir, "traffic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var samples []struct {
		Scenario string         `json:"scenario"`
		From     string         `json:"from"`
		Src      string         `json:"src"`
		Dst      string         `json:"dst"`
		Port     int            `json:"port"`
		Requests int            `json:"requests"`
		Answers  map[string]int `json:"answers"`
	}
	if err := json.Unmarshal(b, &samples); err != nil {
		t.Fatal(err)
	}
	if len(samples) < 20 {
		t.Fatalf("only %d traffic samples", len(samples))
	}
	// The echo server reports its first pod IP; map every address of a pod
	// to the pod, so an IPv6 connection's answer is matched to its IPv6
	// endpoint.
	podOf := map[string]string{}
	for _, it := range f.objs.Items {
		if it.Kind == "Pod" {
			for _, ip := range it.Status.PodIPs {
				podOf[ip.IP] = it.Metadata.Name
			}
		}
	}
	pod := func(ip string) string {
		if p, ok := podOf[ip]; ok {
			return p
		}
		return ip
	}
	for _, s := range samples {
		s := s
		t.Run(fmt.Sprintf("%s/%s-%s:%d", s.Scenario, s.From, s.Dst, s.Port), func(t *testing.T) {
			src, dst := netip.MustParseAddr(s.Src), netip.MustParseAddr(s.Dst)
			variant := "node-nft-v4.save"
			if dst.Is6() {
				variant = "node-nft-v6.save"
			}
			hook := HookPrerouting
			if s.From == "node" {
				hook = HookOutput
			}
			res, err := Evaluate(EvalInput{Rulesets: f.dumps[variant], NodeIPs: f.nodeIPs, Routes: f.routes, Hook: hook,
				Packet: Packet{Src: src, Dst: dst, DstPort: uint16(s.Port), Proto: "tcp"}})
			if err != nil {
				t.Fatal(err)
			}
			predicted := map[string]Endpoint{}
			for _, e := range res.Endpoints {
				predicted[pod(e.IP)] = e
			}
			reached := map[string]bool{}
			for k, n := range s.Answers {
				if k == "fail" {
					continue
				}
				podIP, client, _ := strings.Cut(k, " ")
				reached[pod(podIP)] = true
				e, ok := predicted[pod(podIP)]
				if !ok {
					t.Errorf("%d connections reached %s (%s), which is not a predicted endpoint (%v, %s)", n, podIP, pod(podIP), resultEndpoints(res), res.Verdict)
					continue
				}
				if kept := client == s.Src; kept == e.Masquerade {
					t.Errorf("%s saw client %s (source %s): predicted masquerade=%v", podIP, client, s.Src, e.Masquerade)
				}
			}
			switch {
			case len(reached) == 0:
				if res.Verdict != VerdictDrop && res.Verdict != VerdictReject {
					t.Errorf("no connection succeeded, predicted %s %v", res.Verdict, resultEndpoints(res))
				}
			case s.Scenario == "affinity":
				if len(reached) != 1 {
					t.Errorf("session affinity: %d endpoints answered one client", len(reached))
				}
			default:
				if len(reached) != len(predicted) || s.Answers["fail"] > 0 {
					t.Errorf("reached %v (%d failed), predicted %v", reached, s.Answers["fail"], resultEndpoints(res))
				}
			}
		})
	}
}

// TestKubeProxyChainMapping recomputes every KUBE-SVC/SVL/EXT/FW/SEP name of
// the recorded scenarios from their API objects: none of the scenarios'
// chains may be missing, and labels must cover every chain of their
// namespace in the real dump.
func TestKubeProxyChainMapping(t *testing.T) {
	f := loadKP(t)
	var sps []ServicePortInfo
	svcs := map[string]bool{}
	for _, it := range f.objs.Items {
		if it.Kind == "Service" {
			svcs[it.Metadata.Name] = true
		}
	}
	for name := range svcs {
		ips, ports, ext, lb := f.service(t, name)
		_ = ips
		for pname, p := range ports {
			sp := ServicePortInfo{Namespace: "svct-rules", Name: name, PortName: pname, Protocol: "TCP",
				ExternallyAccessible: p[1] != 0 || len(ext) > 0 || len(lb) > 0,
				ExternalTrafficLocal: strings.HasPrefix(name, "etp-local"), InternalTrafficLocal: strings.HasPrefix(name, "itp-local"),
				LoadBalancerVIPs: lb}
			if strings.HasPrefix(name, "lb-ranges") {
				sp.SourceRanges = []string{"203.0.113.0/24"}
			}
			for _, it := range f.objs.Items {
				if it.Kind != "EndpointSlice" || it.Metadata.Labels["kubernetes.io/service-name"] != name || it.AddressType != "IPv4" {
					continue
				}
				for _, sp2 := range it.Ports {
					if sp2.Name != pname {
						continue
					}
					for _, e := range it.Endpoints {
						c := e.Conditions
						sp.Endpoints = append(sp.Endpoints, EndpointInfo{IP: e.Addresses[0], Port: sp2.Port,
							Ready: c.Ready == nil || *c.Ready, Serving: c.Serving == nil || *c.Serving,
							Terminating: c.Terminating != nil && *c.Terminating, NodeName: e.NodeName})
					}
				}
			}
			sps = append(sps, sp)
		}
	}
	m := MapChains(f.dumps["nft-v4.save"], sps, NodeInfo{Name: "node1"})
	if len(m.Missing) != 0 {
		t.Errorf("missing chains: %+v", m.Missing)
	}
	labelled := 0
	for _, p := range m.Stale {
		// Other namespaces' chains (the e2e scenarios, kubernetes) are
		// "stale" against this namespace's objects only; ours must not be.
		if l, ok := m.Labels[p.Chain]; ok {
			t.Errorf("chain of the recorded scenarios reported stale: %s (%s)", p.Chain, l)
		}
	}
	nat := f.dumps["nft-v4.save"][0].Table(TableNAT)
	for _, c := range nat.Chains {
		if !IsServiceChain(c.Name) {
			continue
		}
		rules := c.Rules()
		if len(rules) > 0 && strings.Contains(rules[len(rules)-1].Raw(), "svct-rules/") {
			if _, ok := m.Label(c.Name); !ok {
				t.Errorf("chain %s of the scenarios has no label", c.Name)
			}
			labelled++
		}
	}
	if labelled < 40 {
		t.Errorf("only %d scenario chains checked", labelled)
	}
}
