package trace

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Small builders: every test states only what matters to it.

func svc(name string, mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.0.10",
			ClusterIPs: []string{"10.96.0.10"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Selector:   map[string]string{"app": "web"},
			Ports:      []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

type epOpt func(*discoveryv1.Endpoint)

func cond(ready, serving, terminating bool) epOpt {
	return func(e *discoveryv1.Endpoint) {
		e.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating)}
	}
}

func onNode(n string) epOpt { return func(e *discoveryv1.Endpoint) { e.NodeName = ptr.To(n) } }
func forPod(p string) epOpt {
	return func(e *discoveryv1.Endpoint) {
		e.TargetRef = &corev1.ObjectReference{Kind: "Pod", Name: p, Namespace: "default"}
	}
}

func ep(ip string, opts ...epOpt) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{ip}}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func slice(name string, at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
	return discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: at,
		Ports:       ports,
		Endpoints:   eps,
	}
}

func port(name string, p int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(p), Protocol: ptr.To(corev1.ProtocolTCP)}
}

func pod(name, ip string, ready bool, mut ...func(*corev1.Pod)) corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{
			Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
	if ip == "" {
		p.Status.PodIPs = nil
	}
	for _, m := range mut {
		m(&p)
	}
	return p
}

func node(name string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
}

func analyze(t *testing.T, s *Snapshot) *ServiceTrace {
	t.Helper()
	if s.Nodes == nil {
		s.Nodes = map[string]*corev1.Node{"node1": node("node1", true)}
	}
	tr, err := Analyze(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func codes(tr *ServiceTrace) map[string]Severity {
	m := map[string]Severity{}
	for _, f := range tr.Findings {
		m[f.Code] = f.Severity
	}
	return m
}

func findingOf(t *testing.T, tr *ServiceTrace, code string) Finding {
	t.Helper()
	for _, f := range tr.Findings {
		if f.Code == code {
			return f
		}
	}
	t.Fatalf("no finding %s in %+v", code, tr.Findings)
	return Finding{}
}

func TestEndpointSplitMirrorsKubeProxy(t *testing.T) {
	p80 := []discoveryv1.EndpointPort{port("", 8080)}
	s := &Snapshot{
		Service: svc("web"),
		Slices: []discoveryv1.EndpointSlice{
			slice("web-a", discoveryv1.AddressTypeIPv4, p80,
				ep("10.0.0.2", cond(true, true, false)),
				ep("10.0.0.10"), // conditions unset: ready (endpointslicecache.go)
				ep("10.0.0.3", cond(false, true, true)),
				ep("10.0.0.4", cond(false, false, true)),
				ep("10.0.0.5", cond(false, false, false)),
			),
			// A duplicate of 10.0.0.3:8080 that is not terminating wins.
			slice("web-b", discoveryv1.AddressTypeIPv4, p80, ep("10.0.0.3", cond(true, true, false))),
			// FQDN slices are ignored by kube-proxy.
			slice("web-c", discoveryv1.AddressTypeFQDN, p80, ep("example.com")),
		},
	}
	tr := analyze(t, s)
	var got []string
	for _, e := range tr.Endpoints {
		got = append(got, e.IP+"="+string(e.State))
	}
	// Sorted as strings, like kube-proxy: 10.0.0.10 before 10.0.0.2.
	want := "10.0.0.10=ready 10.0.0.2=ready 10.0.0.3=ready 10.0.0.4=not-ready 10.0.0.5=not-ready"
	if strings.Join(got, " ") != want {
		t.Errorf("endpoints\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if len(tr.Warnings) != 1 || !strings.Contains(tr.Warnings[0], "FQDN") {
		t.Errorf("want one FQDN warning, got %v", tr.Warnings)
	}
	for _, e := range tr.Endpoints {
		if e.InUse != (e.State == StateReady) {
			t.Errorf("%s: inUse=%v with state %s", e.IP, e.InUse, e.State)
		}
	}
}

func TestOnlyTerminatingFallback(t *testing.T) {
	s := &Snapshot{
		Service: svc("web"),
		Slices: []discoveryv1.EndpointSlice{slice("web-a", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("", 8080)},
			ep("10.0.0.1", cond(false, true, true)),
			ep("10.0.0.2", cond(false, false, true)),
		)},
	}
	tr := analyze(t, s)
	if tr.Endpoints[0].State != StateServingTerminating || !tr.Endpoints[0].InUse {
		t.Errorf("serving-terminating endpoint should be the fallback in use: %+v", tr.Endpoints[0])
	}
	if tr.Endpoints[1].InUse {
		t.Errorf("terminating, not serving endpoint must not be used: %+v", tr.Endpoints[1])
	}
	if codes(tr)[CodeOnlyTerminatingEndpoints] != SeverityWarning {
		t.Errorf("want OnlyTerminatingEndpoints warning, got %v", codes(tr))
	}
	if _, ok := codes(tr)[CodeNoReadyEndpoints]; ok {
		t.Errorf("NoReadyEndpoints must not be reported while a fallback exists")
	}
}

func TestAddressesBeyondFirstIgnoredAndPortsGroupedByNameAndProtocol(t *testing.T) {
	s := &Snapshot{
		Service: svc("web", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			}
		}),
		Slices: []discoveryv1.EndpointSlice{slice("web-a", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{
				{Name: ptr.To("dns"), Port: ptr.To(int32(53)), Protocol: ptr.To(corev1.ProtocolUDP)},
				{Name: ptr.To("dns-tcp"), Port: ptr.To(int32(53)), Protocol: ptr.To(corev1.ProtocolTCP)},
				{Name: ptr.To("stale"), Port: ptr.To(int32(99)), Protocol: ptr.To(corev1.ProtocolTCP)},
				{Name: ptr.To("noport")},
			},
			discoveryv1.Endpoint{Addresses: []string{"10.0.0.7", "10.0.0.8"}},
		)},
	}
	tr := analyze(t, s)
	if len(tr.Endpoints) != 2 {
		t.Fatalf("want 2 endpoints (one per service port), got %+v", tr.Endpoints)
	}
	for _, e := range tr.Endpoints {
		if e.IP != "10.0.0.7" {
			t.Errorf("only addresses[0] is used, got %s", e.IP)
		}
	}
	if tr.Endpoints[0].Protocol != "UDP" || tr.Endpoints[1].Protocol != "TCP" {
		t.Errorf("port grouping wrong: %+v", tr.Endpoints)
	}
}

