package rules

import (
	"net/netip"
	"strings"
	"testing"
)

// seedIPVS evaluates one packet on the seed-shaped recording in one
// ipvsadm form, with its real ipsets and iptables rules.
func seedIPVS(t *testing.T, form string, hook Hook, src, dst string, port uint16, proto string) *Result {
	t.Helper()
	x := loadUpstreamIPVS(t)["TestSvctraceSeedShape-001"]
	if x == nil {
		t.Fatal("the seed-shaped IPVS state is not recorded (hack/record-ipvs.sh)")
	}
	var nodes []netip.Addr
	for _, s := range x.rec.NodeIPs {
		nodes = append(nodes, netip.MustParseAddr(s))
	}
	res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{x.forms[form], x.ipsets[".ipset-list"], x.ipt}, NodeIPs: nodes, Hook: hook,
		Packet: Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), DstPort: port, Proto: proto}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestIPVSSeedShape explains, virtual service by virtual service, the
// seed's `ipvsadm -Ln`: a NodePort 30080 on every node address, the
// ClusterIPs 10.107.159.92:80 and 10.97.166.233:80 with three real servers
// each, kube-dns on 53/UDP, 53/TCP and 9153, and the API server — as the
// real IPVS proxier programmed it for Services of that shape (see
// hack/record-ipvs.sh, TestSvctraceSeedShape). rr gives each real server
// exactly 1/n of new connections; NodePort traffic is masqueraded
// (KUBE-NODE-PORT marks it), a pod reaching a ClusterIP is not, the node
// reaching one from the VIP it picks as source is (KUBE-CLUSTER-IP
// src,dst), and a backend reaching its own Service only on the branch
// that comes back to it (KUBE-LOOP-BACK).
func TestIPVSSeedShape(t *testing.T) {
	ngx := []string{"10.244.0.5:8080", "10.244.0.6:8080", "10.244.0.7:8080"}
	dns := func(p string) []string { return []string{"10.244.0.2:" + p, "10.244.0.3:" + p} }
	cases := []struct {
		name     string
		hook     Hook
		src, dst string
		port     uint16
		proto    string
		eps      []string
		masq     bool
	}{
		{"NodePort 30080 on the node's eth0 address", HookPrerouting, "203.0.113.9", "192.168.49.2", 30080, "tcp", ngx, true},
		{"NodePort 30080 on cni0's address", HookPrerouting, "203.0.113.9", "10.244.0.1", 30080, "tcp", ngx, true},
		{"NodePort 30080 on flannel.1's address", HookPrerouting, "203.0.113.9", "10.244.0.0", 30080, "tcp", ngx, true},
		{"ClusterIP 10.107.159.92:80 (the NodePort Service) from a pod", HookPrerouting, "10.244.0.9", "10.107.159.92", 80, "tcp", ngx, false},
		{"ClusterIP 10.97.166.233:80 from a pod", HookPrerouting, "10.244.0.9", "10.97.166.233", 80, "tcp", ngx, false},
		{"ClusterIP 10.97.166.233:80 from the node", HookOutput, "10.97.166.233", "10.97.166.233", 80, "tcp", ngx, true},
		{"kube-dns 53/UDP", HookPrerouting, "10.244.0.9", "10.96.0.10", 53, "udp", dns("53"), false},
		{"kube-dns 53/TCP", HookPrerouting, "10.244.0.9", "10.96.0.10", 53, "tcp", dns("53"), false},
		{"kube-dns metrics 9153", HookPrerouting, "10.244.0.9", "10.96.0.10", 9153, "tcp", dns("9153"), false},
		{"the API server", HookPrerouting, "10.244.0.9", "10.96.0.1", 443, "tcp", []string{"192.168.49.2:8443"}, false},
	}
	for _, form := range []string{".ipvsadm-Ln", ".ipvsadm-Sn"} {
		for _, c := range cases {
			res := seedIPVS(t, form, c.hook, c.src, c.dst, c.port, c.proto)
			got := resultEndpoints(res)
			if res.Verdict != VerdictDNAT || strings.Join(got, ",") != strings.Join(c.eps, ",") || res.Uncertain || res.Masquerade != c.masq {
				t.Errorf("%s %s: %s %v masq=%v uncertain=%v, want DNAT %v masq=%v\n%s", form, c.name, res.Verdict, got, res.Masquerade,
					res.Uncertain, c.eps, c.masq, warningsText(res.Warnings))
				continue
			}
			want := "1/" + string(rune('0'+len(c.eps)))
			if len(c.eps) == 1 {
				want = "1"
			}
			for _, e := range res.Endpoints {
				if e.Fraction != want || e.Chain == "" {
					t.Errorf("%s %s: %s fraction %s chain %q, want %s", form, c.name, e.IP, e.Fraction, e.Chain, want)
				}
			}
		}
	}
	// A backend reaching its own Service: masqueraded on the branch that
	// lands on itself only (KUBE-LOOP-BACK dst,dst,src).
	res := seedIPVS(t, ".ipvsadm-Ln", HookPrerouting, "10.244.0.6", "10.97.166.233", 80, "tcp")
	for _, e := range res.Endpoints {
		if want := e.IP == "10.244.0.6"; e.Masquerade != want {
			t.Errorf("hairpin: %s masquerade=%v, want %v", e.IP, e.Masquerade, want)
		}
	}
	// A port the VIP does not serve: KUBE-IPVS-FILTER rejects it.
	res = seedIPVS(t, ".ipvsadm-Ln", HookPrerouting, "10.244.0.9", "10.97.166.233", 81, "tcp")
	if res.Verdict != VerdictReject || res.Uncertain {
		t.Errorf("unserved port of a VIP: %s uncertain=%v", res.Verdict, res.Uncertain)
	}
	// --stats and --rate show no scheduler: the real servers are named,
	// with no invented share.
	for _, form := range []string{".ipvsadm-Ln-stats", ".ipvsadm-Ln-rate"} {
		res := seedIPVS(t, form, HookPrerouting, "10.244.0.9", "10.97.166.233", 80, "tcp")
		if strings.Join(resultEndpoints(res), ",") != strings.Join(ngx, ",") {
			t.Errorf("%s: %v", form, resultEndpoints(res))
		}
		for _, e := range res.Endpoints {
			if e.Fraction != "?" || e.Probability != 0 || !strings.Contains(e.Choice, "ipvsadm -Ln") {
				t.Errorf("%s: endpoint %s fraction %q choice %q", form, e.IP, e.Fraction, e.Choice)
			}
		}
	}
}

