//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDataPlane sends real requests through the node's kube-proxy rules and
// checks who answers. It pins down the ground truth the plugin's diagnosis
// must agree with (a Service with no ready endpoint is REJECTed, only ready
// pods receive traffic, affinity sticks, …) and proves the cluster under
// test is a working one, in whichever PROXY_MODE it runs.
func TestDataPlane(t *testing.T) {
	needCluster(t)
	ngx := podsByIP(t, "app=ngx")
	tests := []dpCase{
		{"ClusterIP spreads over the 3 ready pods", svcURL("ngx-dep-svc", 0, 80, "/"), 30,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 2) }},
		{"named targetPort reaches containerPort http", svcURL("nginx-svc", 0, 80, "/"), 3,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 1); onPort(t, ans, "8080") }},
		{"second Service port reaches containerPort metrics", svcURL("multi-port-svc", 0, 9090, "/m"), 3,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 1); onPort(t, ans, "9090") }},
		{"NodePort on the node IP", fixedURL("http://10.250.0.10:30080/"), 3,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 1) }},
		{"externalTrafficPolicy Local NodePort with local endpoints", fixedURL("http://10.250.0.10:30081/"), 3,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 1) }},
		{"load-balancer VIP from inside the source ranges", fixedURL("http://10.250.0.100/"), 3,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 1) }},
		{"internalTrafficPolicy Local with local endpoints", svcURL("itp-local-svc", 0, 80, "/"), 3,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 1) }},
		{"ClientIP affinity pins one pod", svcURL("affinity-svc", 0, 80, "/"), 15,
			func(t *testing.T, ans []answer) { fromPods(t, ans, ngx, 1); samePod(t, ans) }},
		{"only the ready pod of readiness-svc gets traffic", svcURL("readiness-svc", 0, 80, "/"), 15,
			func(t *testing.T, ans []answer) {
				ready := readyPodsByIP(t, "app=gated")
				if n := distinct(ready); n != 1 {
					t.Fatalf("%d ready gated pods, want 1", n)
				}
				fromPods(t, ans, ready, 1)
			}},
	}
	if env.dualStack {
		tests = append(tests, dpCase{"IPv6 ClusterIP of the dual-stack Service", svcURL("dual-svc", 1, 80, "/"), 3,
			func(t *testing.T, ans []answer) {
				// The echo server reports POD_IP (status.podIP, the IPv4
				// primary); the client address shows the IPv6 path.
				for _, a := range ans {
					if c, err := netip.ParseAddrPort(a.kv["client"]); err != nil || !c.Addr().Is6() {
						t.Errorf("answer %q did not arrive over IPv6", a.raw)
					}
				}
				fromPods(t, ans, ngx, 1)
			}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			var ans []answer
			for i := 0; i < tt.n; i++ {
				a, err := getWithRetry(url, 20*time.Second)
				if err != nil {
					t.Fatalf("GET %s: %v", url, err)
				}
				ans = append(ans, a)
			}
			tt.want(t, ans)
		})
	}

	// No ready endpoint at all: kube-proxy installs a REJECT for the
	// ClusterIP, so the client sees "connection refused" at once rather
	// than a timeout.
	for _, svc := range []string{"allgated-svc", "nomatch-svc", "orphan-svc"} {
		t.Run(svc+" is rejected", func(t *testing.T) {
			url := svcURL(svc, 0, 80, "/")(t)
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s answered %s, want connection refused", url, resp.Status)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("GET %s: %v, want connection refused (kube-proxy REJECT)", url, err)
			}
		})
	}

	// Pod → Service, including hairpin (a pod reaching itself through its
	// own Service), which needs br_netfilter and hairpin mode on the bridge.
	t.Run("pod to ClusterIP (hairpin)", func(t *testing.T) {
		pods := podList(t, "app=ngx")
		ip := clusterIP(t, "ngx-dep-svc", 0)
		seen := map[string]bool{}
		for i := 0; i < 12; i++ {
			out := kubectl(t, "exec", pods[0].Name, "-c", "echo", "--", "/echo", "-get", "http://"+ip+"/")
			a := parseAnswer(out)
			if _, ok := ngx[a.kv["ip"]]; !ok {
				t.Fatalf("answer %q not from an app=ngx pod", out)
			}
			seen[a.kv["pod"]] = true
		}
		if !seen[pods[0].Name] {
			t.Logf("pod %s was never picked for itself in 12 tries (hairpin not exercised, 1/3^12 odds)", pods[0].Name)
		}
	})
}

