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
	// hostTables: the variant holds the node's non-kube-proxy tables too
	// (nftables mode; iptables dumps always do).
	hostTables map[string]bool
}

func loadKP(t *testing.T) *kpFixture { return loadKPFrom(t, kpDir) }

func loadKPFrom(t *testing.T, kpDir string) *kpFixture {
	t.Helper()
	f := &kpFixture{dumps: map[string][]*Ruleset{}, hostTables: map[string]bool{}}
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
		rs, err := ParseAnyString(string(b), opts)
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
		if ws := rs.Check(); len(ws) > 0 && rs.NFT == nil {
			t.Errorf("%s: rule warnings:\n%s", name, warningsText(ws))
		}
		if rs.NFT != nil {
			for _, tb := range rs.NFT.Tables {
				for _, c := range tb.Chains {
					for _, r := range c.Rules {
						// iptables-nft's conntrack match has no nft JSON
						// form; every other rule must be understood.
						if len(r.bad) > 0 && !(tb.IptablesNFT && strings.Contains(strings.Join(r.bad, " "), "xt match")) {
							t.Errorf("%s: %s %s rule %d %q not understood: %v", name, tb, c.Name, r.Num, r.Text, r.bad)
						}
					}
				}
			}
		}
		return rs
	}
	if _, err := os.Stat(filepath.Join(kpDir, "node.nft")); err == nil {
		// nftables mode: the node's whole ruleset (text and JSON), alone
		// and with the node's iptables-nft-save for iptables-nft's tables,
		// and kube-proxy's tables round-tripped through nft -f.
		ipt4, ipt6 := parse("node-iptables-nft-v4.save", ParseOptions{}), parse("node-iptables-nft-v6.save", ParseOptions{})
		for _, n := range []string{"node.nft", "node.nft.json", "kube-proxy.nft", "kube-proxy.nft.json"} {
			rs := parse(n, ParseOptions{})
			if rs == nil {
				t.Fatalf("%s not recorded", n)
			}
			f.dumps[n] = []*Ruleset{rs}
			f.hostTables[n] = strings.HasPrefix(n, "node")
			if f.hostTables[n] && ipt4 != nil {
				v := n + "+iptables-nft-save"
				f.dumps[v] = []*Ruleset{rs, ipt4}
				if ipt6 != nil {
					f.dumps[v] = append(f.dumps[v], ipt6)
				}
				f.hostTables[v] = true
			}
		}
		return f
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
				f.hostTables[name] = true
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
				f.hostTables[fmt.Sprintf("%s-%s-nat+filter.S", b, fam)] = true
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

// kpCase is one packet of the recorded scenarios and what kube-proxy's
// semantics say happens to it.
type kpCase struct {
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
	// host: the answer depends on the node's own (non-kube-proxy) rules.
	host bool
	// nft, when set, is the verdict in nftables mode where kube-proxy
	// really differs (see kpCases).
	nft Verdict
}

// kpCases builds the scenario packets from the recorded API objects: the
// expected endpoints come from the EndpointSlices, not from the rules
// (shared docs, kube-proxy-semantics.md §0.3, §0.4, §1.7, §2.7).
func kpCases(t *testing.T, f *kpFixture) []kpCase {
	client4 := f.podIP(t, "client", false)
	node4 := f.node.NodeIPs[0]
	const outside, denied = "203.0.113.5", "198.51.100.5"
	type tc = kpCase
	var cases []tc
	add := func(c tc) { cases = append(cases, c) }
	ip := func(svc string, i int) string { ips, _, _, _ := f.service(t, svc); return ips[i] }
	port := func(svc, name string) int { _, p, _, _ := f.service(t, svc); return p[name][0] }
	nodePort := func(svc string) int { _, p, _, _ := f.service(t, svc); return p[""][1] }
	ready := func(svc string) []string { return f.endpoints(svc, "IPv4", "", "ready") }

	for _, svc := range []string{"clusterip", "nodeport", "lb", "externalip", "affinity"} {
		add(tc{name: svc + " from a pod", hook: HookPrerouting, src: client4, dst: ip(svc, 0), port: 80, verdict: VerdictDNAT, endpoints: ready(svc)})
		add(tc{name: svc + " from the node", hook: HookOutput, src: node4, dst: ip(svc, 0), port: 80, verdict: VerdictDNAT, endpoints: ready(svc), masq: true})
		add(tc{name: svc + " ClusterIP from outside", hook: HookPrerouting, src: outside, dst: ip(svc, 0), port: 80, verdict: VerdictDNAT, endpoints: ready(svc), masq: true})
	}
	add(tc{name: "single endpoint", hook: HookPrerouting, src: client4, dst: ip("single", 0), port: 80, verdict: VerdictDNAT, endpoints: ready("single")})
	add(tc{name: "named port http", hook: HookPrerouting, src: client4, dst: ip("multiport", 0), port: port("multiport", "http"), verdict: VerdictDNAT, endpoints: f.endpoints("multiport", "IPv4", "http", "ready")})
	add(tc{name: "named port metrics", hook: HookPrerouting, src: client4, dst: ip("multiport", 0), port: port("multiport", "metrics"), verdict: VerdictDNAT, endpoints: f.endpoints("multiport", "IPv4", "metrics", "ready")})
	for _, svc := range []string{"nodeport", "lb"} {
		add(tc{name: svc + " NodePort from outside", hook: HookPrerouting, src: outside, dst: node4, port: nodePort(svc), verdict: VerdictDNAT, endpoints: ready(svc), masq: true})
		add(tc{name: svc + " NodePort from a pod", hook: HookPrerouting, src: client4, dst: node4, port: nodePort(svc), verdict: VerdictDNAT, endpoints: ready(svc), masq: true})
		add(tc{name: svc + " NodePort from the node", hook: HookOutput, src: node4, dst: node4, port: nodePort(svc), verdict: VerdictDNAT, endpoints: ready(svc), masq: true})
	}
	// nodePortAddresses is the node IP only (nftables mode's default
	// "primary" too): localhost is not a NodePort.
	add(tc{name: "NodePort on localhost", hook: HookOutput, src: "127.0.0.1", dst: "127.0.0.1", port: nodePort("nodeport"), verdict: VerdictNone})
	_, _, _, lb := f.service(t, "lb")
	add(tc{name: "load-balancer IP from outside", hook: HookPrerouting, src: outside, dst: lb[0], port: 80, verdict: VerdictDNAT, endpoints: ready("lb"), masq: true})
	add(tc{name: "load-balancer IP from the node", hook: HookOutput, src: node4, dst: lb[0], port: 80, verdict: VerdictDNAT, endpoints: ready("lb"), masq: true})
	_, _, _, lbr := f.service(t, "lb-ranges")
	add(tc{name: "source range: allowed client", hook: HookPrerouting, src: outside, dst: lbr[0], port: 80, verdict: VerdictDNAT, endpoints: ready("lb-ranges"), masq: true})
	add(tc{name: "source range: other client dropped", hook: HookPrerouting, src: denied, dst: lbr[0], port: 80, verdict: VerdictDrop})
	add(tc{name: "source range: the node is not in it", hook: HookOutput, src: node4, dst: lbr[0], port: 80, verdict: VerdictDrop})
	add(tc{name: "source range: a pod is not in it", hook: HookPrerouting, src: client4, dst: lbr[0], port: 80, verdict: VerdictDrop})
	_, _, _, lbn := f.service(t, "lb-ranges-node")
	add(tc{name: "source range with the node's network: node allowed", hook: HookOutput, src: node4, dst: lbn[0], port: 80, verdict: VerdictDNAT, endpoints: ready("lb-ranges-node"), masq: true})
	add(tc{name: "source range with the node's network: other client dropped", hook: HookPrerouting, src: denied, dst: lbn[0], port: 80, verdict: VerdictDrop})
	_, _, ext, _ := f.service(t, "externalip")
	add(tc{name: "external IP from outside", hook: HookPrerouting, src: outside, dst: ext[0], port: 80, verdict: VerdictDNAT, endpoints: ready("externalip"), masq: true})
	add(tc{name: "external IP from a pod", hook: HookPrerouting, src: client4, dst: ext[0], port: 80, verdict: VerdictDNAT, endpoints: ready("externalip"), masq: true})
	// eTP=Local, endpoints on this node: the client address is kept for
	// outside traffic; pod traffic short-circuits to the cluster chain;
	// the node's own traffic is masqueraded.
	add(tc{name: "eTP=Local from outside keeps the source", hook: HookPrerouting, src: outside, dst: node4, port: nodePort("etp-local"), verdict: VerdictDNAT, endpoints: ready("etp-local")})
	add(tc{name: "eTP=Local from a pod", hook: HookPrerouting, src: client4, dst: node4, port: nodePort("etp-local"), verdict: VerdictDNAT, endpoints: ready("etp-local")})
	add(tc{name: "eTP=Local from the node", hook: HookOutput, src: node4, dst: node4, port: nodePort("etp-local"), verdict: VerdictDNAT, endpoints: ready("etp-local"), masq: true})
	// eTP=Local with every endpoint on another node.
	add(tc{name: "eTP=Local, no local endpoint: outside dropped", hook: HookPrerouting, src: outside, dst: node4, port: nodePort("etp-local-remote"), verdict: VerdictDrop})
	add(tc{name: "eTP=Local, no local endpoint: pod short-circuits", hook: HookPrerouting, src: client4, dst: node4, port: nodePort("etp-local-remote"), verdict: VerdictDNAT, endpoints: ready("etp-local-remote"), remote: true})
	add(tc{name: "eTP=Local, no local endpoint: node short-circuits, masqueraded", hook: HookOutput, src: node4, dst: node4, port: nodePort("etp-local-remote"), verdict: VerdictDNAT, endpoints: ready("etp-local-remote"), masq: true, remote: true})
	add(tc{name: "eTP=Local, no local endpoint: ClusterIP uses all endpoints", hook: HookPrerouting, src: client4, dst: ip("etp-local-remote", 0), port: 80, verdict: VerdictDNAT, endpoints: ready("etp-local-remote"), remote: true})
	add(tc{name: "remote endpoint without an overlay route: the harness's uplink rules drop it", hook: HookPrerouting, src: client4, dst: ip("etp-local-remote", 0), port: 80, verdict: VerdictDrop, host: true})
	add(tc{name: "iTP=Local from a pod", hook: HookPrerouting, src: client4, dst: ip("itp-local", 0), port: 80, verdict: VerdictDNAT, endpoints: ready("itp-local")})
	add(tc{name: "iTP=Local from the node", hook: HookOutput, src: node4, dst: ip("itp-local", 0), port: 80, verdict: VerdictDNAT, endpoints: ready("itp-local"), masq: true})
	add(tc{name: "iTP=Local, no local endpoint: dropped", hook: HookPrerouting, src: client4, dst: ip("itp-local-remote", 0), port: 80, verdict: VerdictDrop})
	add(tc{name: "no endpoints: ClusterIP rejected", hook: HookPrerouting, src: client4, dst: ip("noendpoints", 0), port: 80, verdict: VerdictReject})
	add(tc{name: "no endpoints: from the node rejected", hook: HookOutput, src: node4, dst: ip("noendpoints", 0), port: 80, verdict: VerdictReject})
	add(tc{name: "no endpoints: NodePort rejected", hook: HookPrerouting, src: outside, dst: node4, port: nodePort("noendpoints"), verdict: VerdictReject})
	add(tc{name: "only terminating endpoints: the serving one is used", hook: HookPrerouting, src: client4, dst: ip("terminating", 0), port: 80, verdict: VerdictDNAT,
		endpoints: f.endpoints("terminating", "IPv4", "", "serving-terminating")})
	// Where the two modes really differ: nftables mode rejects traffic to
	// a port a ClusterIP does not serve and drops traffic to unallocated
	// service IPs (cluster-ips-check, nft:500-519); iptables mode has no
	// such rules and the packet goes on, untouched, to the route for the
	// service range.
	add(tc{name: "ClusterIP, a port it does not serve", hook: HookPrerouting, src: client4, dst: ip("clusterip", 0), port: 81, verdict: VerdictNone, nft: VerdictReject})
	add(tc{name: "unallocated ClusterIP", hook: HookPrerouting, src: client4, dst: "10.96.250.250", port: 80, verdict: VerdictNone, nft: VerdictDrop})
	add(tc{name: "dual-stack IPv4", hook: HookPrerouting, src: client4, dst: ip("dualstack", 0), port: 80, verdict: VerdictDNAT, endpoints: ready("dualstack")})
	if len(f.node.NodeIPs) > 1 {
		client6, node6 := f.podIP(t, "client", true), f.node.NodeIPs[1]
		ready6 := f.endpoints("dualstack", "IPv6", "", "ready")
		add(tc{name: "dual-stack IPv6 from a pod", hook: HookPrerouting, src: client6, dst: ip("dualstack", 1), port: 80, verdict: VerdictDNAT, endpoints: ready6, v6: true})
		add(tc{name: "dual-stack IPv6 from the node", hook: HookOutput, src: node6, dst: ip("dualstack", 1), port: 80, verdict: VerdictDNAT, endpoints: ready6, masq: true, v6: true})
		add(tc{name: "dual-stack IPv6 NodePort from outside", hook: HookPrerouting, src: "2001:db8::5", dst: node6, port: nodePort("dualstack"), verdict: VerdictDNAT, endpoints: ready6, masq: true, v6: true})
	}
	return cases
}

// TestKubeProxyScenarios asserts, for every recorded scenario and for
// packets from a pod, from the node and from outside, the verdict, the
// endpoints with exact probabilities and the masquerade decision that
// kube-proxy's semantics prescribe (kpCases). Every dump variant — the
// node's own iptables-nft-save, the legacy and nft round trips, with
// counters, and iptables -S of nat plus filter — must give the same
// answers.
func TestKubeProxyScenarios(t *testing.T) {
	f := loadKP(t)
	runKPCases(t, f, kpCases(t, f), false)
}

// TestKubeProxyNFTScenarios asserts the same cases on the recording of
// kube-proxy in nftables mode (testdata/kube-proxy-nft, the same
// scenarios.yaml): the node's nft list ruleset as text and as JSON, each
// alone and with the node's iptables-nft-save (which then supplies
// iptables-nft's tables), and kube-proxy's tables round-tripped through
// nft -f. The answers are those of iptables mode except where kube-proxy
// really differs (kpCase.nft).
func TestKubeProxyNFTScenarios(t *testing.T) {
	f := loadKPFrom(t, kpNFTDir)
	runKPCases(t, f, kpCases(t, f), true)
}

const kpNFTDir = "testdata/kube-proxy-nft"

func runKPCases(t *testing.T, f *kpFixture, cases []kpCase, nft bool) {
	for variant, rss := range f.dumps {
		isV6 := strings.Contains(variant, "v6")
		for _, c := range cases {
			if (!nft && c.v6 != isV6) || (c.host && !f.hostTables[variant]) {
				continue
			}
			if nft && c.nft != "" {
				c.verdict = c.nft
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
	testRealTraffic(t, kpDir, func(dst netip.Addr) string {
		if dst.Is6() {
			return "node-nft-v6.save"
		}
		return "node-nft-v4.save"
	})
}

// TestKubeProxyNFTRealTraffic is the same comparison for kube-proxy in
// nftables mode, predicted from the node's `nft -j list ruleset` (what
// the node helper collects) — from a recording of its own, with its own
// pods and addresses.
func TestKubeProxyNFTRealTraffic(t *testing.T) {
	testRealTraffic(t, kpNFTDir, func(netip.Addr) string { return "node.nft.json" })
}

func testRealTraffic(t *testing.T, kpDir string, variantFor func(netip.Addr) string) {
	f := loadKPFrom(t, kpDir)
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
			variant := variantFor(dst)
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
	sps := kpServicePorts(t, f)
	m := MapChains(f.dumps["nft-v4.save"], sps, NodeInfo{Name: "node1"})
	if len(m.Missing) != 0 {
		t.Errorf("missing chains: %+v", m.Missing)
	}
	for _, p := range m.Stale {
		// Other namespaces' chains (the e2e scenarios, kubernetes) are
		// "stale" against this namespace's objects only; ours must not be.
		if l, ok := m.Labels[p.Chain]; ok {
			t.Errorf("chain of the recorded scenarios reported stale: %s (%s)", p.Chain, l)
		}
	}
	labelled := 0
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

// TestKubeProxyNFTChainMapping recomputes, from the recorded API objects,
// the name of every chain and affinity set kube-proxy's nftables mode
// creates for the scenarios (servicePortChainNameBase and
// servicePortEndpointChainNameBase hashes) and compares them with the
// recorded `kube-proxy` tables of both families: none missing, none of
// ours stale, and every service-owned object of the scenarios labelled.
func TestKubeProxyNFTChainMapping(t *testing.T) {
	f := loadKPFrom(t, kpNFTDir)
	sps := kpServicePorts(t, f)
	for _, variant := range []string{"node.nft", "node.nft.json", "kube-proxy.nft"} {
		rss := f.dumps[variant]
		m := MapChains(rss, sps, NodeInfo{Name: "node1"})
		if len(m.Missing) != 0 {
			t.Errorf("%s: missing: %+v", variant, m.Missing)
		}
		for _, p := range m.Stale {
			if l, ok := m.Labels[p.Chain]; ok {
				t.Errorf("%s: object of the recorded scenarios reported stale: %s (%s)", variant, p.Chain, l)
			}
		}
		labelled, kinds := 0, map[ChainKind]int{}
		tbl := rss[0].NFT.Table("ip", "kube-proxy")
		names := []string{}
		for _, c := range tbl.Chains {
			names = append(names, c.Name)
		}
		for _, st := range tbl.Sets {
			names = append(names, st.Name)
		}
		for _, n := range names {
			if !strings.Contains(n, "-svct-rules/") {
				continue
			}
			l, ok := m.Label(n)
			if !ok {
				t.Errorf("%s: %s of the scenarios has no label", variant, n)
				continue
			}
			labelled++
			kinds[l.Kind]++
		}
		// service-, local-, external-, firewall- chains and, for the
		// affinity service, endpoint- chains and affinity- sets.
		if labelled < 30 || len(kinds) < 6 {
			t.Errorf("%s: only %d scenario objects checked (%v)", variant, labelled, kinds)
		}
	}
	// A stale chain and a missing one: drop a Service port from the
	// objects and add one with no rules.
	var fewer []ServicePortInfo
	for _, sp := range sps {
		if sp.Name != "single" {
			fewer = append(fewer, sp)
		}
	}
	fewer = append(fewer, ServicePortInfo{Namespace: "svct-rules", Name: "ghost", Protocol: "TCP", ClusterIP: "10.96.250.1", Port: 80,
		Endpoints: []EndpointInfo{{IP: "10.244.0.250", Port: 8080, Ready: true, Serving: true}}})
	m := MapChains(f.dumps["node.nft"], fewer, NodeInfo{Name: "node1"})
	single := "service-" + NFTServiceChainBase("svct-rules", "single", "tcp", "")
	ghost := "service-" + NFTServiceChainBase("svct-rules", "ghost", "tcp", "")
	stale, missing := false, false
	for _, p := range m.Stale {
		stale = stale || (p.Chain == single && p.Table == "ip kube-proxy")
	}
	for _, p := range m.Missing {
		missing = missing || (p.Chain == ghost && p.Table == "ip kube-proxy")
	}
	if !stale || !missing {
		t.Errorf("stale %s reported: %v; missing %s reported: %v", single, stale, ghost, missing)
	}
}

// kpServicePorts builds the ServicePortInfo of every recorded IPv4 service
// port from the objects, as trace.ServicePortsFromObjects does.
func kpServicePorts(t *testing.T, f *kpFixture) []ServicePortInfo {
	var sps []ServicePortInfo
	svcs := map[string]bool{}
	for _, it := range f.objs.Items {
		if it.Kind == "Service" {
			svcs[it.Metadata.Name] = true
		}
	}
	for name := range svcs {
		ips, ports, ext, lb := f.service(t, name)
		for pname, p := range ports {
			sp := ServicePortInfo{Namespace: "svct-rules", Name: name, PortName: pname, Protocol: "TCP",
				ExternallyAccessible: p[1] != 0 || len(ext) > 0 || len(lb) > 0,
				ExternalTrafficLocal: strings.HasPrefix(name, "etp-local"), InternalTrafficLocal: strings.HasPrefix(name, "itp-local"),
				LoadBalancerVIPs: lb, ClientIPAffinity: name == "affinity", ClusterIP: ips[0], Port: p[0], NodePort: p[1], ExternalIPs: ext}
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
	return sps
}

// TestKubeProxyNFTHairpin: in nftables mode a backend reaching its own
// Service is masqueraded by the hairpin-connections set (`ct status dnat
// ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections`),
// only on the branch that lands on itself — the same answer as iptables
// mode's per-endpoint `-s <ep> -j KUBE-MARK-MASQ` rule.
func TestKubeProxyNFTHairpin(t *testing.T) {
	f := loadKPFrom(t, kpNFTDir)
	ips, _, _, _ := f.service(t, "clusterip")
	eps := f.endpoints("clusterip", "IPv4", "", "ready")
	self := netip.MustParseAddrPort(eps[1]).Addr()
	for _, variant := range []string{"node.nft", "node.nft.json"} {
		res, err := Evaluate(EvalInput{Rulesets: f.dumps[variant], NodeIPs: f.nodeIPs, Routes: f.routes,
			Packet: Packet{Src: self, Dst: netip.MustParseAddr(ips[0]), DstPort: 80, Proto: "tcp"}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Masquerade || len(res.Endpoints) != 3 || res.Uncertain {
			t.Fatalf("%s: %s masq=%v %v uncertain=%v", variant, res.Verdict, res.Masquerade, resultEndpoints(res), res.Uncertain)
		}
		for _, e := range res.Endpoints {
			if want := e.IP == self.String(); e.Masquerade != want || e.Fraction != "1/3" {
				t.Errorf("%s: endpoint %s masquerade=%v fraction %s, want %v 1/3", variant, e.IP, e.Masquerade, e.Fraction, want)
			}
		}
	}
}

// TestKubeProxyNFTAffinity: ClientIP affinity in nftables mode. The
// dump holds the affinity sets' state: before any traffic a client has
// no entry and gets exactly 1/3 per endpoint, with no sticky branch; in
// the dump taken after the recorded traffic the client's address is in
// one endpoint's affinity set, and every new connection goes there —
// the endpoint that really answered all of the client's requests.
// --affinity (EvalInput.Affinity) overrides the dumped state.
func TestKubeProxyNFTAffinity(t *testing.T) {
	f := loadKPFrom(t, kpNFTDir)
	ips, _, _, _ := f.service(t, "affinity")
	client := netip.MustParseAddr(f.podIP(t, "client", false))
	in := EvalInput{Rulesets: f.dumps["node.nft.json"], NodeIPs: f.nodeIPs, Routes: f.routes,
		Packet: Packet{Src: client, Dst: netip.MustParseAddr(ips[0]), DstPort: 80, Proto: "tcp"}}
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Endpoints) != 3 {
		t.Fatalf("fresh client: %v", resultEndpoints(res))
	}
	for _, b := range res.Branches {
		if b.Sticky || b.Fraction != "1/3" {
			t.Errorf("fresh client: branch %s sticky=%v", b.Fraction, b.Sticky)
		}
	}
	target := res.Endpoints[1]
	set := "affinity-" + NFTEndpointChainBase("svct-rules", "affinity", "tcp", "", EndpointString(target.IP, target.Port))
	in.Affinity = map[string]bool{set: true}
	res, err = Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Endpoints) != 1 || res.Endpoints[0].IP != target.IP || res.Endpoints[0].Fraction != "1" {
		t.Errorf("--affinity %s: %v", set, resultEndpoints(res))
	}

	// After the traffic: the state in the dump decides.
	var answered string
	b, err := os.ReadFile(filepath.Join(kpNFTDir, "traffic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var samples []struct {
		Scenario, From, Src string
		Answers             map[string]int
	}
	if err := json.Unmarshal(b, &samples); err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		if s.Scenario == "affinity" && s.From == "pod" {
			for k := range s.Answers {
				answered, _, _ = strings.Cut(k, " ")
			}
		}
	}
	for _, name := range []string{"node-after-traffic.nft", "node-after-traffic.nft.json"} {
		b, err := os.ReadFile(filepath.Join(kpNFTDir, name))
		if err != nil {
			t.Fatalf("%s not recorded (hack/record-rules.sh with PROXY_MODE=nftables): %v", name, err)
		}
		rs, err := ParseAnyString(string(b), ParseOptions{Source: name})
		if err != nil {
			t.Fatal(err)
		}
		in := EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: f.nodeIPs, Routes: f.routes,
			Packet: Packet{Src: client, Dst: netip.MustParseAddr(ips[0]), DstPort: 80, Proto: "tcp"}}
		res, err := Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Endpoints) != 1 || res.Endpoints[0].IP != answered || res.Endpoints[0].Fraction != "1" || res.Uncertain {
			t.Errorf("%s: the client is in an affinity set: got %v (uncertain %v), the endpoint that answered it is %s\n%s",
				name, resultEndpoints(res), res.Uncertain, answered, warningsText(res.Warnings))
		}
		// A client that never connected still gets 1/3 each.
		in.Packet.Src = netip.MustParseAddr("203.0.113.77")
		res, err = Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Endpoints) != 3 {
			t.Errorf("%s: new client: %v", name, resultEndpoints(res))
		}
	}
}
