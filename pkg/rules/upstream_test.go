package rules

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// upstreamRecord is one file of testdata/upstream: the rules kube-proxy's
// proxier code generated in one of its own unit tests (k8s.io/kubernetes
// v1.36.3, pkg/proxy/iptables/proxier_test.go) and that test's
// runPacketFlowTests expectations, written by `hack/record-rules.sh
// upstream` (a recording hook added to a scratch copy of the test).
type upstreamRecord struct {
	Test    string   `json:"test"`
	Line    int      `json:"line"`
	NodeIPs []string `json:"nodeIPs"`
	Rules   string   `json:"rules"`
	Flows   []struct {
		Name     string `json:"name"`
		SourceIP string `json:"sourceIP"`
		Protocol string `json:"protocol"`
		DestIP   string `json:"destIP"`
		DestPort int    `json:"destPort"`
		Output   string `json:"output"`
		Masq     bool   `json:"masq"`
	} `json:"flows"`
}

// TestUpstreamPacketFlows requires the evaluator to give, for every packet
// kube-proxy's own tests trace, the answer kube-proxy's authors expect: the
// DNAT endpoints (or ACCEPT/DROP/REJECT, or nothing) and whether the packet
// is masqueraded. Their tracer (iptablesTracer in proxier_test.go) runs nat
// PREROUTING and then the filter chains, so the packets enter at
// prerouting here too.
func TestUpstreamPacketFlows(t *testing.T) {
	files, err := filepath.Glob("testdata/upstream/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded upstream flows in testdata/upstream (run hack/record-rules.sh upstream): %v", err)
	}
	total := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var rec upstreamRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		rs, err := ParseString(rec.Rules, ParseOptions{Source: filepath.Base(file)})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(rs.Warnings) > 0 {
			t.Errorf("%s: parse warnings:\n%s", file, warningsText(rs.Warnings))
		}
		if ws := rs.Check(); len(ws) > 0 {
			t.Errorf("%s: rule warnings:\n%s", file, warningsText(ws))
		}
		var nodes []netip.Addr
		for _, s := range rec.NodeIPs {
			nodes = append(nodes, netip.MustParseAddr(s))
		}
		for _, fl := range rec.Flows {
			total++
			t.Run(strings.TrimSuffix(filepath.Base(file), ".json")+"/"+fl.Name, func(t *testing.T) {
				proto := strings.ToLower(fl.Protocol)
				if proto == "" {
					proto = "tcp"
				}
				res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: nodes, Hook: HookPrerouting,
					Packet: Packet{Src: netip.MustParseAddr(fl.SourceIP), Dst: netip.MustParseAddr(fl.DestIP), DstPort: uint16(fl.DestPort), Proto: proto}})
				if err != nil {
					t.Fatal(err)
				}
				got := upstreamOutput(res)
				if got != fl.Output || res.Masquerade != fl.Masq || res.Uncertain {
					t.Errorf("%s -> %s:%d/%s: got %q masq=%v uncertain=%v; kube-proxy's test expects %q masq=%v\n%s",
						fl.SourceIP, fl.DestIP, fl.DestPort, proto, got, res.Masquerade, res.Uncertain, fl.Output, fl.Masq, warningsText(res.Warnings))
				}
			})
		}
	}
	if total < 200 {
		t.Errorf("only %d upstream flows recorded", total)
	}
}

// upstreamOutput renders a result the way kube-proxy's tracePacket does:
// the DNAT destinations joined by ", ", or the terminal target.
func upstreamOutput(res *Result) string {
	switch res.Verdict {
	case VerdictDNAT:
		var eps []string
		for _, e := range res.Endpoints {
			eps = append(eps, netip.AddrPortFrom(netip.MustParseAddr(e.IP), uint16(e.Port)).String())
		}
		return strings.Join(eps, ", ")
	case VerdictNone:
		return ""
	}
	return string(res.Verdict)
}
