package rules

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNFTGenLikeKernel checks the scaling benchmark's generator against the
// real kernel: its `nft list ruleset` text is loaded with `nft -f` into a
// fresh network namespace and listed back as text and JSON, and every
// service's ClusterIP and NodePort must evaluate the same from all four
// (generated text and JSON, kernel text and JSON). Needs root and nft; it
// runs when SVCT_NETNS_TESTS=1 (CI), and says loudly that it skipped
// otherwise.
func TestNFTGenLikeKernel(t *testing.T) {
	if os.Getenv("SVCT_NETNS_TESTS") != "1" {
		t.Skip("SKIPPED: needs root, nft and network namespaces; set SVCT_NETNS_TESTS=1 (CI does)")
	}
	if os.Getuid() != 0 {
		t.Fatal("SVCT_NETNS_TESTS=1 but not root")
	}
	for _, tool := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (hack/install-deps.sh installs it): %v", tool, err)
		}
	}
	text, js, svcs := genNFT(nftGenOpts{services: 40, endpoints: 4, nodePortEvery: 3, affinityEvery: 10, localEvery: 5})
	ns := fmt.Sprintf("svct-gen-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	f := t.TempDir() + "/gen.nft"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("the kernel rejected the generated ruleset: %v\n%s", err, out)
	}
	ktext, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").Output()
	if err != nil {
		t.Fatal(err)
	}
	kjson, err := exec.Command("ip", "netns", "exec", ns, "nft", "-j", "list", "ruleset").Output()
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]string{"generated text": text, "generated JSON": js, "kernel text": string(ktext), "kernel JSON": string(kjson)}
	parsed := map[string]*Ruleset{}
	for name, in := range forms {
		rs, err := ParseNFTString(in, ParseOptions{Source: name})
		if err != nil || len(rs.Warnings) > 0 {
			t.Fatalf("%s: %v %v", name, err, rs.Warnings)
		}
		parsed[name] = rs
	}
	node := netip.MustParseAddr("10.250.0.10")
	checked := 0
	for _, s := range svcs {
		pkts := []Packet{{Src: netip.MustParseAddr("10.128.0.9"), Dst: s.clusterIP, DstPort: uint16(s.port), Proto: "tcp"}}
		if s.nodePort != 0 {
			pkts = append(pkts, Packet{Src: netip.MustParseAddr("203.0.113.5"), Dst: node, DstPort: uint16(s.nodePort), Proto: "tcp"})
		}
		for _, p := range pkts {
			var first, firstName string
			for name, rs := range parsed {
				res, err := Evaluate(EvalInput{Rulesets: []*Ruleset{rs}, NodeIPs: []netip.Addr{node}, Packet: p})
				if err != nil {
					t.Fatal(err)
				}
				sum := endpointSummary(res)
				if res.Verdict != VerdictDNAT || len(res.Endpoints) != len(s.eps) || res.Uncertain {
					t.Errorf("%s: %v: %s uncertain=%v", name, p, sum, res.Uncertain)
				}
				if first == "" {
					first, firstName = sum, name
				} else if sum != first {
					t.Errorf("%v: %s gives %s, %s gives %s", p, name, sum, firstName, first)
				}
			}
			checked++
		}
	}
	if checked < 50 || !strings.Contains(string(ktext), "numgen random mod 4") {
		t.Errorf("only %d packets checked", checked)
	}
}