// TestIPVSLocalFallback: with internalTrafficPolicy or
// externalTrafficPolicy Local and no local endpoint, kube-proxy's IPVS mode
// gives the virtual service the cluster's endpoints (syncEndpoint, kubernetes
// PR 97081), where iptables and nftables modes drop: the recorded proxier
// output says so, and so does the evaluation.
func TestIPVSLocalFallback(t *testing.T) {
	all := loadUpstreamIPVS(t)
	for name, c := range map[string]struct {
		dst  string
		port uint16
	}{
		"TestNoEndpointsMetric-004": {"172.20.1.1", 80}, // iTP=Local, ClusterIP
		"TestNoEndpointsMetric-005": {"", 0},            // eTP=Local, NodePort
	} {
		x := all[name]
		if x == nil {
			t.Fatalf("%s not recorded", name)
		}
		s := x.rec.Services[0]
		if len(s.Endpoints) != 3 {
			t.Fatalf("%s: %d endpoints", name, len(s.Endpoints))
		}
		for _, e := range s.Endpoints {
			if e.Local {
				t.Fatalf("%s: the recording has a local endpoint", name)
			}
		}
		dst, port := c.dst, c.port
		if dst == "" {
			dst, port = x.rec.NodeIPs[0], uint16(s.NodePort)
		}
		var nodes []netip.Addr
		for _, n := range x.rec.NodeIPs {
			nodes = append(nodes, netip.MustParseAddr(n))
		}
		res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{x.forms[".ipvsadm-Ln"], x.ipsets[".ipset-save"], x.ipt}, NodeIPs: nodes,
			Packet: Packet{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr(dst), DstPort: port, Proto: s.Protocol}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != VerdictDNAT || len(res.Endpoints) != 3 {
			t.Errorf("%s: %s %v, want the 3 cluster endpoints", name, res.Verdict, resultEndpoints(res))
		}
	}
}

