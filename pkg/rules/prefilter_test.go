package rules

import (
	"encoding/json"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// prefilterCorpus is every rule set the package has: the real node's dumps
// in all their forms, kube-proxy's own test rule sets, and generated
// kube-proxy dumps of both families (the shape of the benchmarks).
func prefilterCorpus(t testing.TB) map[string]string {
	out := map[string]string{}
	files, _ := filepath.Glob("testdata/kube-proxy/*")
	for _, f := range files {
		if strings.HasSuffix(f, ".json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	ups, _ := filepath.Glob("testdata/upstream/*.json")
	for _, f := range ups {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec upstreamRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = rec.Rules
	}
	g4, _ := genDump(genOpts{services: 150, endpoints: 3, nodePortEvery: 3, affinityEvery: 5})
	g6, _ := genDump(genOpts{services: 150, endpoints: 3, nodePortEvery: 3, affinityEvery: 5, ipv6: true})
	out["gen-v4"], out["gen-v6"] = g4, g6
	return out
}

// prefilterEdgeLines are rule forms the scanner must read exactly as the
// compiler does, or leave alone: negations, CIDRs, counters, --append,
// quotes with spaces and escapes, options the scanner does not know, and
// lines broken at the end.
var prefilterEdgeLines = []string{
	`-A C -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j X`,
	`-A C ! -d 10.0.0.1/32 -j X`,
	`-A C -d 10.0.0.0/8 -j X`,
	`-A C -d 10.0.0.0/255.0.0.0 -j X`,
	`-A C -d 0.0.0.0/0 -j X`,
	`-A C -d 010.0.0.1 -j X`,
	`-A C -d 10.0.0.1/033 -j X`,
	`-A C -d 10.0.0.1x -j X`,
	`-A C -d fd00::1/128 -j X`,
	`-A C -d fd00::/64 -p udp --dport 53 -j X`,
	`[5:300] -A C -d 10.0.0.1/32 -j X`,
	`[5:x] -A C -d 10.0.0.1/32 -j X`,
	`--append C -d 10.0.0.1/32 -j X`,
	`-A C  -d 10.0.0.1/32 -j X`,
	`-A C -s 10.0.0.2 -d 10.0.0.1 -j X`,
	`-A C ! -s 10.244.0.0/16 -d 10.0.0.1/32 -p tcp -j X`,
	`-A C -p tcp -m comment --comment "ns/svc:p cluster IP" -m tcp --dport 80 -j X`,
	`-A C -p tcp -m comment --comment "a \"quoted\" word" -m tcp --dport 80 -j X`,
	`-A C -p tcp -m comment --comment "x"y -m tcp --dport 80 -j X`,
	`-A C -p tcp -m comment --comment ns/svc cluster IP -m tcp --dport 80 -j X`,
	`-A C -p tcp -m comment --comment -m tcp --dport 80 -j X`,
	`-A C -p tcp --dport 80 -j X`,
	`-A C -p tcp --dport 80:90 -j X`,
	`-A C -p tcp --dport ! 80 -j X`,
	`-A C -p tcp ! --dport 80 -j X`,
	`-A C ! -p tcp --dport 80 -j X`,
	`-A C -p udp -m tcp --dport 80 -j X`,
	`-A C -p tcp -m comment --dport 80 -j X`,
	`-A C -m tcp -p tcp -d 10.0.0.1 --dport 80 -j X`,
	`-A C -m comment --comment "x" -m tcp -p tcp -d 10.0.0.1 --dport 80 -j X`,
	`-A C -p all -d 10.0.0.1 -j X`,
	`-A C -p 6 --dport 80 -j X`,
	`-A C -p tcp -m multiport --dports 80,443 -j X`,
	`-A C -m addrtype --dst-type LOCAL -j X`,
	`-A C -d 10.0.0.1/32 -p tcp -m tcp --dport`,
	`-A C -d 10.0.0.1/32 -m`,
	`-A C -d`,
	`-A C -d 10.0.0.1/32 -m comment --comment "cut`,
	`-A C -p tcp -m comment --comment "cut -m tcp --dport 80 -j X`,
	`-A C -d 10.0.0.1 -d 10.0.0.2 -j X`,
	`-A C -p tcp -p udp --dport 53 -j X`,
	`-A C "-d" 10.0.0.1 -j X`,
	`-A C -d "10.0.0.1" -j X`,
	`-A C -p tcp -m tcp --dport 080 -j X`,
	`-A C -p tcp -m tcp --dport 65536 -j X`,
	"-A C\t-d 10.0.0.1/32 -j X",
	"-A C -d\t10.0.0.1/32\t-j X",
}

// checkPrefilterChain requires, for every rule of ch and packets built
// from the addresses and ports around it, that a rule the prefilter skips
// is one the compiled rule definitely does not match: matchNo, with no
// warning and no uncertainty (exactly what evaluating it would give).
func checkPrefilterChain(t testing.TB, rs *Ruleset, ch *Chain) (skipped, kept int) {
	px := &preIndex{recs: make([]preRec, ch.n), one: make([]atomic.Pointer[chainCode], ch.n)}
	px.fill(ch, int(ch.n)-1)
	code := ch.compiled()
	for i := range code.rules {
		r := &code.rules[i]
		dsts := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("192.0.2.9")}
		ports := []uint16{80, 53, 81, 30080}
		for _, cd := range r.conds(code) {
			switch cd.kind {
			case condDst:
				if cd.fl&condV6 != 0 {
					p := code.addrs[cd.a]
					dsts = append(dsts, p.Addr(), p.Addr().Next())
				} else {
					a := netip.AddrFrom4([4]byte{byte(cd.a >> 24), byte(cd.a >> 16), byte(cd.a >> 8), byte(cd.a)})
					dsts = append(dsts, a, a.Next())
				}
			case condDport:
				ports = append(ports, uint16(cd.a), uint16(cd.b), uint16(cd.a)+1)
			}
		}
		for _, dst := range dsts {
			src := netip.MustParseAddr("10.244.0.5")
			if dst.Is6() {
				src = netip.MustParseAddr("fd00:10:244::5")
			}
			for _, port := range ports {
				if port == 0 {
					continue
				}
				for _, proto := range []string{"tcp", "udp", "sctp"} {
					e, err := newEvaluator(EvalInput{Rulesets: []*Ruleset{{}}, Packet: Packet{Src: src, Dst: dst, DstPort: port, Proto: proto}})
					if err != nil {
						t.Fatal(err)
					}
					if !px.skip(ch, i, dst, port, e.proto) {
						kept++
						continue
					}
					skipped++
					e.warnings, e.warned = nil, map[string]bool{}
					m := &machine{src: src, dst: dst, dport: port, origDst: dst, origDport: port, prob: big.NewRat(1, 1), tbl: ch.table}
					res, _ := e.match(m, r, code)
					if res != matchNo || len(e.warnings) > 0 || m.uncertain {
						t.Fatalf("%s: rule %q skipped for %s:%d/%s, but evaluating it gives %v, uncertain %v, warnings %v",
							rs.Source, r.Raw(), dst, port, proto, res, m.uncertain, e.warnings)
					}
				}
			}
		}
	}
	return skipped, kept
}

// TestPrefilterExact checks the prefilter rule by rule on every rule of the
// corpus and on the edge lines.
func TestPrefilterExact(t *testing.T) {
	skipped, kept := 0, 0
	for name, text := range prefilterCorpus(t) {
		rs, err := ParseString(text, ParseOptions{Source: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, tb := range rs.Tables {
			for _, ch := range tb.Chains {
				if ch.n == 0 {
					continue
				}
				s, k := checkPrefilterChain(t, rs, ch)
				skipped += s
				kept += k
			}
		}
	}
	edge := "*nat\n:C - [0:0]\n" + strings.Join(prefilterEdgeLines, "\n") + "\nCOMMIT\n"
	rs, _ := ParseString(edge, ParseOptions{Source: "edge"})
	s, k := checkPrefilterChain(t, rs, rs.Chain(TableNAT, "C"))
	t.Logf("corpus: %d (rule, packet) pairs skipped, %d evaluated; edge lines: %d skipped, %d evaluated", skipped, kept, s, k)
	if skipped == 0 || s == 0 {
		t.Fatal("the prefilter skipped nothing: the test checks nothing")
	}
}

// TestPrefilterSameResults evaluates packets to every service of generated
// kube-proxy dumps (KUBE-SERVICES far longer than lazyMinRules) on a fresh
// parse, which goes through the prefilter, and on a parse whose chains were
// all compiled first (Check), which does not: the results must be equal.
func TestPrefilterSameResults(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		text, svcs := genDump(genOpts{services: 300, endpoints: 3, nodePortEvery: 4, affinityEvery: 7, ipv6: v6})
		lazy, err := ParseString(text, ParseOptions{Source: "gen"})
		if err != nil {
			t.Fatal(err)
		}
		eager, _ := ParseString(text, ParseOptions{Source: "gen"})
		eager.Check()
		if lazy.Chain(TableNAT, "KUBE-SERVICES").Len() < 4*lazyMinRules {
			t.Fatal("KUBE-SERVICES too short to exercise the prefilter")
		}
		node, src := netip.MustParseAddr("10.250.0.10"), netip.MustParseAddr("10.150.1.3")
		if v6 {
			node, src = netip.MustParseAddr("fd00:10:250::10"), netip.MustParseAddr("fd00:10:150::3")
		}
		var pkts []Packet
		for i, s := range svcs {
			if i%7 != 0 && i != len(svcs)-1 {
				continue
			}
			pkts = append(pkts, Packet{Src: src, Dst: s.clusterIP, DstPort: uint16(s.port), Proto: "tcp"},
				Packet{Src: src, Dst: s.clusterIP, DstPort: uint16(s.port) + 1, Proto: "tcp"},
				Packet{Src: src, Dst: s.clusterIP, DstPort: uint16(s.port), Proto: "udp"})
			if s.nodePort != 0 {
				pkts = append(pkts, Packet{Src: src, Dst: node, DstPort: uint16(s.nodePort), Proto: "tcp"})
			}
		}
		for _, p := range pkts {
			for _, hook := range []Hook{HookPrerouting, HookOutput} {
				in := EvalInput{NodeIPs: []netip.Addr{node}, Hook: hook, Packet: p}
				in.Rulesets = []*Ruleset{lazy}
				a, err1 := Evaluate(in)
				in.Rulesets = []*Ruleset{eager}
				b, err2 := Evaluate(in)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if !reflect.DeepEqual(a, b) {
					ja, _ := json.Marshal(a)
					jb, _ := json.Marshal(b)
					t.Fatalf("%s %v: prefiltered and fully compiled evaluations differ:\n%s\n%s", hook, p, ja, jb)
				}
			}
		}
	}
}
