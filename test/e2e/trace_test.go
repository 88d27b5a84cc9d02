//go:build e2e

package e2e

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// traceCase is one seed scenario: the Service to trace and what must be true
// of the plugin's answer beyond checkAgainstCluster (which every case gets).
type traceCase struct {
	svc   string
	check func(t *testing.T, tr *serviceTrace, want *truth)
}

var traceCases = []traceCase{
	{"ngx-dep-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		wantReady(t, tr, 3, 8080)
		noErrors(t, tr)
	}},
	{"nginx-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		// targetPort "http" resolved per pod to containerPort 8080.
		wantReady(t, tr, 3, 8080)
		noErrors(t, tr)
		noFinding(t, tr, "NamedPortUnresolved")
	}},
	{"ngx-nodeport", func(t *testing.T, tr *serviceTrace, _ *truth) {
		wantReady(t, tr, 3, 8080)
		if len(tr.Service.Ports) == 1 && tr.Service.Ports[0].NodePort != 30080 {
			t.Errorf("nodePort = %d, want 30080", tr.Service.Ports[0].NodePort)
		}
		noErrors(t, tr)
	}},
	{"ngx-lb", func(t *testing.T, tr *serviceTrace, _ *truth) {
		wantFinding(t, tr, "LoadBalancerPending")
		if len(tr.Service.LoadBalancerIngress) != 0 {
			t.Errorf("loadBalancerIngress = %+v, want none (no cloud controller)", tr.Service.LoadBalancerIngress)
		}
		wantReady(t, tr, 3, 8080)
	}},
	{"ngx-lb-ingress", func(t *testing.T, tr *serviceTrace, _ *truth) {
		noFinding(t, tr, "LoadBalancerPending")
		want := []traceLBIngress{{IP: "10.250.0.100", IPMode: "VIP"}}
		if !slices.Equal(tr.Service.LoadBalancerIngress, want) {
			t.Errorf("loadBalancerIngress = %+v, want %+v", tr.Service.LoadBalancerIngress, want)
		}
		wantReady(t, tr, 3, 8080)
	}},
	{"ngx-headless", func(t *testing.T, tr *serviceTrace, _ *truth) {
		wantFinding(t, tr, "HeadlessService")
		for _, ip := range tr.Service.ClusterIPs {
			if _, err := netip.ParseAddr(ip); err == nil {
				t.Errorf("headless service reports clusterIP %s", ip)
			}
		}
		wantReady(t, tr, 3, 8080)
	}},
	{"ngx-external", func(t *testing.T, tr *serviceTrace, _ *truth) {
		f := wantFinding(t, tr, "ExternalNameService")
		if f != nil && !strings.Contains(f.Message, "www.example.com") {
			t.Errorf("ExternalNameService message %q does not name www.example.com", f.Message)
		}
		if tr.Service.ExternalName != "www.example.com" {
			t.Errorf("externalName = %q, want www.example.com", tr.Service.ExternalName)
		}
		if len(tr.Endpoints) != 0 || len(tr.Pods) != 0 {
			t.Errorf("ExternalName service has endpoints %v / pods %v", tr.Endpoints, tr.Pods)
		}
	}},
	{"manual-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		// Hand-written slice + mirrored Endpoints: still 1 ready + 1 not ready.
		ready, notReady := tr.endpointsIn(stateReady), tr.endpointsIn(stateNotReady)
		if len(ready) != 1 || ready[0].IP != "10.244.0.250" || len(notReady) != 1 || notReady[0].IP != "10.244.0.251" {
			t.Errorf("endpoints = %+v, want 10.244.0.250 ready and 10.244.0.251 not-ready", tr.Endpoints)
		}
		for _, e := range tr.Endpoints {
			if e.Pod != "" {
				t.Errorf("endpoint %s names pod %q, but no pod backs it", e.IP, e.Pod)
			}
		}
		noFinding(t, tr, "NoSelectorNoEndpoints")
		wantFinding(t, tr, "SomeEndpointsNotReady")
	}},
	{"orphan-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		wantFinding(t, tr, "NoSelectorNoEndpoints")
		if len(tr.Endpoints) != 0 {
			t.Errorf("endpoints = %+v, want none", tr.Endpoints)
		}
	}},
	{"nomatch-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		f := wantFinding(t, tr, "SelectorMatchesNoPods")
		if f != nil && f.Severity != "error" {
			t.Errorf("SelectorMatchesNoPods severity = %q, want error", f.Severity)
		}
		if len(tr.Endpoints) != 0 || len(tr.Pods) != 0 {
			t.Errorf("endpoints %v / pods %v, want none", tr.Endpoints, tr.Pods)
		}
	}},
	{"multi-port-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		byName := map[string][]int32{}
		for _, e := range tr.endpointsIn(stateReady) {
			byName[e.PortName] = append(byName[e.PortName], e.Port)
		}
		for name, port := range map[string]int32{"http": 8080, "metrics": 9090} {
			got := byName[name]
			if len(got) != 3 || slices.ContainsFunc(got, func(p int32) bool { return p != port }) {
				t.Errorf("ready endpoints of port %q = %v, want 3 × %d", name, got, port)
			}
		}
		noErrors(t, tr)
	}},
	{"broken-port-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		wantFinding(t, tr, "NamedPortUnresolved")
		if r := tr.endpointsIn(stateReady); len(r) != 0 {
			t.Errorf("ready endpoints = %+v, want none: no pod has a port named web", r)
		}
	}},
	{"readiness-svc", func(t *testing.T, tr *serviceTrace, want *truth) {
		wantFinding(t, tr, "SomeEndpointsNotReady")
		ready, notReady := tr.endpointsIn(stateReady), tr.endpointsIn(stateNotReady)
		if len(ready) != 1 || len(notReady) != 1 {
			t.Fatalf("endpoints = %+v, want 1 ready + 1 not-ready", tr.Endpoints)
		}
		if rp := want.readyPods(); len(rp) != 1 || ready[0].Pod != rp[0].Name {
			t.Errorf("ready endpoint is pod %q, want the pod made ready by the setup (%v)", ready[0].Pod, apiPodNames(rp))
		}
		if !strings.Contains(strings.ToLower(notReady[0].Reason), "readiness") {
			t.Errorf("not-ready endpoint reason %q does not mention the readiness probe", notReady[0].Reason)
		}
	}},
	{"pnra-svc", func(t *testing.T, tr *serviceTrace, want *truth) {
		wantFinding(t, tr, "HeadlessService")
		if !tr.Service.PublishNotReadyAddresses {
			t.Errorf("publishNotReadyAddresses = false")
		}
		ips := map[string]bool{}
		for _, e := range tr.Endpoints {
			ips[canonIP(e.IP)] = true
		}
		if len(want.pods) != 2 {
			t.Fatalf("cluster has %d gated pods, want 2", len(want.pods))
		}
		for _, p := range want.pods {
			if !ips[canonIP(p.Status.PodIP)] {
				t.Errorf("gated pod %s (%s, ready=%v) not listed; publishNotReadyAddresses publishes it", p.Name, p.Status.PodIP, podReady(&p))
			}
		}
	}},
	{"affinity-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		if tr.Service.SessionAffinity != "ClientIP" || tr.Service.SessionAffinityTimeoutSeconds != 600 {
			t.Errorf("sessionAffinity = %q/%ds, want ClientIP/600s", tr.Service.SessionAffinity, tr.Service.SessionAffinityTimeoutSeconds)
		}
		wantReady(t, tr, 3, 8080)
	}},
	{"local-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		if tr.Service.ExternalTrafficPolicy != "Local" {
			t.Errorf("externalTrafficPolicy = %q, want Local", tr.Service.ExternalTrafficPolicy)
		}
		f := wantFinding(t, tr, "ExternalTrafficPolicyLocal")
		if f != nil && !strings.Contains(f.Message, "node1") {
			t.Errorf("ExternalTrafficPolicyLocal message %q does not name node1, the node with local endpoints", f.Message)
		}
		wantReady(t, tr, 3, 8080)
	}},
	{"itp-local-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		if tr.Service.InternalTrafficPolicy != "Local" {
			t.Errorf("internalTrafficPolicy = %q, want Local", tr.Service.InternalTrafficPolicy)
		}
		wantFinding(t, tr, "InternalTrafficPolicyLocal")
		wantReady(t, tr, 3, 8080)
	}},
	{"dual-svc", func(t *testing.T, tr *serviceTrace, want *truth) {
		if !env.dualStack {
			t.Skip("cluster is single-stack (SVCT_IP_FAMILY=ipv4)")
		}
		if len(tr.Service.ClusterIPs) != 2 || !slices.Equal(tr.Service.IPFamilies, []string{"IPv4", "IPv6"}) {
			t.Errorf("clusterIPs %v / ipFamilies %v, want one IPv4 and one IPv6", tr.Service.ClusterIPs, tr.Service.IPFamilies)
		}
		var v4, v6 int
		for _, e := range tr.endpointsIn(stateReady) {
			if a, err := netip.ParseAddr(e.IP); err == nil && a.Is4() {
				v4++
			} else if err == nil {
				v6++
			}
		}
		if v4 != 3 || v6 != 3 {
			t.Errorf("ready endpoints: %d IPv4 + %d IPv6, want 3 + 3", v4, v6)
		}
		noErrors(t, tr)
	}},
	{"allgated-svc", func(t *testing.T, tr *serviceTrace, _ *truth) {
		wantFinding(t, tr, "NoReadyEndpoints")
		if len(tr.endpointsIn(stateReady)) != 0 || len(tr.endpointsIn(stateNotReady)) != 1 {
			t.Errorf("endpoints = %+v, want exactly 1 not-ready", tr.Endpoints)
		}
	}},
}