// TestIPVSParse covers ipvsadm's list and save forms beyond what
// kube-proxy programs: schedulers that decide by state, persistence with a
// mask, weights of 0, firewall-mark services, names without -n, thresholds.
func TestIPVSParse(t *testing.T) {
	list := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 wrr persistent 300 mask 255.255.255.0
  -> 10.1.0.1:8080                Masq    3      2          7         
  -> 10.1.0.2:8080                Masq    1      0          0         
  -> 10.1.0.3:8080                Masq    0      1          0         
UDP  [fd00::1]:53 wlc
  -> [fd00:1::2]:53               Masq    1      0          0         
FWM  7 mh (mh-port)
  -> 10.1.0.9:0                   Route   1      0          0         
`
	rs, err := ParseAnyString(list, ParseOptions{Source: "list"})
	if err != nil || len(rs.Warnings) > 0 {
		t.Fatalf("%v %v", err, rs.Warnings)
	}
	tb := rs.IPVS
	if len(tb.Services) != 3 || tb.Form != "list" {
		t.Fatalf("%+v", tb)
	}
	s := tb.Services[0]
	if s.Scheduler != "wrr" || !s.Persistent || s.Timeout != 300 || s.Netmask != "255.255.255.0" || len(s.Reals) != 3 ||
		s.Reals[0].Weight != 3 || s.Reals[0].Active != 2 || s.Reals[0].InAct != 7 || s.Reals[2].Weight != 0 {
		t.Errorf("service 1: %+v", s)
	}
	if s := tb.Services[1]; s.Key() != "UDP [fd00::1]:53" || s.Reals[0].String() != "[fd00:1::2]:53" {
		t.Errorf("service 2: %s %v", s.Key(), s.Reals)
	}
	if s := tb.Services[2]; s.Proto != "FWM" || s.FWMark != 7 || s.Scheduler != "mh" || strings.Join(s.SchedFlags, ",") != "mh-port" || s.Reals[0].Forward != "Route" {
		t.Errorf("service 3: %+v", s)
	}
	// wrr: by weight among non-zero weights; persistence adds a sticky
	// branch per real server.
	res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, Packet: Packet{Src: netip.MustParseAddr("10.2.0.1"), Dst: netip.MustParseAddr("10.0.0.1"), DstPort: 80, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range res.Endpoints {
		got[e.IP] = e.Fraction
		if !e.Sticky {
			t.Errorf("%s: persistent service, endpoint not marked sticky", e.IP)
		}
	}
	if got["10.1.0.1"] != "3/4" || got["10.1.0.2"] != "1/4" || len(got) != 2 {
		t.Errorf("wrr shares: %v", got)
	}
	sticky := 0
	for _, b := range res.Branches {
		if b.Sticky {
			sticky++
		}
	}
	if sticky != 2 {
		t.Errorf("%d sticky branches, want one per eligible real server", sticky)
	}
	// wlc decides by connection counts: no share is invented.
	res, _ = Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, Packet: Packet{Src: netip.MustParseAddr("fd00:2::1"), Dst: netip.MustParseAddr("fd00::1"), DstPort: 53, Proto: "udp"}})
	if len(res.Endpoints) != 1 || res.Endpoints[0].Fraction != "?" || !strings.Contains(res.Endpoints[0].Choice, "wlc") {
		t.Errorf("wlc: %+v", res.Endpoints)
	}

	save := "-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0\n-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 3\n-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 10.1.0.3:8080 -m -w 0\n" +
		"-A -u [fd00::1]:53 -s wlc\n-a -u [fd00::1]:53 -r [fd00:1::2]:53 -m -w 1\n-A -f 7 -s mh -b mh-port\n-a -f 7 -r 10.1.0.9:0 -g -w 1\n"
	rs2, err := ParseAnyString(save, ParseOptions{Source: "save"})
	if err != nil || len(rs2.Warnings) > 0 {
		t.Fatalf("%v %v", err, rs2.Warnings)
	}
	if a, b := ipvsSummary(tb, true), ipvsSummary(rs2.IPVS, true); a != b {
		t.Errorf("list and save differ:\n%s\n---\n%s", a, b)
	}

	// Problems are reported with their line, never guessed.
	bad := "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"TCP  kubernetes.default.svc.cluster.local:https rr\n  -> 10.1.0.1:8080 Masq 1 0 0\nTCP  10.0.0.2:80 rr\n  -> 10.1.0.2:8080 Masq x 0 0\n"
	rs3, err := ParseAnyString(bad, ParseOptions{Source: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	text := warningsText(rs3.Warnings)
	for _, want := range []string{"bad:4: ", "use -Ln", "bad:5: real server line before any virtual service", "bad:7: real server 10.1.0.2:8080: bad weight"} {
		if !strings.Contains(text, want) {
			t.Errorf("warnings lack %q:\n%s", want, text)
		}
	}
}

// TestIPSetParse: `ipset save` and `ipset list` of the same sets read the
// same; bad lines are reported.
func TestIPSetParse(t *testing.T) {
	save := "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12\nadd KUBE-CLUSTER-IP 10.96.0.1,tcp:443\n" +
		"create KUBE-NODE-PORT-TCP bitmap:port range 0-65535\nadd KUBE-NODE-PORT-TCP 30080\nadd KUBE-MISSING 1.2.3.4\n"
	list := "Name: KUBE-CLUSTER-IP\nType: hash:ip,port\nRevision: 7\nHeader: family inet hashsize 1024 maxelem 65536 bucketsize 12\nSize in memory: 264\nReferences: 2\nNumber of entries: 1\nMembers:\n10.96.0.1,tcp:443\n\n" +
		"Name: KUBE-NODE-PORT-TCP\nType: bitmap:port\nRevision: 3\nHeader: range 0-65535\nSize in memory: 8264\nReferences: 1\nNumber of entries: 1\nMembers:\n30080\n"
	a, err := ParseAnyString(save, ParseOptions{Source: "save"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseAnyString(list, ParseOptions{Source: "list"})
	if err != nil || len(b.Warnings) > 0 {
		t.Fatalf("%v %v", err, b.Warnings)
	}
	if !strings.Contains(warningsText(a.Warnings), "save:5: member of set KUBE-MISSING") {
		t.Errorf("warnings: %s", warningsText(a.Warnings))
	}
	for _, n := range []string{"KUBE-CLUSTER-IP", "KUBE-NODE-PORT-TCP"} {
		x, y := a.IPSets[n], b.IPSets[n]
		if x == nil || y == nil || x.Type != y.Type || strings.Join(x.Members, ",") != strings.Join(y.Members, ",") {
			t.Errorf("%s: %+v %+v", n, x, y)
		}
	}
}
