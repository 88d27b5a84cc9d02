//go:build linux

package dnscluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLive runs `svc-trace dns NAME --live` against the harness's real
// CoreDNS (port-forward through the API server to the CoreDNS pod, DNS over
// TCP): with the model right, every question must come back the same and
// the real walk must end as predicted; with a --records file that lies about
// a cluster name, --live must say so.
func TestLive(t *testing.T) {
	e := cluster(t)
	upstream := filepath.Join(e.repo, "test", "dns", "cluster", "testdata", "harness-upstream.yaml")
	cases := []struct {
		name string
		args []string
		// rounds is the walk's length, as the seed material says (0: skip).
		rounds int
	}{
		{"seed: nginx-svc from namespace default", []string{"nginx-svc", "--from", "pod/dns-client", "--resolver", "glibc"}, 1},
		{"seed: prometheus-k8s.monitoring", []string{"prometheus-k8s.monitoring", "--from", "pod/dns-client", "--resolver", "glibc"}, 2},
		{"seed: www.baidu.com with ndots:5 (upstream SERVFAIL here)", []string{"www.baidu.com", "--from", "pod/dns-client", "--resolver", "go"}, 4},
		{"seed: www.baidu.com. (trailing dot)", []string{"www.baidu.com.", "--from", "pod/dns-client", "--resolver", "glibc"}, 1},
		{"headless, ready endpoints only", []string{"web.svct-dns", "--from", "pod/dns-client", "--resolver", "musl"}, 2},
		{"endpoint hostname", []string{"web-0.web.svct-dns.svc.cluster.local", "--from", "pod/dns-client", "--resolver", "musl-1.2.3"}, 0},
		{"not-ready endpoint (NXDOMAIN walk)", []string{"web-1.web", "--from", "pod/client", "-n", "svct-dns", "--resolver", "glibc"}, 0},
		{"ExternalName to a dead target, glibc stops", []string{"ngx-external", "--from", "pod/dns-client", "--resolver", "glibc"}, 1},
		{"ExternalName to a dead target, go walks on", []string{"ngx-external", "--from", "pod/dns-client", "--resolver", "go"}, 0},
		{"namespace NODATA stops musl", []string{"svct-dns-empty", "--from", "pod/client", "-n", "svct-dns", "--resolver", "musl"}, 0},
		{"in-zone ExternalName chain", []string{"ext-chain", "--from", "pod/client", "-n", "svct-dns", "--resolver", "glibc"}, 1},
		{"dual-stack, IPv6 only", []string{"dual-svc", "--from", "pod/dns-client", "--family", "ipv6", "--resolver", "glibc"}, 1},
		{"dnsConfig ndots:2 and an extra search domain", []string{"api.svct-dns", "--from", "pod/client-cfg", "-n", "svct-dns", "--resolver", "glibc"}, 2},
		{"SRV", []string{"_http._tcp.web.svct-dns.svc.cluster.local", "--type", "SRV", "--from", "pod/dns-client"}, 0},
		{"PTR of a ClusterIP", []string{"10.96.0.10", "--type", "PTR", "--from", "pod/dns-client"}, 0},
		{"pod name", []string{"172-0-0-2.default.pod.cluster.local", "--type", "A", "--from", "pod/dns-client"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := "default"
			args := append([]string{}, c.args...)
			for i := 0; i+1 < len(args); i++ {
				if args[i] == "-n" {
					ns = args[i+1]
					args = append(args[:i], args[i+2:]...)
					break
				}
			}
			rep := e.report(t, ns, append(args, "--live", "--records", upstream)...)
			lv := rep.Live
			if lv == nil {
				t.Fatal("no live section in the report")
			}
			if !strings.Contains(lv.Server, "kube-system/coredns-") {
				t.Errorf("asked %q, want the CoreDNS pod", lv.Server)
			}
			if len(lv.Questions) == 0 {
				t.Fatal("no question asked")
			}
			for _, q := range lv.Questions {
				if !q.Match || q.Real.Error != "" {
					t.Errorf("%s %s: predicted %+v, real %+v: %v", q.Name, q.Type, q.Predicted, q.Real, q.Differences)
				}
			}
			if rep.QType == "" {
				if lv.Walk == nil || !lv.Walk.Match {
					t.Errorf("real walk %+v differs from the prediction (%d rounds, %s)", lv.Walk, rep.Answer.Rounds, rep.Answer.Status)
				}
			}
			if lv.Differences != 0 {
				t.Errorf("%d differences", lv.Differences)
			}
			// On a single-stack cluster dual-svc has no IPv6 address: the
			// IPv6 walk then runs through every candidate (still as
			// predicted, checked above).
			if c.rounds > 0 && rep.Answer.Rounds != c.rounds && (e.dual || !strings.Contains(c.name, "IPv6")) {
				t.Errorf("%d rounds, want %d", rep.Answer.Rounds, c.rounds)
			}
		})
	}

	t.Run("a lie in --records is flagged", func(t *testing.T) {
		lie := filepath.Join(t.TempDir(), "lie.yaml")
		if err := os.WriteFile(lie, []byte("default: SERVFAIL\nrecords:\n  nginx-svc.default.svc.cluster.local.: {A: [192.0.2.77]}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rep := e.report(t, "default", "nginx-svc", "--from", "pod/dns-client", "--resolver", "glibc", "--live", "--records", lie)
		lv := rep.Live
		if lv == nil || lv.Differences == 0 {
			t.Fatalf("no difference flagged: %+v", lv)
		}
		found := false
		for _, q := range lv.Questions {
			if q.Name == "nginx-svc.default.svc.cluster.local." && q.Type == "A" && !q.Match &&
				strings.Contains(strings.Join(q.Differences, " "), "192.0.2.77") {
				found = true
			}
		}
		if !found {
			t.Errorf("the A question of nginx-svc is not flagged with the lie: %+v", lv.Questions)
		}
		if lv.Walk == nil || lv.Walk.Match {
			t.Errorf("the real walk should end with other addresses: %+v", lv.Walk)
		}
		out, err := e.svcTrace(t, "default", "nginx-svc", "--from", "pod/dns-client", "--resolver", "glibc", "--live", "--records", lie)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Live check: pod kube-system/coredns-", "DIFFERENT", "difference: nginx-svc.default.svc.cluster.local. A: answer: predicted [nginx-svc.default.svc.cluster.local. A 192.0.2.77]", "NOT as predicted"} {
			if !strings.Contains(out, want) {
				t.Errorf("tree output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("--live needs cluster DNS", func(t *testing.T) {
		_, err := e.svcTrace(t, "svct-dns", "x", "--from", "pod/client-default", "--live", "--node-resolv-conf", "/etc/resolv.conf")
		if err == nil || !strings.Contains(err.Error(), "neither a Service ClusterIP nor a pod IP") {
			t.Errorf("dnsPolicy Default pod: error %v", err)
		}
		_, err = e.svcTrace(t, "svct-dns", "x", "--from", "pod/client-default", "--live")
		if err == nil || !strings.Contains(err.Error(), "no nameserver to ask") {
			t.Errorf("dnsPolicy Default pod, node resolv.conf unknown: error %v", err)
		}
	})
}

// TestExec runs `svc-trace dns --exec` on real pods: the resolv.conf the
// real kubelet and containerd wrote must be read (compared with kubectl
// exec's own reading) and must equal the computed one for every dnsPolicy,
// hostNetwork and dnsConfig combination of test/dns/cluster/manifests; with
// a wrong node resolv.conf, --exec must point at the difference.
func TestExec(t *testing.T) {
	e := cluster(t)
	// kubelet's resolvConf is the node's /etc/resolv.conf (hack/cluster.sh),
	// and this machine is the node.
	for _, pod := range []string{"client", "client-cfg", "client-default", "client-none", "client-hostnet", "client-hostnet-cf"} {
		t.Run(pod, func(t *testing.T) {
			rep := e.report(t, "svct-dns", "kubernetes.default", "--from", "pod/"+pod, "--exec", "--node-resolv-conf", "/etc/resolv.conf")
			c := rep.ExecResolvConf
			if c == nil {
				t.Fatal("no execResolvConf in the report")
			}
			want, err := e.run(e.timeout(), e.kubectl, "exec", "-n", "svct-dns", pod, "--", "cat", "/etc/resolv.conf")
			if err != nil {
				t.Fatalf("kubectl exec: %v\n%s", err, want)
			}
			if c.Real != want {
				t.Errorf("--exec read %q, kubectl exec reads %q", c.Real, want)
			}
			if !c.Match {
				t.Errorf("computed resolv.conf differs from the real one: %v\ncomputed:\n%s\nreal:\n%s", c.Differences, c.Computed, c.Real)
			}
			if rep.ResolvConf.Text != c.Real {
				t.Errorf("the walk did not use the real file: %q", rep.ResolvConf.Text)
			}
		})
	}
	t.Run("a wrong node resolv.conf shows", func(t *testing.T) {
		node := filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(node, []byte("search corp.example\nnameserver 192.0.2.53\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rep := e.report(t, "svct-dns", "x", "--from", "pod/client", "--exec", "--node-resolv-conf", node)
		c := rep.ExecResolvConf
		if c == nil || c.Match || !strings.Contains(strings.Join(c.Differences, "\n"), "search: computed [svct-dns.svc.cluster.local svc.cluster.local cluster.local corp.example], real [svct-dns.svc.cluster.local svc.cluster.local cluster.local]") {
			t.Errorf("difference not reported: %+v", c)
		}
	})
	t.Run("a container without cat", func(t *testing.T) {
		_, err := e.svcTrace(t, "svct-dns", "x", "--from", "pod/client", "--exec", "-c", "no-such-container")
		if err == nil || !strings.Contains(err.Error(), "--exec: cat /etc/resolv.conf in pod svct-dns/client container no-such-container") {
			t.Errorf("error %v", err)
		}
	})
}
