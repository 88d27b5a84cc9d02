package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

const recorded = "../rules/testdata/kube-proxy/"

// nodeDumpFromRecording lays out pkg/rules' recording of a real node
// (hack/record-rules.sh: its iptables-nft-save, addresses and routes) the
// way `collect -o DIR` saves a dump, so the trace can read it back with
// --node-dump.
func nodeDumpFromRecording(t *testing.T) string {
	t.Helper()
	var node struct {
		NodeName string            `json:"nodeName"`
		NodeIPs  []string          `json:"nodeIPs"`
		Routes4  []json.RawMessage `json:"routes4"`
		Routes6  []json.RawMessage `json:"routes6"`
	}
	b, err := os.ReadFile(recorded + "node.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &node); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(recorded + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var addrInfo []map[string]string
	for _, ip := range node.NodeIPs {
		addrInfo = append(addrInfo, map[string]string{"local": ip})
	}
	addrs, _ := json.Marshal([]map[string]any{{"ifname": "svctnode", "addr_info": addrInfo}})
	r4, _ := json.Marshal(node.Routes4)
	r6, _ := json.Marshal(node.Routes6)
	d := &nodehelper.Dump{Node: node.NodeName, Files: map[string][]byte{
		"iptables-nft-save":    read("node-nft-v4.save"),
		"ip6tables-nft-save":   read("node-nft-v6.save"),
		"iptables-backend":     []byte("nft hint-chains=2\n"),
		"proxy-mode":           []byte("iptables"),
		"ip-addr.json":         addrs,
		"ip-route.json":        r4,
		"ip6-route.json":       r6,
		"route-get/10.244.0.4": []byte(`[{"dst":"10.244.0.4","dev":"svctbr0","prefsrc":"10.244.0.1","flags":[],"uid":0,"cache":[]}]`),
	}}
	dir := t.TempDir()
	if _, err := d.Save(dir, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTraceFromNodeDump(t *testing.T) {
	dump := nodeDumpFromRecording(t)
	objs := recorded + "objects.json"
	out, errOut, code := run(t, "", "-f", objs, "-n", "svct-rules", "clusterip", "--node-dump", dump, "--from", "10.244.0.2", "--node", "node1", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var tr trace.ServiceTrace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Query == nil || tr.Query.Via != trace.ViaClusterIP || len(tr.Nodes) != 1 {
		t.Fatalf("query/nodes: %+v %+v", tr.Query, tr.Nodes)
	}
	nr := tr.Nodes[0]
	if nr.Verdict != "DNAT" || len(nr.Endpoints) != 3 || nr.IPTablesBackend != "nft" || nr.ProxyMode != "iptables" {
		t.Fatalf("node result: %+v", nr)
	}
	sum := 0.0
	for _, e := range tr.Endpoints {
		if e.Probability == nil || e.Masquerade == nil {
			t.Fatalf("endpoint %s lacks probability/masquerade", e.IP)
		}
		sum += *e.Probability
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("probabilities sum to %v", sum)
	}
	for _, e := range nr.Endpoints {
		if e.IP == "10.244.0.4" && (e.Route == nil || e.Route.Dev != "svctbr0") {
			t.Errorf("route hop for 10.244.0.4: %+v", e.Route)
		}
	}
	if len(tr.Hops) < 4 || tr.Hops[0].Kind != "client" || tr.Hops[1].Kind != "service" {
		t.Errorf("hops: %+v", tr.Hops)
	}

	// The human path shows the chains and the shares.
	out, errOut, code = run(t, "", "-f", objs, "-n", "svct-rules", "nodeport", "--node-dump", dump, "--from", "external", "--node", "node1", "--color=never")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"node node1", "NodePort", "KUBE-NODEPORTS", "KUBE-SVC-", "1/3", "DNAT"} {
		if !strings.Contains(out, want) {
			t.Errorf("tree lacks %q:\n%s", want, out)
		}
	}
	for _, format := range []string{"mermaid", "dot", "wide", "yaml"} {
		out, errOut, code := run(t, "", "-f", objs, "-n", "svct-rules", "nodeport", "--node-dump", dump, "--from", "external", "-o", format)
		if code != ExitOK || !strings.Contains(out, "10.244.0.") {
			t.Errorf("-o %s: exit %d %s", format, code, errOut)
		}
	}

	// Errors are clear.
	_, errOut, code = run(t, "", "-f", objs, "-n", "svct-rules", "clusterip", "--from", "pod/nope", "--node-dump", dump)
	if code != ExitFailure || !strings.Contains(errOut, `"nope" not found`) {
		t.Errorf("unknown pod: %d %s", code, errOut)
	}
	_, errOut, code = run(t, "", "-f", objs, "-n", "svct-rules", "clusterip", "--from", "external", "--via", "sideways", "--node-dump", dump)
	if code != ExitFailure || !strings.Contains(errOut, "invalid --via") {
		t.Errorf("bad --via: %d %s", code, errOut)
	}
	_, errOut, code = run(t, "", "-f", objs, "-n", "svct-rules", "clusterip", "--from", "10.244.0.2", "--node", "node9", "--node-dump", filepath.Clean(dump))
	if code != ExitFailure || !strings.Contains(errOut, "no dump of node node9") {
		t.Errorf("missing node dump: %d %s", code, errOut)
	}
}

// check --with-nodes joins every Service of the scope with the node's rules.
func TestCheckWithNodes(t *testing.T) {
	dump := nodeDumpFromRecording(t)
	objs := recorded + "objects.json"
	out, errOut, code := run(t, "", "check", "-f", objs, "-n", "svct-rules", "--with-nodes", "--node-dump", dump, "-o", "json")
	if code != ExitOK && code != ExitFindings {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep trace.CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	inspected := 0
	for _, s := range rep.Services {
		if s.Trace == nil {
			continue
		}
		for _, nr := range s.Trace.Nodes {
			inspected++
			if nr.Name != "node1" {
				t.Errorf("%s: node %s", s.Name, nr.Name)
			}
		}
		for _, f := range s.Findings {
			// The recording is consistent: no drift may be reported.
			// Remote endpoints leave the one-node harness through the
			// uplink, where its safety net drops them: that must be
			// blamed on that rule, not on kube-proxy.
			if f.Code == trace.CodeDataplaneRejects && strings.Contains(f.Message, "a rule kube-proxy did not write") && strings.Contains(f.Message, "-j DROP") {
				continue
			}
			if strings.HasPrefix(f.Code, "Dataplane") && f.Severity == trace.SeverityError {
				t.Errorf("%s: %s %s", s.Name, f.Code, f.Message)
			}
		}
		if s.Name == "etp-local-remote" {
			found := false
			for _, f := range s.Findings {
				found = found || f.Code == trace.CodeDataplaneDrops
			}
			if !found {
				t.Errorf("etp-local-remote: NodePort traffic on a node without local endpoints must be reported as dropped: %+v", s.Findings)
			}
		}
	}
	if inspected < 15 {
		t.Errorf("only %d node evaluations", inspected)
	}
	_, errOut, code = run(t, "", "check", "-f", objs, "-n", "svct-rules", "--with-nodes")
	if code != ExitFailure || !strings.Contains(errOut, "--node-dump") {
		t.Errorf("offline --with-nodes without dumps: exit %d %s", code, errOut)
	}
}
