//go:build e2e

package e2e

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"
)

const helperImage = "localhost/svctrace/node-helper:v1"

// helperPodsLeft counts the plugin's helper pods still in the cluster,
// waiting a little for deletions to finish.
func helperPodsLeft(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := kubectl(t, "get", "pods", "-A", "-l", "app.kubernetes.io/managed-by=kubectl-svc-trace", "-o", "name")
		if strings.TrimSpace(out) == "" || time.Now().After(deadline) {
			return strings.TrimSpace(out)
		}
		time.Sleep(time.Second)
	}
}

type fullTrace struct {
	Endpoints []struct {
		IP          string
		Probability *float64
		Masquerade  *bool
	}
	Hops  []struct{ Kind string }
	Nodes []struct {
		Name, Verdict, ProxyMode, IPTablesBackend string
		Endpoints                                 []struct {
			IP       string
			Fraction string
			Pod      string
			InAPI    bool
		}
		Findings []struct{ Code, Severity, Message string }
	}
	Findings []struct{ Code, Severity, Message string }
}

// TestFullPath traces Services through node1's real kube-proxy rules with
// the real helper pod: from a pod, from the node and from outside, and
// checks the shares, the join with the API, and that no helper pod is left.
func TestFullPath(t *testing.T) {
	needPlugin(t)
	pods := podList(t, "app=ngx")
	if len(pods) == 0 {
		t.Fatal("no ngx pods")
	}
	cases := []struct {
		name, svc string
		args      []string
		want      int // endpoints the rules DNAT to
	}{
		{"from a pod, ClusterIP", "ngx-dep-svc", []string{"--from", "pod/" + pods[0].Name}, 3},
		{"from the node, ClusterIP", "ngx-dep-svc", []string{"--from", "node/node1"}, 3},
		{"from outside, NodePort", "ngx-nodeport", []string{"--from", "external", "--node", "node1"}, 3},
		{"from a pod, only the ready endpoint", "readiness-svc", []string{"--from", "pod/" + pods[0].Name}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{c.svc, "-n", "default", "-o", "json", "--helper-image", helperImage}, c.args...)
			r := runPlugin(t, args...)
			if r.exit != 0 {
				t.Fatalf("exit %d\n%s", r.exit, r.stderr)
			}
			var tr fullTrace
			if err := json.Unmarshal([]byte(r.stdout), &tr); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			if len(tr.Nodes) == 0 {
				t.Fatalf("no node result; stderr:\n%s", r.stderr)
			}
			nr := tr.Nodes[0]
			if nr.Verdict != "DNAT" || len(nr.Endpoints) != c.want || nr.ProxyMode != env.proxyMode || nr.IPTablesBackend != "nft" {
				t.Fatalf("node result: %+v", nr)
			}
			want := big.NewRat(1, int64(c.want)).RatString()
			for _, e := range nr.Endpoints {
				if e.Fraction != want || !e.InAPI || e.Pod == "" {
					t.Errorf("endpoint %+v, want share %s joined to a pod", e, want)
				}
			}
			for _, f := range tr.Findings {
				if strings.HasPrefix(f.Code, "Dataplane") && f.Severity == "error" {
					t.Errorf("drift on a healthy cluster: %s %s", f.Code, f.Message)
				}
			}
			if len(tr.Hops) < 3 || tr.Hops[0].Kind != "client" {
				t.Errorf("hops: %+v", tr.Hops)
			}
			if !strings.Contains(r.stderr, "creating") || !strings.Contains(r.stderr, "deleted") {
				t.Errorf("progress on stderr: %q", r.stderr)
			}
		})
	}
	if left := helperPodsLeft(t); left != "" {
		t.Errorf("helper pods left behind: %s", left)
	}

	// check --with-nodes: the dataplane of every proxied Service in the
	// namespace; the healthy ones show no drift.
	r := runPlugin(t, "check", "-n", "default", "--with-nodes=1", "--helper-image", helperImage, "-o", "json")
	if r.exit != 3 {
		t.Fatalf("check --with-nodes: exit %d\n%s", r.exit, r.stderr)
	}
	var rep struct {
		Services []struct {
			Name     string
			Findings []struct{ Code, Severity, Message string }
			Trace    struct{ Nodes []struct{ Name string } }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	evaluated := 0
	for _, s := range rep.Services {
		evaluated += len(s.Trace.Nodes)
		if s.Name == "ngx-dep-svc" || s.Name == "nginx-svc" || s.Name == "multi-port-svc" {
			for _, f := range s.Findings {
				if f.Severity == "error" {
					t.Errorf("%s: %s %s", s.Name, f.Code, f.Message)
				}
			}
		}
	}
	if evaluated < 10 {
		t.Errorf("check --with-nodes evaluated only %d service/node pairs", evaluated)
	}
	if left := helperPodsLeft(t); left != "" {
		t.Errorf("helper pods left behind by check: %s", left)
	}
}
