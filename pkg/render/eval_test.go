package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/svctrace/kubectl-svc-trace/pkg/rules/result"
)

var updateEval = flag.Bool("update-eval", false, "rewrite the golden files under testdata/eval")

// evalResults are render inputs: result shapes the evaluator produces (a
// three-way statistic fork, session affinity, a REJECT, an uncertain
// branch with warnings, labels from -f, IPv6). They are built here rather
// than by the evaluator because render must not import the rules parsers;
// the end-to-end output from real dumps is golden-tested in pkg/cmd.
func evalResults() map[string]*result.Result {
	step := func(tb, ch string, rule, line int, action, raw string) result.Step {
		return result.Step{Source: "node1.save", Table: tb, Chain: ch, Rule: rule, Line: line, Action: action, Raw: raw}
	}
	pre := []result.Step{
		step("nat", "PREROUTING", 1, 120, "jump KUBE-SERVICES", `-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`),
		step("nat", "KUBE-SERVICES", 4, 150, "jump KUBE-SVC-JL4WEID3WPMRHAIE", `-A KUBE-SERVICES -d 10.96.202.106/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j KUBE-SVC-JL4WEID3WPMRHAIE`),
	}
	ep := func(i int, ip string, frac string) result.PathBranch {
		return result.PathBranch{
			Condition: "KUBE-SVC-JL4WEID3WPMRHAIE rule " + string(rune('1'+i)) + ": statistic matched", Probability: 1.0 / 3, Fraction: frac,
			Node: result.PathNode{
				Steps: []result.Step{
					step("nat", "KUBE-SVC-JL4WEID3WPMRHAIE", i+2, 160+i, "jump KUBE-SEP-"+string(rune('A'+i)), "-A KUBE-SVC-JL4WEID3WPMRHAIE -j KUBE-SEP-"+string(rune('A'+i))),
					step("nat", "KUBE-SEP-"+string(rune('A'+i)), 2, 170+i, "DNAT to "+ip+":8080", "-A KUBE-SEP-"+string(rune('A'+i))+" -p tcp -m tcp -j DNAT --to-destination "+ip+":8080"),
				},
				Outcome: &result.Outcome{Verdict: result.VerdictDNAT, DNAT: ip + ":8080"},
			},
		}
	}
	three := &result.Result{
		Query:   result.Query{Hook: "prerouting", Src: "10.244.0.9", Dst: "10.96.202.106", DstPort: 80, Proto: "tcp", NodeIPs: []string{"10.250.0.10"}, Family: "ipv4"},
		Verdict: result.VerdictDNAT,
		Endpoints: []result.Endpoint{
			{IP: "10.244.0.3", Port: 8080, Probability: 1.0 / 3, Fraction: "1/3", Chain: "KUBE-SEP-A", Label: "default/web pod default/web-1"},
			{IP: "10.244.0.4", Port: 8080, Probability: 1.0 / 3, Fraction: "1/3", Chain: "KUBE-SEP-B"},
			{IP: "10.244.0.5", Port: 8080, Probability: 1.0 / 3, Fraction: "1/3", Chain: "KUBE-SEP-C"},
		},
		Path: &result.PathNode{Steps: pre, Branches: []result.PathBranch{ep(0, "10.244.0.3", "1/3"), ep(1, "10.244.0.4", "1/3"), ep(2, "10.244.0.5", "1/3")}},
	}
	three.Path.Steps[1].Label = "service default/web/tcp"
	sticky := &result.Result{
		Query:      result.Query{Hook: "output", Src: "10.250.0.10", Dst: "10.96.34.214", DstPort: 80, Proto: "tcp", Family: "ipv4"},
		Verdict:    result.VerdictDNAT,
		Masquerade: true,
		Endpoints:  []result.Endpoint{{IP: "10.244.0.3", Port: 8080, Probability: 1, Fraction: "1", Masquerade: true, Sticky: true, Chain: "KUBE-SEP-A"}},
		Path: &result.PathNode{Steps: pre[:1], Branches: []result.PathBranch{
			{Condition: "KUBE-SVC-X rule 2: recent list KUBE-SEP-A already holds the source address (seen within 600s)", Sticky: true, Fraction: "0",
				Node: result.PathNode{Steps: []result.Step{step("nat", "KUBE-SEP-A", 2, 170, "DNAT to 10.244.0.3:8080", "-A KUBE-SEP-A -j DNAT")},
					Outcome: &result.Outcome{Verdict: result.VerdictDNAT, DNAT: "10.244.0.3:8080", Masquerade: true, SNAT: "masquerade"}}},
			{Condition: "KUBE-SVC-X rule 2: recent list KUBE-SEP-A does not hold the source address", Probability: 1, Fraction: "1",
				Node: result.PathNode{Steps: []result.Step{step("nat", "KUBE-SEP-A", 2, 170, "DNAT to 10.244.0.3:8080", "-A KUBE-SEP-A -j DNAT")},
					Outcome: &result.Outcome{Verdict: result.VerdictDNAT, DNAT: "10.244.0.3:8080", Masquerade: true, SNAT: "masquerade"}}},
		}},
	}
	reject := &result.Result{
		Query:     result.Query{Hook: "prerouting", Src: "fd00:10:244::9", Dst: "fd00:10:96::1f", DstPort: 443, SrcPort: 40000, Proto: "tcp", Family: "ipv6"},
		Verdict:   result.VerdictReject,
		Uncertain: true,
		Endpoints: []result.Endpoint{},
		Path: &result.PathNode{Steps: []result.Step{
			step("filter", "FORWARD", 3, 30, "jump KUBE-SERVICES", "-A FORWARD -m conntrack --ctstate NEW -j KUBE-SERVICES"),
			step("filter", "KUBE-SERVICES", 1, 40, "REJECT with icmp6-port-unreachable", `-A KUBE-SERVICES -d fd00:10:96::1f/128 -p tcp -m comment --comment "default/gone has no endpoints" -m tcp --dport 443 -j REJECT --reject-with icmp6-port-unreachable`),
		}, Outcome: &result.Outcome{Verdict: result.VerdictReject, Uncertain: true}},
		Warnings: []result.Warning{{Source: "node1.save", Line: 34, Table: "filter", Chain: "FORWARD", Rule: 5,
			Message: "not evaluated, treated as not matching: -o eth0: the packet's interface is not known here"}},
	}
	none := &result.Result{
		Query:     result.Query{Hook: "prerouting", Src: "203.0.113.5", Dst: "10.250.0.10", DstPort: 22, Proto: "tcp", Family: "ipv4"},
		Verdict:   result.VerdictNone,
		Endpoints: []result.Endpoint{},
		Path:      &result.PathNode{Outcome: &result.Outcome{Verdict: result.VerdictNone}},
		// A dump is untrusted input: escape sequences in it must not reach
		// the terminal.
		Warnings: []result.Warning{{Message: "bad \x1b[31mred\x1b[0m"}},
	}
	return map[string]*result.Result{"three-endpoints": three, "affinity": sticky, "reject-ipv6": reject, "none": none}
}

