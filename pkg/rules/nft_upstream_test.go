package rules

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// upstreamNFTRecord is one ruleset of testdata/upstream-nft: what kube-proxy's
// nftables proxier generated in one of its own unit tests (k8s.io/kubernetes
// v1.36.3, pkg/proxy/nftables/proxier_test.go) as the transaction it sends
// (knftables.Fake.Dump()), with that test's runPacketFlowTests expectations;
// beside it the same ruleset as the real kernel holds it, listed back by
// nft 1.0.6 as text (.nft) and JSON (.nft.json). Written by
// `hack/record-nft.sh upstream`.
type upstreamNFTRecord struct {
	Test        string   `json:"test"`
	Line        int      `json:"line"`
	NodeIPs     []string `json:"nodeIPs"`
	Transaction string   `json:"transaction"`
	Flows       []struct {
		Name     string `json:"name"`
		SourceIP string `json:"sourceIP"`
		Protocol string `json:"protocol"`
		DestIP   string `json:"destIP"`
		DestPort int    `json:"destPort"`
		Output   string `json:"output"`
		Masq     bool   `json:"masq"`
	} `json:"flows"`
}

// upstreamNFT loads every recorded ruleset in its three forms.
func upstreamNFT(t *testing.T) (recs map[string]upstreamNFTRecord, forms map[string]map[string]*Ruleset) {
	t.Helper()
	files, err := filepath.Glob("testdata/upstream-nft/*.json")
	if err != nil {
		t.Fatal(err)
	}
	recs, forms = map[string]upstreamNFTRecord{}, map[string]map[string]*Ruleset{}
	for _, f := range files {
		if strings.HasSuffix(f, ".nft.json") {
			continue
		}
		base := strings.TrimSuffix(f, ".json")
		name := filepath.Base(base)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec upstreamNFTRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		recs[name] = rec
		forms[name] = map[string]*Ruleset{}
		inputs := map[string]string{"transaction": rec.Transaction}
		for form, file := range map[string]string{"text": base + ".nft", "json": base + ".nft.json"} {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			inputs[form] = string(b)
		}
		for form, text := range inputs {
			rs, err := ParseNFTString(text, ParseOptions{Source: name + "." + form})
			if err != nil {
				t.Fatalf("%s (%s): %v", name, form, err)
			}
			if len(rs.Warnings) > 0 {
				t.Errorf("%s (%s): parse warnings:\n%s", name, form, warningsText(rs.Warnings))
			}
			for _, tb := range rs.NFT.Tables {
				for _, c := range tb.Chains {
					for _, r := range c.Rules {
						if len(r.bad) > 0 {
							t.Errorf("%s (%s): %s rule %d %q not understood: %v", name, form, c.Name, r.Num, r.Text, r.bad)
						}
					}
				}
			}
			forms[name][form] = rs
		}
	}
	if len(recs) < 25 {
		t.Fatalf("only %d upstream nftables rulesets recorded (run hack/record-nft.sh upstream)", len(recs))
	}
	return recs, forms
}

// TestUpstreamNFTFlows requires, for every packet kube-proxy's own nftables
// tests trace, the answer kube-proxy's authors expect (the DNAT endpoints,
// or DROP/REJECT, or nothing, and whether the packet is masqueraded), from
// each of the three forms of the ruleset, with identical endpoints and
// probabilities across the forms.
func TestUpstreamNFTFlows(t *testing.T) {
	recs, forms := upstreamNFT(t)
	total := 0
	for name, rec := range recs {
		var nodes []netip.Addr
		for _, s := range rec.NodeIPs {
			nodes = append(nodes, netip.MustParseAddr(s))
		}
		for _, fl := range rec.Flows {
			total++
			t.Run(name+"/"+fl.Name, func(t *testing.T) {
				proto := strings.ToLower(fl.Protocol)
				if proto == "" {
					proto = "tcp"
				}
				var first string
				for _, form := range []string{"transaction", "text", "json"} {
					res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{forms[name][form]}, NodeIPs: nodes, Hook: HookPrerouting,
						Packet: Packet{Src: netip.MustParseAddr(fl.SourceIP), Dst: netip.MustParseAddr(fl.DestIP), DstPort: uint16(fl.DestPort), Proto: proto}})
					if err != nil {
						t.Fatal(err)
					}
					got := upstreamOutput(res)
					if got != fl.Output || res.Masquerade != fl.Masq || res.Uncertain {
						t.Errorf("%s form: %s -> %s:%d/%s: got %q masq=%v uncertain=%v; kube-proxy's test expects %q masq=%v\n%s",
							form, fl.SourceIP, fl.DestIP, fl.DestPort, proto, got, res.Masquerade, res.Uncertain, fl.Output, fl.Masq, warningsText(res.Warnings))
					}
					sum := endpointSummary(res)
					if first == "" {
						first = sum
					} else if sum != first {
						t.Errorf("%s form gives %s, the transaction gives %s", form, sum, first)
					}
				}
			})
		}
	}
	if total < 190 {
		t.Errorf("only %d upstream flows recorded", total)
	}
}

// endpointSummary is verdict, endpoints with exact fractions and
// masquerade, for comparing forms.
func endpointSummary(res *Result) string {
	var b strings.Builder
	b.WriteString(string(res.Verdict))
	for _, e := range res.Endpoints {
		b.WriteString(" " + netip.AddrPortFrom(netip.MustParseAddr(e.IP), uint16(e.Port)).String() + "=" + e.Fraction)
		if e.Masquerade {
			b.WriteString("(masq)")
		}
	}
	return b.String()
}
