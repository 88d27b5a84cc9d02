//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// truth is the cluster's own view of one Service, read straight from the
// API server: what the plugin's answer is checked against.
type truth struct {
	svc    *corev1.Service
	slices []discoveryv1.EndpointSlice
	pods   []corev1.Pod // pods the selector matches (none without a selector)
}

func getTruth(t *testing.T, ns, name string) *truth {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := env.client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get service %s/%s: %v", ns, name, err)
	}
	sl, err := env.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + name,
	})
	if err != nil {
		t.Fatalf("list endpointslices of %s/%s: %v", ns, name, err)
	}
	tr := &truth{svc: svc, slices: sl.Items}
	if len(svc.Spec.Selector) > 0 {
		pods, err := env.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
		})
		if err != nil {
			t.Fatalf("list pods of %s/%s: %v", ns, name, err)
		}
		tr.pods = pods.Items
	}
	return tr
}

// epKey identifies one (address, port) endpoint of a Service port.
type epKey struct {
	ip       string
	port     int32
	portName string
}

type epWant struct {
	state string
	pod   string
	node  string
}

// expectedEndpoints derives, from the EndpointSlices, the endpoints of each
// Service port exactly as kube-proxy does in EndpointSliceCache
// (pkg/proxy/endpointslicecache.go, endpointInfoByServicePort + addEndpoints):
// a slice port belongs to the Service port with the same name and protocol;
// only Addresses[0] of an endpoint counts; the same ip:port in several slices
// (manual-svc has a hand-written and a mirrored slice) is one endpoint, a
// later non-terminating copy replacing an earlier one. The state follows the
// conditions as CategorizeEndpoints reads them: ready (nil = ready) →
// "ready"; else serving (nil = serving) and terminating → "serving-terminating";
// else "not-ready".
func (tr *truth) expectedEndpoints() map[epKey]epWant {
	type spn struct {
		name  string
		proto corev1.Protocol
	}
	svcPorts := map[spn]bool{}
	for _, p := range tr.svc.Spec.Ports {
		svcPorts[spn{p.Name, p.Protocol}] = true
	}
	out := map[epKey]epWant{}
	for _, s := range tr.slices {
		for _, sp := range s.Ports {
			if sp.Name == nil || sp.Port == nil || sp.Protocol == nil || !svcPorts[spn{*sp.Name, *sp.Protocol}] {
				continue
			}
			for _, e := range s.Endpoints {
				if len(e.Addresses) == 0 {
					continue
				}
				w := epWant{state: endpointState(e.Conditions)}
				if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
					w.pod = e.TargetRef.Name
				}
				if e.NodeName != nil {
					w.node = *e.NodeName
				}
				k := epKey{ip: canonIP(e.Addresses[0]), port: *sp.Port, portName: *sp.Name}
				terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
				if _, exists := out[k]; !exists || !terminating {
					out[k] = w
				}
			}
		}
	}
	return out
}

// endpointState mirrors kube-proxy's reading of EndpointConditions
// (endpointslicecache.go addEndpoints) and CategorizeEndpoints' fallback to
// serving-terminating endpoints.
func endpointState(c discoveryv1.EndpointConditions) string {
	ready := c.Ready == nil || *c.Ready
	serving := c.Serving == nil || *c.Serving
	terminating := c.Terminating != nil && *c.Terminating
	switch {
	case ready:
		return stateReady
	case serving && terminating:
		return stateTerminating
	default:
		return stateNotReady
	}
}

// inSlices reports whether a pod is referenced by any of the Service's
// EndpointSlices, ready or not.
func (tr *truth) inSlices(pod string) bool {
	for _, s := range tr.slices {
		for _, e := range s.Endpoints {
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" && e.TargetRef.Name == pod {
				return true
			}
		}
	}
	return false
}