// TestTrace runs the plugin on every seed scenario against the live cluster.
func TestTrace(t *testing.T) {
	needPlugin(t)
	for _, tc := range traceCases {
		t.Run(tc.svc, func(t *testing.T) {
			r := runPlugin(t, tc.svc, "-n", "default", "-o", "json")
			if r.exit != 0 {
				t.Fatalf("exit %d, want 0 (no --fail-on)\nstderr:\n%s", r.exit, r.stderr)
			}
			tr := decodeTrace(t, r)
			want := getTruth(t, "default", tc.svc)
			checkAgainstCluster(t, tr, want)
			tc.check(t, tr, want)
			if t.Failed() {
				t.Logf("plugin output:\n%s", tr.dump())
			}
		})
	}
}

// TestEveryScenarioHasACase keeps the table honest: a Service added to
// test/e2e/manifests without a case here fails.
func TestEveryScenarioHasACase(t *testing.T) {
	needCluster(t)
	list, err := env.client.CoreV1().Services("default").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tc := range traceCases {
		have[tc.svc] = true
	}
	for _, s := range list.Items {
		if s.Name != "kubernetes" && !have[s.Name] {
			t.Errorf("service %s has no traceCase", s.Name)
		}
	}
}

func TestExitCodes(t *testing.T) {
	needPlugin(t)
	tests := []struct {
		name       string
		args       []string
		wantExit   int
		wantStderr string
	}{
		{"missing service", []string{"does-not-exist", "-n", "default", "-o", "json"}, 1,
			`Error from server (NotFound): services "does-not-exist" not found`},
		{"error finding with --fail-on=error", []string{"nomatch-svc", "-n", "default", "-o", "json", "--fail-on=error"}, 3, ""},
		{"healthy service with --fail-on=error", []string{"ngx-dep-svc", "-n", "default", "-o", "json", "--fail-on=error"}, 0, ""},
		// Thresholds: an error finding reaches --fail-on=warning and =info too.
		{"error finding with --fail-on=warning", []string{"nomatch-svc", "-n", "default", "-o", "json", "--fail-on=warning"}, 3, ""},
		{"error finding with --fail-on=info", []string{"nomatch-svc", "-n", "default", "-o", "json", "--fail-on=info"}, 3, ""},
		{"error finding without --fail-on", []string{"nomatch-svc", "-n", "default", "-o", "json"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPlugin(t, tt.args...)
			if r.exit != tt.wantExit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.exit, tt.wantExit, r.stdout, r.stderr)
			}
			if tt.wantStderr != "" && !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantStderr)
			}
			if tt.wantExit == 3 {
				// A failed gate still prints the full trace.
				decodeTrace(t, r)
			}
		})
	}
}