func TestDualStackSlices(t *testing.T) {
	s := &Snapshot{
		Service: svc("web", func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00:10:96::a"}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		}),
		Slices: []discoveryv1.EndpointSlice{
			slice("web-4", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("", 8080)}, ep("10.0.0.1", forPod("p1"))),
			slice("web-6", discoveryv1.AddressTypeIPv6, []discoveryv1.EndpointPort{port("", 8080)}, ep("FD00:10:244::0001", forPod("p1"))),
		},
		Pods: []corev1.Pod{pod("p1", "10.0.0.1", true, func(p *corev1.Pod) {
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "fd00:10:244::1"}}
		})},
	}
	tr := analyze(t, s)
	if len(tr.Endpoints) != 2 || tr.Endpoints[1].IP != "fd00:10:244::1" || tr.Endpoints[1].AddressType != "IPv6" {
		t.Fatalf("want both families with normalised IPv6: %+v", tr.Endpoints)
	}
	if len(tr.Service.ClusterIPs) != 2 || tr.Service.IPFamilyPolicy != "RequireDualStack" {
		t.Errorf("service families: %+v", tr.Service)
	}
	if len(tr.Findings) != 0 {
		t.Errorf("healthy dual-stack service has findings: %+v", tr.Findings)
	}
}

func TestPortFilter(t *testing.T) {
	s := svc("web", func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "metrics", Port: 9090}}
	})
	for _, want := range []string{"metrics", "9090"} {
		tr, err := Analyze(&Snapshot{Service: s}, Options{Port: want})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Ports) != 1 || tr.Ports[0].Name != "metrics" {
			t.Errorf("--port %s: got %+v", want, tr.Ports)
		}
	}
	_, err := Analyze(&Snapshot{Service: s}, Options{Port: "nope"})
	if err == nil || !strings.Contains(err.Error(), `has no port "nope" (ports: http:80/TCP, metrics:9090/TCP)`) {
		t.Errorf("want a clear error, got %v", err)
	}
}

