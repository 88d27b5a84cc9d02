package rules

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func nftEval(t *testing.T, text string, hook Hook, src, dst string, port uint16) *Result {
	t.Helper()
	rs, err := ParseNFTString(text, ParseOptions{Source: "t"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: []netip.Addr{netip.MustParseAddr("192.168.0.2")}, Hook: hook,
		Packet: Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), DstPort: port, Proto: "tcp", InIface: "eth0"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestNFTHookOrder: base chains of all tables run at their hook in
// priority order; nat-type chains run at the NAT hook's position (-100 at
// prerouting) whatever their own priority, so a filter chain at -50 sees
// the DNATed address and one at -150 the original; after a DNAT the
// remaining nat chains of the hook are skipped (the connection's NAT is
// set up: nf_nat_inet_fn).
func TestNFTHookOrder(t *testing.T) {
	rules := `
table ip a {
	chain nat1 {
		type nat hook prerouting priority -90; policy accept;
		ip daddr 10.96.0.1 tcp dport 80 dnat to 10.244.0.5:8080
	}
	chain nat2 {
		type nat hook prerouting priority -95; policy accept;
		ip daddr 10.96.0.2 tcp dport 80 dnat to 10.244.0.6:8080
	}
}
table ip b {
	chain early {
		type filter hook prerouting priority -150; policy accept;
		ip daddr 10.244.0.5 drop
	}
	chain late {
		type filter hook prerouting priority -50; policy accept;
		ip daddr 10.244.0.6 drop
	}
	chain nat3 {
		type nat hook prerouting priority -99; policy accept;
		ip daddr 10.244.0.5 dnat to 10.244.0.7:8080
	}
}
`
	// 10.96.0.1: nat3 (-99) sees the original address, nat1 (-90) DNATs
	// to .5; "early" ran before any NAT; "late" sees .5, not .6: DNAT.
	res := nftEval(t, rules, HookPrerouting, "10.244.0.9", "10.96.0.1", 80)
	if res.Verdict != VerdictDNAT || resultEndpoints(res)[0] != "10.244.0.5:8080" {
		t.Errorf("10.96.0.1: %s %v", res.Verdict, resultEndpoints(res))
	}
	// 10.96.0.2: nat2 (-95) DNATs to .6 before nat1 (-90) would run;
	// "late" at -50 runs after the NAT hook and drops .6.
	res = nftEval(t, rules, HookPrerouting, "10.244.0.9", "10.96.0.2", 80)
	if res.Verdict != VerdictDrop {
		t.Errorf("10.96.0.2: %s %v", res.Verdict, resultEndpoints(res))
	}
	var chains []string
	for _, s := range res.Branches[0].Steps {
		chains = append(chains, s.Table+"/"+s.Chain)
	}
	if strings.Join(chains, " ") != "ip a/nat2 ip b/late" {
		t.Errorf("steps: %v", chains)
	}
}

// TestNFTStatements covers the statements beyond kube-proxy's own rules that
// nodes commonly hold (iptables-nft's translations, firewalld): interval
// sets, named vmaps, marks, interface names, and the undecidable ones.
func TestNFTStatements(t *testing.T) {
	rules := `
table inet fw {
	set allowed {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.168.1.1-192.168.1.9 }
	}
	map ports {
		type inet_service : verdict
		elements = { 22 : accept, 80 : jump web, 443 : goto web }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		ip saddr != @allowed drop
		tcp dport vmap @ports
		meta l4proto udp accept
	}
	chain web {
		meta mark set meta mark | 0x10
		tcp dport 443 meta mark & 0x10 == 0x10 return
		meta mark 0x10 accept
	}
}
`
	cases := []struct {
		src     string
		port    uint16
		verdict Verdict
	}{
		{"10.1.2.3", 22, VerdictAccept},   // vmap accept
		{"10.1.2.3", 80, VerdictAccept},   // jump web: mark set, accept
		{"192.168.1.5", 443, VerdictDrop}, // goto web: return from a goto'd chain → base policy drop
		{"192.168.1.10", 22, VerdictDrop}, // outside the interval set
		{"10.1.2.3", 25, VerdictDrop},     // no vmap element: on to policy drop
	}
	for _, c := range cases {
		res := nftEval(t, rules, HookPrerouting, c.src, "192.168.0.2", c.port)
		if res.Verdict != c.verdict || res.Uncertain {
			t.Errorf("%s -> :%d: %s uncertain=%v, want %s\n%s", c.src, c.port, res.Verdict, res.Uncertain, c.verdict, warningsText(res.Warnings))
		}
	}
	// iifname is undecidable without --in-interface: the rule is not
	// matched and the result says why.
	rs, _ := ParseNFTString(rules, ParseOptions{Source: "t"})
	res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: []netip.Addr{netip.MustParseAddr("192.168.0.2")},
		Packet: Packet{Src: netip.MustParseAddr("10.1.2.3"), Dst: netip.MustParseAddr("192.168.0.2"), DstPort: 22, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictAccept || !res.Uncertain || !strings.Contains(warningsText(res.Warnings), "iifname") {
		// (the unknown iifname rule is skipped; the vmap then accepts)
		t.Errorf("unknown interface: %s uncertain=%v %s", res.Verdict, res.Uncertain, warningsText(res.Warnings))
	}
}

// TestNFTProblems: what cannot be read is reported with its line and
// never treated as a match; loops are cut.
func TestNFTProblems(t *testing.T) {
	text := `table ip t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.96.0.1 jhash ip saddr mod 2 == 0 dnat to 10.0.0.1
		ip daddr 10.96.0.1 tcp dport 80 goto loop
		ip daddr 10.96.0.2 jump nowhere
		ip daddr @nosuchset accept
	}
	chain loop {
		goto loop
	}
	frobnicate
}
bogus line here
table ip cut {
	chain c {
`
	rs, err := ParseNFTString(text, ParseOptions{Source: "p"})
	if err != nil {
		t.Fatal(err)
	}
	w := warningsText(rs.Warnings)
	for _, want := range []string{"p:12: table ip t: unrecognised \"frobnicate\"", "p:14: unrecognised nft statement \"bogus line here\"", "cut off"} {
		if !strings.Contains(w, want) {
			t.Errorf("parse warnings lack %q:\n%s", want, w)
		}
	}
	pre := rs.NFT.Table("ip", "t").Chain("pre")
	for i, want := range []string{"jhash", "", "no such chain", "@nosuchset does not exist"} {
		got := strings.Join(pre.Rules[i].Problems(), "; ")
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("rule %d problems %q, want %q", i+1, got, want)
		}
	}
	res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, Packet: Packet{Src: netip.MustParseAddr("10.0.0.9"), Dst: netip.MustParseAddr("10.96.0.1"), DstPort: 80, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	ws := warningsText(res.Warnings)
	if !res.Uncertain || !strings.Contains(ws, "p:4: ip t/pre rule 1: not evaluated") || !strings.Contains(ws, "a loop") {
		t.Errorf("uncertain=%v\n%s", res.Uncertain, ws)
	}
	// A rule whose plain comparison fails is simply no match, whatever
	// else it holds (rules 1 and 3 for 10.96.0.3); rule 4's comparison
	// itself cannot be read, so it is reported.
	res, _ = Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, Packet: Packet{Src: netip.MustParseAddr("10.0.0.9"), Dst: netip.MustParseAddr("10.96.0.3"), DstPort: 80, Proto: "tcp"}})
	ws = warningsText(res.Warnings)
	if !res.Uncertain || res.Verdict != VerdictNone || strings.Contains(ws, "rule 1:") || strings.Contains(ws, "rule 3:") || !strings.Contains(ws, "rule 4: not evaluated") {
		t.Errorf("10.96.0.3: %s uncertain=%v\n%s", res.Verdict, res.Uncertain, ws)
	}
}

// TestNFTIptablesNFT: the tables iptables-nft owns are recognised in text
// (nft's warning comment) and JSON (xt expressions), and give way to the
// same node's iptables-save when it is given too.
func TestNFTIptablesNFT(t *testing.T) {
	f := loadKPFrom(t, kpNFTDir)
	for _, v := range []string{"node.nft", "node.nft.json"} {
		rs := f.dumps[v][0]
		// (ip mangle holds only the kubelet's user chains: nothing marks
		// it as iptables-nft's, and nothing in it runs)
		for _, name := range []string{"filter", "nat"} {
			if tb := rs.NFT.Table("ip", name); tb == nil || !tb.IptablesNFT {
				t.Errorf("%s: ip %s not recognised as iptables-nft's", v, name)
			}
		}
		if tb := rs.NFT.Table("ip", "kube-proxy"); tb == nil || tb.IptablesNFT {
			t.Errorf("%s: kube-proxy's table taken for iptables-nft's", v)
		}
		res, err := Evaluate(EvalInput{Rulesets: f.dumps[v+"+iptables-nft-save"], NodeIPs: f.nodeIPs,
			Packet: Packet{Src: netip.MustParseAddr("10.244.0.9"), Dst: netip.MustParseAddr("10.96.0.1"), DstPort: 443, Proto: "tcp"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(warningsText(res.Warnings), "(iptables-nft) is read from node-iptables-nft-v4.save") {
			t.Errorf("%s: %s", v, warningsText(res.Warnings))
		}
	}
}

// TestDetectAnyFormat: every dump form is told apart from its first lines.
func TestDetectAnyFormat(t *testing.T) {
	for text, want := range map[string]Format{
		"table ip kube-proxy {\n":                            FormatNFT,
		"add table ip kube-proxy { comment \"x\" ; }\n":      FormatNFT,
		"flush ruleset\n":                                    FormatNFT,
		`{"nftables": [{"metainfo": {}}]}`:                   FormatNFTJSON,
		"IP Virtual Server version 1.2.1 (size=4096)\n":      FormatIPVS,
		"-A -t 10.96.0.1:443 -s rr\n":                        FormatIPVS,
		"create KUBE-CLUSTER-IP hash:ip,port family inet\n":  FormatIPSet,
		"Name: KUBE-CLUSTER-IP\nType: hash:ip,port\n":        FormatIPSet,
		"*nat\n:PREROUTING ACCEPT [0:0]\n":                   FormatSave,
		"-P INPUT ACCEPT\n-A INPUT -j KUBE-FIREWALL\n":       FormatSpec,
		"-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-X\n":   FormatSpec,
		"Chain INPUT (policy ACCEPT)\ntarget prot opt\n":     FormatUnknown,
		"# Generated by iptables-nft-save v1.8.9\n*filter\n": FormatSave,
	} {
		if got := DetectAnyFormat(text); got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
}

// TestNFTIndex: sets are scanned while small and hashed once they grow
// (kube-proxy's service-ips map holds one element per service port);
// intervals are found either way.
func TestNFTIndex(t *testing.T) {
	for _, n := range []int{3, smallSet, smallSet + 1, 500} {
		x := &nindex{}
		for i := 0; i < n; i++ {
			key := []nval{nvAddr(netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})), nvInt(tyProto, protoTCP), nvInt(tyPort, 80)}
			if i == n/2 {
				v, _ := parseLiteral(tyAddr4, "10.200.0.0/16")
				key[0] = v
			}
			x.add(key, nil, nil)
		}
		for i := 0; i < n; i++ {
			a := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
			if i == n/2 {
				a = netip.MustParseAddr("10.200.3.4")
			}
			if got := x.lookup([]nval{nvAddr(a), nvInt(tyProto, protoTCP), nvInt(tyPort, 80)}); got != i {
				t.Errorf("n=%d: %s found at %d, want %d", n, a, got, i)
			}
		}
		if got := x.lookup([]nval{nvAddr(netip.MustParseAddr("10.96.0.1")), nvInt(tyProto, protoUDP), nvInt(tyPort, 80)}); got != -1 {
			t.Errorf("n=%d: a UDP key found at %d", n, got)
		}
		if (n > smallSet) != (x.exact != nil) {
			t.Errorf("n=%d: hashed=%v", n, x.exact != nil)
		}
	}
}

// TestEvaluateNFTAndIPVSConcurrently: nft and IPVS rulesets, like iptables
// ones, are shared by concurrent evaluations (run with -race).
func TestEvaluateNFTAndIPVSConcurrently(t *testing.T) {
	text, _, svcs := genNFT(nftGenOpts{services: 200, endpoints: 3, nodePortEvery: 4, affinityEvery: 7, localEvery: 5})
	rs, err := ParseNFTString(text, ParseOptions{Source: "gen"})
	if err != nil {
		t.Fatal(err)
	}
	ipvs := loadUpstreamIPVS(t)["TestSvctraceSeedShape-001"]
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := g; i < len(svcs); i += 8 {
				s := svcs[i]
				res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: []netip.Addr{netip.MustParseAddr("10.250.0.10")},
					Packet: Packet{Src: netip.MustParseAddr("10.128.0.3"), Dst: s.clusterIP, DstPort: uint16(s.port), Proto: "tcp"}})
				if err == nil && (res.Verdict != VerdictDNAT || len(res.Endpoints) != 3) {
					err = fmt.Errorf("service %d: %s %d endpoints", i, res.Verdict, len(res.Endpoints))
				}
				if err == nil {
					res, err = Evaluate(EvalInput{Rulesets: []*Ruleset{ipvs.forms[".ipvsadm-Ln"], ipvs.ipsets[".ipset-save"], ipvs.ipt},
						NodeIPs: []netip.Addr{netip.MustParseAddr("192.168.49.2")},
						Packet:  Packet{Src: netip.MustParseAddr("10.244.0.9"), Dst: netip.MustParseAddr("10.96.0.10"), DstPort: 53, Proto: "udp"}})
					if err == nil && len(res.Endpoints) != 2 {
						err = fmt.Errorf("ipvs: %v", resultEndpoints(res))
					}
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