func TestEvalGolden(t *testing.T) {
	for name, res := range evalResults() {
		for _, color := range []bool{false, true} {
			var b bytes.Buffer
			if err := Eval(&b, res, Options{Format: FormatTree, Color: color}); err != nil {
				t.Fatal(err)
			}
			file := name + ".txt"
			if color {
				file = name + ".color.txt"
			}
			checkEvalGolden(t, file, b.Bytes())
		}
		var b bytes.Buffer
		if err := Eval(&b, res, Options{Format: FormatJSON}); err != nil {
			t.Fatal(err)
		}
		var back result.Result
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Verdict != res.Verdict || len(back.Endpoints) != len(res.Endpoints) {
			t.Errorf("%s: JSON does not round-trip: %v", name, err)
		}
		for _, k := range []string{`"verdict"`, `"endpoints"`, `"masquerade"`, `"path"`, `"warnings"`} {
			if !bytes.Contains(b.Bytes(), []byte(k)) {
				t.Errorf("%s: JSON lacks %s", name, k)
			}
		}
		b.Reset()
		if err := Eval(&b, res, Options{Format: FormatYAML}); err != nil || !bytes.Contains(b.Bytes(), []byte("verdict: "+string(res.Verdict))) {
			t.Errorf("%s: YAML: %v\n%s", name, err, b.String())
		}
	}
}

func checkEvalGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "eval", name)
	if *updateEval {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/render -run EvalGolden -update-eval)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./pkg/render -run EvalGolden -update-eval to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