type dpCase struct {
	name string
	url  func(t *testing.T) string
	n    int                              // requests to send
	want func(t *testing.T, ans []answer) // checks on the answers
}

// answer is one response of the echo server: "pod=… ip=… node=… client=… port=… path=…".
type answer struct {
	raw string
	kv  map[string]string
}

func parseAnswer(s string) answer {
	a := answer{raw: strings.TrimSpace(s), kv: map[string]string{}}
	for _, f := range strings.Fields(a.raw) {
		if k, v, ok := strings.Cut(f, "="); ok {
			a.kv[k] = v
		}
	}
	return a
}

// getWithRetry GETs url on a fresh connection (so every request is a new
// conntrack entry and a new load-balancing decision). It retries for a
// while: kube-proxy may still be applying its last sync.
func getWithRetry(url string, within time.Duration) (answer, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(within)
	for {
		resp, err := c.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return parseAnswer(string(body)), nil
			}
			err = fmt.Errorf("%s %v %q", resp.Status, rerr, body)
		}
		if time.Now().After(deadline) {
			return answer{}, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func svcURL(svc string, family, port int, path string) func(t *testing.T) string {
	return func(t *testing.T) string {
		ip := clusterIP(t, svc, family)
		return "http://" + net.JoinHostPort(ip, fmt.Sprint(port)) + path
	}
}

func fixedURL(u string) func(*testing.T) string { return func(*testing.T) string { return u } }

func clusterIP(t *testing.T, svc string, family int) string {
	t.Helper()
	s, err := env.client.CoreV1().Services("default").Get(t.Context(), svc, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if family >= len(s.Spec.ClusterIPs) {
		t.Fatalf("service %s has clusterIPs %v, want index %d", svc, s.Spec.ClusterIPs, family)
	}
	return s.Spec.ClusterIPs[family]
}

func podList(t *testing.T, selector string) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	l, err := env.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) == 0 {
		t.Fatalf("no pods match %s", selector)
	}
	return l.Items
}

// podsByIP maps every IP (all families) of the matching pods to the pod name.
func podsByIP(t *testing.T, selector string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range podList(t, selector) {
		for _, ip := range p.Status.PodIPs {
			out[canonIP(ip.IP)] = p.Name
		}
	}
	return out
}

func readyPodsByIP(t *testing.T, selector string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range podList(t, selector) {
		if podReady(&p) {
			for _, ip := range p.Status.PodIPs {
				out[canonIP(ip.IP)] = p.Name
			}
		}
	}
	return out
}

// distinct counts the pods in an IP → pod map (a dual-stack pod has two IPs).
func distinct(byIP map[string]string) int {
	names := map[string]bool{}
	for _, n := range byIP {
		names[n] = true
	}
	return len(names)
}

// fromPods: every answer came from one of pods (by the pod's own POD_IP and
// name), and at least minDistinct different pods answered.
func fromPods(t *testing.T, ans []answer, pods map[string]string, minDistinct int) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range ans {
		name, ok := pods[canonIP(a.kv["ip"])]
		if !ok || name != a.kv["pod"] {
			t.Errorf("answer %q is not from one of %v", a.raw, pods)
			continue
		}
		seen[name] = true
	}
	if len(seen) < minDistinct {
		t.Errorf("%d distinct pods answered %d requests, want at least %d", len(seen), len(ans), minDistinct)
	}
}

func onPort(t *testing.T, ans []answer, port string) {
	t.Helper()
	for _, a := range ans {
		if a.kv["port"] != port {
			t.Errorf("answer %q: served on port %s, want %s", a.raw, a.kv["port"], port)
		}
	}
}

func samePod(t *testing.T, ans []answer) {
	t.Helper()
	for _, a := range ans[1:] {
		if a.kv["pod"] != ans[0].kv["pod"] {
			t.Errorf("ClientIP affinity broken: %q then %q", ans[0].raw, a.raw)
			return
		}
	}
}
