package rules

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"testing"
)

var (
	testNode = netip.MustParseAddr("10.250.0.10")
	testPod  = netip.MustParseAddr("10.150.1.3") // inside genDump's cluster CIDR
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func evalT(t *testing.T, rs []*Ruleset, hook Hook, src, dst string, port uint16) *Result {
	t.Helper()
	res, err := Evaluate(EvalInput{Rulesets: rs, NodeIPs: []netip.Addr{testNode, addr("fd00:10:250::10")}, Hook: hook,
		Packet: Packet{Src: addr(src), Dst: addr(dst), DstPort: port, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func endpointsText(res *Result) string {
	var b []string
	for _, e := range res.Endpoints {
		b = append(b, fmt.Sprintf("%s:%d=%s masq=%v", e.IP, e.Port, e.Fraction, e.Masquerade))
	}
	return strings.Join(b, " ")
}

// The load balancing kube-proxy writes for n endpoints (probabilities
// 1/n, 1/(n-1), ... as the kernel reprints them) gives every endpoint
// exactly 1/n.
func TestEvaluateExactProbabilities(t *testing.T) {
	for n := 1; n <= 12; n++ {
		text, svcs := genDump(genOpts{services: 3, endpoints: n})
		rs := parseT(t, text, ParseOptions{Source: "gen"})
		s := svcs[1]
		res := evalT(t, []*Ruleset{rs}, HookPrerouting, testPod.String(), s.clusterIP.String(), uint16(s.port))
		if res.Verdict != VerdictDNAT || len(res.Endpoints) != n || res.Uncertain || res.Masquerade {
			t.Fatalf("n=%d: %s uncertain=%v masq=%v %s", n, res.Verdict, res.Uncertain, res.Masquerade, endpointsText(res))
		}
		sum := new(big.Rat)
		for i, e := range res.Endpoints {
			want := fmt.Sprintf("1/%d", n)
			if n == 1 {
				want = "1"
			}
			if e.Fraction != want || EndpointString(e.IP, e.Port) != s.eps[i] || e.Chain != s.sepChains[i] {
				t.Errorf("n=%d endpoint %d: %+v, want %s %s", n, i, e, s.eps[i], want)
			}
			r, _ := new(big.Rat).SetString(e.Fraction)
			sum.Add(sum, r)
		}
		if sum.Cmp(big.NewRat(1, 1)) != 0 {
			t.Errorf("n=%d: probabilities sum to %s", n, sum)
		}
		// The tree shows one sibling per endpoint, not a ladder of
		// matched/not-matched pairs.
		if n > 1 && len(res.Path.Branches) != n {
			t.Errorf("n=%d: %d branches at the fork", n, len(res.Path.Branches))
		}
	}
}

// Masquerade as kube-proxy decides it (semantics doc §1.7): ClusterIP from
// outside the cluster CIDR, every NodePort/external packet with eTP=Cluster,
// and hairpin (a pod reaching itself through its Service).
func TestEvaluateMasquerade(t *testing.T) {
	text, svcs := genDump(genOpts{services: 5, endpoints: 3, nodePortEvery: 1})
	rs := []*Ruleset{parseT(t, text, ParseOptions{Source: "gen"})}
	s := svcs[2]
	epIP := s.eps[1][:strings.LastIndexByte(s.eps[1], ':')]
	tests := []struct {
		name      string
		hook      Hook
		src, dst  string
		port      int
		masq      bool
		masqEpIdx int // -1: all endpoints alike
	}{
		{"pod to ClusterIP", HookPrerouting, testPod.String(), s.clusterIP.String(), s.port, false, -1},
		{"node to ClusterIP", HookOutput, testNode.String(), s.clusterIP.String(), s.port, true, -1},
		{"outside to ClusterIP", HookPrerouting, "192.168.9.9", s.clusterIP.String(), s.port, true, -1},
		{"outside to NodePort", HookPrerouting, "192.168.9.9", testNode.String(), s.nodePort, true, -1},
		{"pod to NodePort", HookPrerouting, testPod.String(), testNode.String(), s.nodePort, true, -1},
		{"hairpin", HookPrerouting, epIP, s.clusterIP.String(), s.port, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := evalT(t, rs, tc.hook, tc.src, tc.dst, uint16(tc.port))
			if res.Verdict != VerdictDNAT || len(res.Endpoints) != 3 || res.Masquerade != tc.masq || res.Uncertain {
				t.Fatalf("%s masq=%v uncertain=%v %s\n%s", res.Verdict, res.Masquerade, res.Uncertain, endpointsText(res), warningsText(res.Warnings))
			}
			for i, e := range res.Endpoints {
				want := tc.masq
				if tc.masqEpIdx >= 0 {
					want = i == tc.masqEpIdx
				}
				if e.Masquerade != want || e.Fraction != "1/3" {
					t.Errorf("endpoint %d: %+v", i, e)
				}
			}
		})
	}
}

// ClientIP affinity: the fresh client's distribution is unchanged (1/n
// each); every endpoint also has a sticky branch that depends on the
// recent list, shown with probability 0 and its condition. With the
// affinity state given, the answer is that one endpoint.
func TestEvaluateAffinity(t *testing.T) {
	text, svcs := genDump(genOpts{services: 2, endpoints: 3, affinityEvery: 1})
	rs := []*Ruleset{parseT(t, text, ParseOptions{Source: "gen"})}
	s := svcs[0]
	res := evalT(t, rs, HookPrerouting, testPod.String(), s.clusterIP.String(), uint16(s.port))
	if res.Verdict != VerdictDNAT || len(res.Endpoints) != 3 || res.Uncertain {
		t.Fatalf("%s %s", res.Verdict, endpointsText(res))
	}
	sticky := 0
	for _, b := range res.Branches {
		if b.Sticky {
			sticky++
			if b.Probability != 0 || len(b.Conditions) != 1 || !strings.Contains(b.Conditions[0], "recent list KUBE-SEP-") || b.Verdict != VerdictDNAT {
				t.Errorf("sticky branch %+v", b)
			}
		}
	}
	for _, e := range res.Endpoints {
		if e.Fraction != "1/3" || !e.Sticky {
			t.Errorf("endpoint %+v", e)
		}
	}
	if sticky != 3 || len(res.Branches) != 6 {
		t.Errorf("%d sticky of %d branches", sticky, len(res.Branches))
	}
	in := EvalInput{Rulesets: rs, NodeIPs: []netip.Addr{testNode}, Affinity: map[string]bool{s.sepChains[2]: true},
		Packet: Packet{Src: testPod, Dst: s.clusterIP, DstPort: uint16(s.port), Proto: "tcp"}}
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Endpoints) != 1 || EndpointString(res.Endpoints[0].IP, res.Endpoints[0].Port) != s.eps[2] || res.Endpoints[0].Fraction != "1" {
		t.Errorf("known affinity: %s", endpointsText(res))
	}
}

func TestEvaluateIPv6(t *testing.T) {
	text, svcs := genDump(genOpts{services: 3, endpoints: 2, ipv6: true, nodePortEvery: 1})
	rs := parseT(t, text, ParseOptions{Source: "gen6"})
	if rs.Family != IPv6 {
		t.Fatalf("family %s", rs.Family)
	}
	s := svcs[1]
	res := evalT(t, []*Ruleset{rs}, HookPrerouting, "fd00:10::5", s.clusterIP.String(), uint16(s.port))
	var want []string
	for _, ep := range s.eps {
		ap := netip.MustParseAddrPort(ep)
		want = append(want, fmt.Sprintf("%s:%d=1/2 masq=false", ap.Addr(), ap.Port()))
	}
	if res.Verdict != VerdictDNAT || endpointsText(res) != strings.Join(want, " ") {
		t.Errorf("%s %s", res.Verdict, endpointsText(res))
	}
	res = evalT(t, []*Ruleset{rs}, HookPrerouting, "2001:db8::1", "fd00:10:250::10", uint16(s.nodePort))
	if res.Verdict != VerdictDNAT || !res.Masquerade || len(res.Endpoints) != 2 {
		t.Errorf("IPv6 NodePort: %s masq=%v %s", res.Verdict, res.Masquerade, endpointsText(res))
	}
	// An IPv4 packet is not evaluated against IPv6 rules.
	if _, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, Packet: Packet{Src: testPod, Dst: testNode, DstPort: 80}}); err == nil {
		t.Errorf("IPv4 packet against IPv6 rules: no error")
	}
}

// The semantics below are checked on small rule sets written for the test
// (not claimed to be anything a node printed): each isolates one rule of
// the netfilter walk.
func TestEvaluateSemantics(t *testing.T) {
	nat := func(body string) string {
		return "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" + body + "COMMIT\n"
	}
	filter := func(fwdPolicy, body string) string {
		return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD " + fwdPolicy + " [0:0]\n:OUTPUT ACCEPT [0:0]\n" + body + "COMMIT\n"
	}
	masq := ":KUBE-POSTROUTING - [0:0]\n-A POSTROUTING -j KUBE-POSTROUTING\n" +
		"-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n" +
		"-A KUBE-POSTROUTING -j MASQUERADE --random-fully\n"
	tests := []struct {
		name      string
		text      string
		hook      Hook
		src, dst  string
		port      uint16
		in        func(*EvalInput)
		verdict   Verdict
		endpoints string
		masq      bool
		uncertain bool
		warning   string
		lint      bool // the rule set has rules the parser flags on purpose
	}{
		{name: "goto returns to the caller's caller",
			text: nat(":A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A PREROUTING -j DNAT --to-destination 10.9.9.9:1\n" +
				"-A A -g B\n-A A -j DNAT --to-destination 10.8.8.8:1\n-A B -j RETURN\n"),
			verdict: VerdictDNAT, endpoints: "10.9.9.9:1=1 masq=false"},
		{name: "jump returns to the caller",
			text:    nat(":A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A A -j B\n-A A -j DNAT --to-destination 10.8.8.8:1\n-A B -j RETURN\n"),
			verdict: VerdictDNAT, endpoints: "10.8.8.8:1=1 masq=false"},
		{name: "DNAT keeps the port when none is given",
			text: nat("-A PREROUTING -j DNAT --to-destination 10.8.8.8\n"), port: 8443,
			verdict: VerdictDNAT, endpoints: "10.8.8.8:8443=1 masq=false"},
		{name: "FORWARD policy DROP after DNAT wins",
			text:    nat("-A PREROUTING -j DNAT --to-destination 10.8.8.8:80\n") + filter("DROP", ""),
			verdict: VerdictDrop, endpoints: ""},
		{name: "marked packets are accepted on a DROP-policy FORWARD and masqueraded",
			text: nat(":KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n-A PREROUTING -j KUBE-MARK-MASQ\n-A PREROUTING -j DNAT --to-destination 10.8.8.8:80\n"+masq) +
				filter("DROP", "-A FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT\n"),
			verdict: VerdictDNAT, endpoints: "10.8.8.8:80=1 masq=true", masq: true},
		{name: "mark cleared by xor is not masqueraded",
			text:    nat(":KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n-A PREROUTING -j KUBE-MARK-MASQ\n-A PREROUTING -j MARK --xor-mark 0x4000\n-A PREROUTING -j DNAT --to-destination 10.8.8.8:80\n" + masq),
			verdict: VerdictDNAT, endpoints: "10.8.8.8:80=1 masq=false"},
		{name: "and-mark",
			text:    nat("-A PREROUTING -j MARK --set-mark 0x4001\n-A PREROUTING -j MARK --and-mark 0x1\n-A PREROUTING -m mark --mark 0x1 -j DNAT --to-destination 10.8.8.8:80\n"),
			verdict: VerdictDNAT, endpoints: "10.8.8.8:80=1 masq=false"},
		{name: "REJECT in filter",
			text: filter("ACCEPT", "-A FORWARD -d 10.96.0.5/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n"),
			dst:  "10.96.0.5", verdict: VerdictReject},
		{name: "explicit ACCEPT",
			text: filter("ACCEPT", "-A FORWARD -d 10.96.0.5/32 -j ACCEPT\n"), dst: "10.96.0.5", verdict: VerdictAccept},
		{name: "no rule touches it",
			text: filter("ACCEPT", "-A FORWARD -d 10.96.0.6/32 -j DROP\n"), dst: "10.96.0.5", verdict: VerdictNone},
		{name: "negated address",
			text: filter("ACCEPT", "-A FORWARD ! -s 10.0.0.0/8 -j DROP\n"), src: "192.168.1.1", verdict: VerdictDrop},
		{name: "negated address, not matching",
			text: filter("ACCEPT", "-A FORWARD ! -s 10.0.0.0/8 -j DROP\n"), src: "10.1.1.1", verdict: VerdictNone},
		{name: "multiport",
			text: filter("ACCEPT", "-A FORWARD -p tcp -m multiport --dports 22,80:90 -j DROP\n"), port: 85, verdict: VerdictDrop},
		{name: "unknown match is never a match",
			text:    filter("ACCEPT", "-A FORWARD -m frobnicate --level 3 -j DROP\n"),
			verdict: VerdictNone, uncertain: true, warning: "filter/FORWARD rule 1: not evaluated, treated as not matching: -m frobnicate --level 3"},
		{name: "a definite mismatch decides despite an unknown match",
			text:    filter("ACCEPT", "-A FORWARD -d 10.99.0.0/16 -m frobnicate --level 3 -j DROP\n"),
			verdict: VerdictNone, lint: true},
		{name: "unknown input interface",
			text:    filter("ACCEPT", "-A FORWARD -i cni0 -j DROP\n"),
			verdict: VerdictNone, uncertain: true, warning: "-i cni0: the packet's interface is not known"},
		{name: "known input interface, wildcard",
			text: filter("ACCEPT", "-A FORWARD -i cni+ -j DROP\n"), in: func(in *EvalInput) { in.Packet.InIface = "cni0" },
			verdict: VerdictDrop},
		{name: "output interface from routes",
			text: nat("-A PREROUTING -j DNAT --to-destination 10.244.0.5:80\n") + filter("ACCEPT", "-A FORWARD -o eth0 -j DROP\n"),
			in: func(in *EvalInput) {
				in.Routes = []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0"}, {Dst: netip.MustParsePrefix("10.244.0.0/24"), Dev: "cni0"}}
			},
			verdict: VerdictDNAT, endpoints: "10.244.0.5:80=1 masq=false"},
		{name: "ipset without contents",
			text:    filter("ACCEPT", "-A FORWARD -m set --match-set KUBE-CLUSTER-IP dst,dst -j DROP\n"),
			verdict: VerdictNone, uncertain: true, warning: "--match-set KUBE-CLUSTER-IP: the set's contents were not given"},
		{name: "ipset with contents",
			text: filter("ACCEPT", "-A FORWARD -m set --match-set KUBE-CLUSTER-IP dst,dst -j DROP\n"), dst: "10.96.0.10", port: 53,
			in: func(in *EvalInput) {
				in.IPSets = map[string]*IPSet{"KUBE-CLUSTER-IP": {Name: "KUBE-CLUSTER-IP", Type: "hash:ip,port", Members: []string{"10.96.0.10,tcp:53"}}}
			},
			verdict: VerdictDrop},
		{name: "ctstate DNAT is set after DNAT",
			text: nat("-A PREROUTING -j DNAT --to-destination 10.8.8.8:80\n") +
				filter("ACCEPT", "-A FORWARD -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT -j DROP\n-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT\n"),
			verdict: VerdictDNAT, endpoints: "10.8.8.8:80=1 masq=false"},
		{name: "DNAT to the node itself is delivered locally: INPUT, no POSTROUTING",
			text: nat(":KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n-A PREROUTING -j KUBE-MARK-MASQ\n-A PREROUTING -j DNAT --to-destination 10.250.0.10:10250\n"+masq) +
				filter("DROP", "-A INPUT -p tcp --dport 10250 -j REJECT\n"),
			verdict: VerdictReject},
		{name: "a node process to a local address loops back through INPUT",
			text: filter("ACCEPT", "-A INPUT -i lo -d 127.0.0.1/32 -j DROP\n"), hook: HookOutput, src: "127.0.0.1", dst: "127.0.0.1",
			verdict: VerdictDrop},
		{name: "statistic with a hand-written probability is taken as printed",
			text:    nat("-A PREROUTING -m statistic --mode random --probability 0.3 -j DNAT --to-destination 10.1.1.1:80\n-A PREROUTING -j DNAT --to-destination 10.1.1.2:80\n"),
			verdict: VerdictDNAT, endpoints: "10.1.1.1:80=3/10 masq=false 10.1.1.2:80=7/10 masq=false"},
		{name: "nth mode",
			text:    nat("-A PREROUTING -m statistic --mode nth --every 4 --packet 0 -j DNAT --to-destination 10.1.1.1:80\n-A PREROUTING -j DNAT --to-destination 10.1.1.2:80\n"),
			verdict: VerdictDNAT, endpoints: "10.1.1.1:80=1/4 masq=false 10.1.1.2:80=3/4 masq=false"},
		{name: "jump to a chain that does not exist",
			text:    nat("-A PREROUTING -j KUBE-NOPE\n"),
			verdict: VerdictNone, uncertain: true, warning: "jump to KUBE-NOPE, which is neither a chain"},
		{name: "a loop is cut off",
			text:    nat(":A - [0:0]\n-A PREROUTING -j A\n-A A -j A\n"),
			verdict: VerdictNone, uncertain: true, warning: "more than 128 deep"},
		{name: "addrtype LOCAL is the node IPs and loopback",
			text: nat("-A PREROUTING -m addrtype --dst-type LOCAL -j DNAT --to-destination 10.1.1.1:80\n"), dst: "10.250.0.10",
			verdict: VerdictDNAT, endpoints: "10.1.1.1:80=1 masq=false"},
		{name: "addrtype LOCAL does not match other addresses",
			text: nat("-A PREROUTING -m addrtype --dst-type LOCAL -j DNAT --to-destination 10.1.1.1:80\n"), dst: "10.250.0.11",
			verdict: VerdictNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := parseT(t, tc.text, ParseOptions{Source: "t"})
			if ws := rs.Check(); len(ws) > 0 && !tc.uncertain && !tc.lint {
				t.Fatalf("rule warnings:\n%s", warningsText(ws))
			}
			src, dst, port, hook := "10.1.2.3", "10.96.0.5", uint16(80), HookPrerouting
			if tc.src != "" {
				src = tc.src
			}
			if tc.dst != "" {
				dst = tc.dst
			}
			if tc.port != 0 {
				port = tc.port
			}
			if tc.hook != "" {
				hook = tc.hook
			}
			in := EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: []netip.Addr{testNode}, Hook: hook,
				Packet: Packet{Src: addr(src), Dst: addr(dst), DstPort: port, Proto: "tcp"}}
			if tc.in != nil {
				tc.in(&in)
			}
			res, err := Evaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.verdict || endpointsText(res) != tc.endpoints || res.Masquerade != tc.masq || res.Uncertain != tc.uncertain {
				t.Errorf("got %s [%s] masq=%v uncertain=%v, want %s [%s] masq=%v uncertain=%v\n%s",
					res.Verdict, endpointsText(res), res.Masquerade, res.Uncertain, tc.verdict, tc.endpoints, tc.masq, tc.uncertain, warningsText(res.Warnings))
			}
			ws := warningsText(res.Warnings)
			if tc.warning != "" && !strings.Contains(ws, tc.warning) {
				t.Errorf("missing warning %q in:\n%s", tc.warning, ws)
			}
		})
	}
}