func TestFindings(t *testing.T) {
	p8080 := []discoveryv1.EndpointPort{port("", 8080)}
	cases := []struct {
		name  string
		snap  *Snapshot
		code  string
		sev   Severity
		check func(t *testing.T, tr *ServiceTrace)
	}{
		{
			name: "selector matches no pods",
			snap: &Snapshot{Service: svc("web")},
			code: CodeSelectorMatchesNoPods, sev: SeverityError,
		},
		{
			name: "pods not in endpoints: no IP yet",
			snap: &Snapshot{Service: svc("web"), Pods: []corev1.Pod{pod("p1", "", false, func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available"}}
			})}},
			code: CodePodsNotInEndpoints, sev: SeverityError,
			check: func(t *testing.T, tr *ServiceTrace) {
				if !strings.Contains(tr.Pods[0].Reason, "no IP yet") || !strings.Contains(tr.Pods[0].Reason, "Unschedulable") {
					t.Errorf("reason: %q", tr.Pods[0].Reason)
				}
			},
		},
		{
			name: "pods not in endpoints: terminal pod among good ones",
			snap: &Snapshot{Service: svc("web"),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080, ep("10.0.0.1", forPod("p1")))},
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", true), pod("p2", "10.0.0.2", false, func(p *corev1.Pod) {
					p.Status.Phase = corev1.PodSucceeded
				})}},
			code: CodePodsNotInEndpoints, sev: SeverityWarning,
			check: func(t *testing.T, tr *ServiceTrace) {
				if !strings.Contains(findingOf(t, tr, CodePodsNotInEndpoints).Message, "terminal") {
					t.Errorf("message should say the pod is terminal")
				}
			},
		},
		{
			name: "no ready endpoints",
			snap: &Snapshot{Service: svc("web"),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080, ep("10.0.0.1", forPod("p1"), cond(false, false, false)))},
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", false, func(p *corev1.Pod) {
					p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/var/ready"}}}}
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: false, Started: ptr.To(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
				})},
				Events: []corev1.Event{
					probeEvent("p1", "app", "Readiness probe failed: old message", 1),
					probeEvent("p1", "app", "Readiness probe failed: cat: can't open '/var/ready': No such file or directory\n", 2),
					probeEvent("p1", "other", "Readiness probe failed: another container", 3),
					probeEvent("p2", "app", "Readiness probe failed: another pod", 4),
				}},
			code: CodeNoReadyEndpoints, sev: SeverityError,
			check: func(t *testing.T, tr *ServiceTrace) {
				want := `readiness probe failing (exec cat /var/ready): "cat: can't open '/var/ready': No such file or directory"`
				if !strings.Contains(tr.Endpoints[0].Reason, want) {
					t.Errorf("reason: %q", tr.Endpoints[0].Reason)
				}
			},
		},
		{
			name: "some endpoints not ready: crash loop",
			snap: &Snapshot{Service: svc("web"),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080,
					ep("10.0.0.1", forPod("p1")), ep("10.0.0.2", forPod("p2"), cond(false, false, false)))},
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", true), pod("p2", "10.0.0.2", false, func(p *corev1.Pod) {
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 7, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s"}}}}
				})}},
			code: CodeSomeEndpointsNotReady, sev: SeverityWarning,
			check: func(t *testing.T, tr *ServiceTrace) {
				if r := tr.Endpoints[1].Reason; !strings.Contains(r, "CrashLoopBackOff") || !strings.Contains(r, "7 restarts") {
					t.Errorf("reason: %q", r)
				}
			},
		},
		{
			name: "readiness gate",
			snap: &Snapshot{Service: svc("web"),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080,
					ep("10.0.0.1", forPod("p1")), ep("10.0.0.2", forPod("p2"), cond(false, false, false)))},
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", true), pod("p2", "10.0.0.2", false, func(p *corev1.Pod) {
					p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb-ready"}}
				})}},
			code: CodeSomeEndpointsNotReady, sev: SeverityWarning,
			check: func(t *testing.T, tr *ServiceTrace) {
				if !strings.Contains(tr.Endpoints[1].Reason, "readiness gate example.com/lb-ready is not True") {
					t.Errorf("reason: %q", tr.Endpoints[1].Reason)
				}
			},
		},
		{
			name: "named port unresolved on some pods",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http") }),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080, ep("10.0.0.1", forPod("p1")))},
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", true), pod("p2", "10.0.0.2", true, func(p *corev1.Pod) {
					p.Spec.Containers[0].Ports[0].Name = "web"
				})}},
			code: CodeNamedPortUnresolved, sev: SeverityWarning,
			check: func(t *testing.T, tr *ServiceTrace) {
				if tp := tr.Ports[0].TargetPorts; len(tp) != 2 || tp[0].Port != 8080 || tp[1].Error != `no container port named "http"` {
					t.Errorf("target ports: %+v", tp)
				}
			},
		},
		{
			name: "named port unresolved on all pods",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("nope") }),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, nil, ep("10.0.0.1", forPod("p1")))},
				Pods:   []corev1.Pod{pod("p1", "10.0.0.1", true)}},
			code: CodeNamedPortUnresolved, sev: SeverityError,
		},
		{
			name: "named port with the wrong protocol",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) {
				s.Spec.Ports[0].TargetPort = intstr.FromString("http")
				s.Spec.Ports[0].Protocol = corev1.ProtocolUDP
			}),
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", true)}},
			code: CodeProtocolMismatch, sev: SeverityWarning,
		},
		{
			name: "numeric port with the wrong protocol",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolUDP }),
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", true)}},
			code: CodeProtocolMismatch, sev: SeverityWarning,
		},
		{
			name: "numeric port nobody declares",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(8081) }),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("", 8081)}, ep("10.0.0.1", forPod("p1")))},
				Pods:   []corev1.Pod{pod("p1", "10.0.0.1", true)}},
			code: CodePortMismatch, sev: SeverityWarning,
		},
		{
			name: "selector-less without endpoints",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) { s.Spec.Selector = nil })},
			code: CodeNoSelectorNoEndpoints, sev: SeverityError,
		},
		{
			name: "external name",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeExternalName
				s.Spec.ExternalName = "www.example.com"
			})},
			code: CodeExternalNameService, sev: SeverityInfo,
			check: func(t *testing.T, tr *ServiceTrace) {
				if !strings.Contains(findingOf(t, tr, CodeExternalNameService).Message, `"www.example.com"`) {
					t.Errorf("message must name the target")
				}
			},
		},
		{
			name: "headless, publishNotReadyAddresses",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) {
				s.Spec.ClusterIP = corev1.ClusterIPNone
				s.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
				s.Spec.PublishNotReadyAddresses = true
			}),
				// The controller marks not-ready pods ready when publishNotReadyAddresses is set.
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080,
					ep("10.0.0.1", forPod("p1"), cond(true, false, false)), ep("10.0.0.2", forPod("p2"), cond(true, true, false)))},
				Pods: []corev1.Pod{pod("p1", "10.0.0.1", false), pod("p2", "10.0.0.2", true)}},
			code: CodeHeadlessService, sev: SeverityInfo,
			check: func(t *testing.T, tr *ServiceTrace) {
				if m := findingOf(t, tr, CodeHeadlessService).Message; !strings.Contains(m, "10.0.0.1, 10.0.0.2") || !strings.Contains(m, "publishNotReadyAddresses") {
					t.Errorf("message: %s", m)
				}
				if !strings.Contains(tr.Endpoints[0].Reason, "publishNotReadyAddresses") {
					t.Errorf("reason should explain publishNotReadyAddresses: %q", tr.Endpoints[0].Reason)
				}
				if tr.Service.ClusterIPs != nil || !tr.Service.Headless {
					t.Errorf("headless service shape: %+v", tr.Service)
				}
			},
		},
		{
			name: "externalTrafficPolicy Local lists nodes",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.Ports[0].NodePort = 30081
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			}),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080,
					ep("10.0.0.1", onNode("node2")), ep("10.0.0.2", onNode("node1")), ep("10.0.0.3", onNode("node3"), cond(false, false, false)))},
				Nodes: map[string]*corev1.Node{"node1": node("node1", true), "node2": node("node2", true), "node3": node("node3", true)}},
			code: CodeExternalTrafficPolicyLocal, sev: SeverityInfo,
			check: func(t *testing.T, tr *ServiceTrace) {
				f := findingOf(t, tr, CodeExternalTrafficPolicyLocal)
				if strings.Join(f.Objects, ",") != "node/node1,node/node2" {
					t.Errorf("nodes: %v", f.Objects)
				}
			},
		},
		{
			name: "internalTrafficPolicy Local with no endpoints anywhere local",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) {
				s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
			}),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080, ep("10.0.0.3", onNode("node1"), cond(false, false, false)))}},
			code: CodeInternalTrafficPolicyLocal, sev: SeverityWarning,
		},
		{
			name: "load balancer pending",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer })},
			code: CodeLoadBalancerPending, sev: SeverityWarning,
		},
		{
			name: "load balancer ipMode Proxy",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeLoadBalancer
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1", IPMode: ptr.To(corev1.LoadBalancerIPModeProxy)}}
			})},
			code: CodeLoadBalancerProxyMode, sev: SeverityInfo,
		},
		{
			name: "node not ready",
			snap: &Snapshot{Service: svc("web"),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, p8080, ep("10.0.0.1", onNode("node9")))},
				Nodes:  map[string]*corev1.Node{"node9": node("node9", false)}},
			code: CodeNodeNotReady, sev: SeverityWarning,
		},
		{
			name: "one port of two without endpoints",
			snap: &Snapshot{Service: svc("web", func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "metrics", Port: 9090}}
			}),
				Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("http", 8080)}, ep("10.0.0.1"))}},
			code: CodePortHasNoEndpoints, sev: SeverityError,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := analyze(t, c.snap)
			got, ok := codes(tr)[c.code]
			if !ok {
				t.Fatalf("no %s finding; findings: %+v", c.code, tr.Findings)
			}
			if got != c.sev {
				t.Errorf("%s severity %s, want %s", c.code, got, c.sev)
			}
			for _, f := range tr.Findings {
				if f.Message == "" {
					t.Errorf("finding %s has no message", f.Code)
				}
			}
			if c.check != nil {
				c.check(t, tr)
			}
		})
	}
}