func wantReady(t *testing.T, tr *serviceTrace, n int, port int32) {
	t.Helper()
	ready := tr.endpointsIn(stateReady)
	if len(ready) != n {
		t.Errorf("%d ready endpoints, want %d: %+v", len(ready), n, tr.Endpoints)
	}
	for _, e := range ready {
		if e.Port != port {
			t.Errorf("ready endpoint %s port %d, want %d", e.IP, e.Port, port)
		}
		if e.Pod == "" || e.Node != "node1" {
			t.Errorf("ready endpoint %s: pod %q node %q, want a pod on node1", e.IP, e.Pod, e.Node)
		}
	}
}

func wantFinding(t *testing.T, tr *serviceTrace, code string) *traceFinding {
	t.Helper()
	f := tr.finding(code)
	if f == nil {
		var codes []string
		for _, f := range tr.Findings {
			codes = append(codes, f.Code)
		}
		t.Errorf("no %s finding; findings: %v", code, codes)
	}
	return f
}

func noFinding(t *testing.T, tr *serviceTrace, code string) {
	t.Helper()
	if f := tr.finding(code); f != nil {
		t.Errorf("unexpected %s finding: %s", code, f.Message)
	}
}

func noErrors(t *testing.T, tr *serviceTrace) {
	t.Helper()
	if errs := tr.findingsWithSeverity("error"); len(errs) > 0 {
		t.Errorf("error findings on a healthy service: %v", errs)
	}
}