// When legacy and nft tables are both on a node, the kernel runs both:
// both dumps are walked, with a warning.
func TestEvaluateBothBackends(t *testing.T) {
	legacy := parseT(t, "# Generated by iptables-save v1.8.9 on x\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -d 10.96.0.5/32 -j DROP\nCOMMIT\n", ParseOptions{Source: "legacy"})
	nft := parseT(t, "# Generated by iptables-nft-save v1.8.9 (nf_tables) on x\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n", ParseOptions{Source: "nft"})
	res := evalT(t, []*Ruleset{nft, legacy}, HookPrerouting, "10.1.2.3", "10.96.0.5", 80)
	if res.Verdict != VerdictDrop || !strings.Contains(warningsText(res.Warnings), "the kernel runs both") {
		t.Errorf("%s\n%s", res.Verdict, warningsText(res.Warnings))
	}
}

func TestEvaluateInputErrors(t *testing.T) {
	rs := parseT(t, nftSave, ParseOptions{})
	for name, in := range map[string]EvalInput{
		"no source":      {Rulesets: []*Ruleset{rs}, Packet: Packet{Dst: testNode, DstPort: 80}},
		"mixed families": {Rulesets: []*Ruleset{rs}, Packet: Packet{Src: testPod, Dst: addr("fd00::1"), DstPort: 80}},
		"bad protocol":   {Rulesets: []*Ruleset{rs}, Packet: Packet{Src: testPod, Dst: testNode, DstPort: 80, Proto: "icmp"}},
		"no port":        {Rulesets: []*Ruleset{rs}, Packet: Packet{Src: testPod, Dst: testNode}},
		"bad hook":       {Rulesets: []*Ruleset{rs}, Hook: "input", Packet: Packet{Src: testPod, Dst: testNode, DstPort: 80}},
	} {
		if _, err := Evaluate(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEvaluateBranchLimit(t *testing.T) {
	text, svcs := genDump(genOpts{services: 1, endpoints: 50})
	rs := parseT(t, text, ParseOptions{})
	res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, MaxBranches: 10,
		Packet: Packet{Src: testPod, Dst: svcs[0].clusterIP, DstPort: uint16(svcs[0].port)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Branches) > 10 || !strings.Contains(warningsText(res.Warnings), "more than 10 branches") {
		t.Errorf("%d branches\n%s", len(res.Branches), warningsText(res.Warnings))
	}
}

// A parsed Ruleset is shared by concurrent evaluations: chains compile once,
// and the prefilter of the long KUBE-SERVICES fills its blocks and compiles
// its rules once, under the ruleset's lock (run with -race).
func TestEvaluateConcurrently(t *testing.T) {
	text, svcs := genDump(genOpts{services: 2*preBlock + 100, endpoints: 3, nodePortEvery: 2})
	rs := parseT(t, text, ParseOptions{})
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := g; i < len(svcs); i += 8 * 37 {
				s := svcs[i]
				res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: []netip.Addr{testNode},
					Packet: Packet{Src: testPod, Dst: s.clusterIP, DstPort: uint16(s.port), Proto: "tcp"}})
				if err == nil && (res.Verdict != VerdictDNAT || len(res.Endpoints) != 3) {
					err = fmt.Errorf("service %d: %s %d endpoints", i, res.Verdict, len(res.Endpoints))
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