func TestHealthyServiceHasNoFindings(t *testing.T) {
	s := &Snapshot{Service: svc("web"),
		Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("", 8080)},
			ep("10.0.0.1", forPod("p1"), onNode("node1")), ep("10.0.0.2", forPod("p2"), onNode("node1")))},
		Pods: []corev1.Pod{pod("p1", "10.0.0.1", true), pod("p2", "10.0.0.2", true)}}
	tr := analyze(t, s)
	if len(tr.Findings) != 0 {
		t.Errorf("unexpected findings: %+v", tr.Findings)
	}
	if tr.MaxSeverity() != "" {
		t.Errorf("max severity %q", tr.MaxSeverity())
	}
	if tr.Endpoints[0].Zone != "zone-a" || tr.Endpoints[0].NodeReady == nil || !*tr.Endpoints[0].NodeReady {
		t.Errorf("node join missing: %+v", tr.Endpoints[0])
	}
}

func TestSessionAffinityDefaultTimeout(t *testing.T) {
	tr := analyze(t, &Snapshot{Service: svc("web", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP })})
	if tr.Service.SessionAffinityTimeoutSeconds == nil || *tr.Service.SessionAffinityTimeoutSeconds != 10800 {
		t.Errorf("want the API default 10800s, got %v", tr.Service.SessionAffinityTimeoutSeconds)
	}
}

func probeEvent(pod, container, msg string, minute int) corev1.Event {
	return corev1.Event{
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod, Namespace: "default", FieldPath: "spec.containers{" + container + "}"},
		Reason:         "Unhealthy",
		Message:        msg,
		LastTimestamp:  metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC)),
	}
}

func TestPodsUnavailableSkipsPodFindings(t *testing.T) {
	tr := analyze(t, &Snapshot{Service: svc("web"), PodsUnavailable: true,
		Slices: []discoveryv1.EndpointSlice{slice("a", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("", 8080)}, ep("10.0.0.1"))}})
	if len(tr.Findings) != 0 {
		t.Errorf("unreadable pods must not produce pod findings: %+v", tr.Findings)
	}
}