func (tr *truth) readyPods() []corev1.Pod {
	var out []corev1.Pod
	for _, p := range tr.pods {
		if podReady(&p) {
			out = append(out, p)
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func canonIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}

// checkAgainstCluster holds for every scenario: the plugin reports the
// Service, its endpoints and its pods exactly as the API server has them.
func checkAgainstCluster(t *testing.T, got *serviceTrace, want *truth) {
	t.Helper()
	svc := want.svc
	gs := got.Service
	if gs.Namespace != svc.Namespace || gs.Name != svc.Name {
		t.Errorf("service = %s/%s, want %s/%s", gs.Namespace, gs.Name, svc.Namespace, svc.Name)
	}
	if gs.Type != string(svc.Spec.Type) {
		t.Errorf("service.type = %q, want %q", gs.Type, svc.Spec.Type)
	}
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	if gs.Headless != headless {
		t.Errorf("service.headless = %v, want %v", gs.Headless, headless)
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName && !headless {
		if !slices.Equal(canonAll(gs.ClusterIPs), canonAll(svc.Spec.ClusterIPs)) {
			t.Errorf("service.clusterIPs = %v, want %v", gs.ClusterIPs, svc.Spec.ClusterIPs)
		}
	}
	var fams []string
	for _, f := range svc.Spec.IPFamilies {
		fams = append(fams, string(f))
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName && !slices.Equal(gs.IPFamilies, fams) {
		t.Errorf("service.ipFamilies = %v, want %v", gs.IPFamilies, fams)
	}
	if len(gs.Ports) != len(svc.Spec.Ports) {
		t.Errorf("service.ports has %d entries, want %d", len(gs.Ports), len(svc.Spec.Ports))
	} else {
		for i, p := range svc.Spec.Ports {
			g := gs.Ports[i]
			if g.Name != p.Name || g.Port != p.Port || g.Protocol != string(p.Protocol) ||
				g.NodePort != p.NodePort || g.TargetPort != p.TargetPort.String() {
				t.Errorf("service.ports[%d] = %+v, want name=%q port=%d protocol=%s targetPort=%q nodePort=%d",
					i, g, p.Name, p.Port, p.Protocol, p.TargetPort.String(), p.NodePort)
			}
		}
	}

	// Endpoints: exactly the slices' (address, port) pairs, with the state,
	// pod and node the slices give. An entry with port 0 that is not ready
	// is tolerated: it is how a plugin may show an address whose named
	// targetPort resolved to nothing (broken-port-svc), which no slice port
	// can express.
	wantEPs := want.expectedEndpoints()
	gotEPs := map[epKey]traceEndpoint{}
	for _, e := range got.Endpoints {
		if e.Port == 0 && e.State != stateReady {
			continue
		}
		k := epKey{ip: canonIP(e.IP), port: e.Port, portName: e.PortName}
		if _, dup := gotEPs[k]; dup {
			t.Errorf("endpoint %s:%d (port %q) listed twice", e.IP, e.Port, e.PortName)
		}
		gotEPs[k] = e
	}
	for k, w := range wantEPs {
		g, ok := gotEPs[k]
		if !ok {
			t.Errorf("endpoint %s:%d (port %q, %s) missing", k.ip, k.port, k.portName, w.state)
			continue
		}
		if g.State != w.state || g.Pod != w.pod || g.Node != w.node {
			t.Errorf("endpoint %s:%d = state %q pod %q node %q, want state %q pod %q node %q",
				k.ip, k.port, g.State, g.Pod, g.Node, w.state, w.pod, w.node)
		}
	}
	for k := range gotEPs {
		if _, ok := wantEPs[k]; !ok {
			t.Errorf("endpoint %s:%d (port %q) is not in any EndpointSlice of the Service", k.ip, k.port, k.portName)
		}
	}

	// Pods: exactly the selector's pods, as the API has them.
	gotPods := map[string]tracePod{}
	for _, p := range got.Pods {
		gotPods[p.Name] = p
	}
	if len(gotPods) != len(want.pods) {
		t.Errorf("pods = %v, want the %d pods the selector matches (%v)", podNames(got.Pods), len(want.pods), apiPodNames(want.pods))
	}
	for _, p := range want.pods {
		g, ok := gotPods[p.Name]
		if !ok {
			t.Errorf("pod %s missing", p.Name)
			continue
		}
		if canonIP(g.IP) != canonIP(p.Status.PodIP) || g.Node != p.Spec.NodeName || g.Phase != string(p.Status.Phase) || g.Ready != podReady(&p) {
			t.Errorf("pod %s = ip %s node %s phase %s ready %v, want ip %s node %s phase %s ready %v",
				p.Name, g.IP, g.Node, g.Phase, g.Ready, p.Status.PodIP, p.Spec.NodeName, p.Status.Phase, podReady(&p))
		}
		if len(want.slices) > 0 && sliceHasPorts(want.slices) && g.InEndpoints != want.inSlices(p.Name) {
			t.Errorf("pod %s inEndpoints = %v, want %v", p.Name, g.InEndpoints, want.inSlices(p.Name))
		}
	}
}

func sliceHasPorts(ss []discoveryv1.EndpointSlice) bool {
	for _, s := range ss {
		if len(s.Ports) > 0 {
			return true
		}
	}
	return false
}

func canonAll(ips []string) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = canonIP(ip)
	}
	return out
}

func podNames(ps []tracePod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func apiPodNames(ps []corev1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func (k epKey) String() string { return fmt.Sprintf("%s:%d/%s", k.ip, k.port, k.portName) }
