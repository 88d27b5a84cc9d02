package trace

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PortNotFoundError says that --port names no port of the Service.
type PortNotFoundError struct {
	Service string
	Port    string
	Have    []string
}

func (e *PortNotFoundError) Error() string {
	return fmt.Sprintf("service %q has no port %q (ports: %s)", e.Service, e.Port, strings.Join(e.Have, ", "))
}

// Analyze builds the API-only trace of a Service: its spec, its endpoints
// split the way kube-proxy splits them, the pods behind it, and findings.
func Analyze(snap *Snapshot, opts Options) (*ServiceTrace, error) {
	if snap == nil || snap.Service == nil {
		return nil, fmt.Errorf("no service in snapshot")
	}
	svc := snap.Service
	t := &ServiceTrace{
		APIVersion: APIVersion,
		Kind:       KindServiceTrace,
		Source:     snap.Source,
		Service:    describeService(svc),
		Ports:      []PortTrace{},
		Endpoints:  []Endpoint{},
		Pods:       []Pod{},
		Findings:   []Finding{},
		Warnings:   append([]string(nil), snap.Warnings...),
	}
	ports, err := selectPorts(svc, opts.Port)
	if err != nil {
		return nil, err
	}
	a := &analysis{snap: snap, t: t, ports: ports, podsByName: map[string]*corev1.Pod{}, podsByIP: map[string]*corev1.Pod{}}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		a.podsByName[p.Name] = p
		for _, ip := range podIPs(p) {
			a.podsByIP[ip] = p
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		a.externalName()
		return t, nil
	}
	a.endpoints()
	a.pods()
	a.portTraces()
	a.findings()
	return t, nil
}

type analysis struct {
	snap       *Snapshot
	t          *ServiceTrace
	ports      []corev1.ServicePort
	podsByName map[string]*corev1.Pod
	podsByIP   map[string]*corev1.Pod
	// inSlices records pods (by name) and IPs that appear in any slice.
	inSlicesPod map[string]bool
	inSlicesIP  map[string]bool
}

func describeService(svc *corev1.Service) Service {
	s := Service{
		Namespace:                svc.Namespace,
		Name:                     svc.Name,
		Type:                     string(svc.Spec.Type),
		ClusterIPs:               svc.Spec.ClusterIPs,
		Headless:                 svc.Spec.ClusterIP == corev1.ClusterIPNone,
		Ports:                    []ServicePort{},
		ExternalIPs:              svc.Spec.ExternalIPs,
		LoadBalancerSourceRanges: svc.Spec.LoadBalancerSourceRanges,
		ExternalName:             svc.Spec.ExternalName,
		Selector:                 svc.Spec.Selector,
		SessionAffinity:          string(svc.Spec.SessionAffinity),
		ExternalTrafficPolicy:    string(svc.Spec.ExternalTrafficPolicy),
		PublishNotReadyAddresses: svc.Spec.PublishNotReadyAddresses,
		HealthCheckNodePort:      svc.Spec.HealthCheckNodePort,
	}
	if s.Type == "" {
		s.Type = string(corev1.ServiceTypeClusterIP)
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = string(corev1.ServiceAffinityNone)
	}
	if len(s.ClusterIPs) == 0 && svc.Spec.ClusterIP != "" {
		s.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	if s.Headless {
		s.ClusterIPs = nil
	}
	for _, f := range svc.Spec.IPFamilies {
		s.IPFamilies = append(s.IPFamilies, string(f))
	}
	if svc.Spec.IPFamilyPolicy != nil {
		s.IPFamilyPolicy = string(*svc.Spec.IPFamilyPolicy)
	}
	if svc.Spec.InternalTrafficPolicy != nil {
		s.InternalTrafficPolicy = string(*svc.Spec.InternalTrafficPolicy)
	}
	if svc.Spec.TrafficDistribution != nil {
		s.TrafficDistribution = *svc.Spec.TrafficDistribution
	}
	if svc.Spec.LoadBalancerClass != nil {
		s.LoadBalancerClass = *svc.Spec.LoadBalancerClass
	}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		// The API server defaults the timeout to 10800 s; files written by
		// hand may lack it, so show the value kube-proxy would use.
		timeout := int32(corev1.DefaultClientIPServiceAffinitySeconds)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			timeout = *c.ClientIP.TimeoutSeconds
		}
		s.SessionAffinityTimeoutSeconds = &timeout
	}
	for _, p := range svc.Spec.Ports {
		s.Ports = append(s.Ports, servicePort(p))
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		lb := LBIngress{IP: in.IP, Hostname: in.Hostname}
		if in.IPMode != nil {
			lb.IPMode = string(*in.IPMode)
		}
		s.LoadBalancerIngress = append(s.LoadBalancerIngress, lb)
	}
	return s
}

func servicePort(p corev1.ServicePort) ServicePort {
	sp := ServicePort{
		Name:       p.Name,
		Protocol:   string(protocolOf(p.Protocol)),
		Port:       p.Port,
		TargetPort: p.TargetPort.String(),
		NodePort:   p.NodePort,
	}
	if p.TargetPort.IntValue() == 0 && p.TargetPort.StrVal == "" {
		// targetPort defaults to port (API defaulting); files may omit it.
		sp.TargetPort = strconv.Itoa(int(p.Port))
	}
	if p.AppProtocol != nil {
		sp.AppProtocol = *p.AppProtocol
	}
	return sp
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// selectPorts applies --port: a port name or a port number.
func selectPorts(svc *corev1.Service, want string) ([]corev1.ServicePort, error) {
	if want == "" {
		return svc.Spec.Ports, nil
	}
	var out []corev1.ServicePort
	var have []string
	for _, p := range svc.Spec.Ports {
		have = append(have, portLabel(p))
		if p.Name == want || strconv.Itoa(int(p.Port)) == want {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, &PortNotFoundError{Service: svc.Name, Port: want, Have: have}
	}
	return out, nil
}

func portLabel(p corev1.ServicePort) string {
	l := fmt.Sprintf("%d/%s", p.Port, protocolOf(p.Protocol))
	if p.Name != "" {
		l = p.Name + ":" + l
	}
	return l
}

func (a *analysis) externalName() {
	name := a.snap.Service.Spec.ExternalName
	a.t.Findings = append(a.t.Findings, Finding{
		Code:     CodeExternalNameService,
		Severity: SeverityInfo,
		Message: fmt.Sprintf("ExternalName service: nothing is proxied; cluster DNS answers %s.%s.svc with a CNAME to %q, and the client resolves and connects to that name itself",
			a.snap.Service.Name, a.snap.Service.Namespace, name),
		Advice: "ports, selector and endpoints are ignored for ExternalName; make sure the target name resolves from the pods and that the server accepts the Host/SNI the client sends",
	})
}

// sliceEndpoint is one endpoint as kube-proxy's EndpointSliceCache keeps it.
type sliceEndpoint struct {
	ep          Endpoint
	terminating bool
}

// endpoints mirrors pkg/proxy/endpointslicecache.go: endpoints are grouped
// by service port (name + protocol), only addresses[0] is used, ready/serving
// default to true when unset, a non-terminating duplicate wins, and the
// order is the "ip:port" string order. FQDN slices are ignored, as
// kube-proxy ignores them.
func (a *analysis) endpoints() {
	a.inSlicesPod = map[string]bool{}
	a.inSlicesIP = map[string]bool{}
	slices := append([]discoveryv1.EndpointSlice(nil), a.snap.Slices...)
	sort.Slice(slices, func(i, j int) bool { return slices[i].Name < slices[j].Name })

	type portKey struct {
		name  string
		proto corev1.Protocol
	}
	byPort := map[portKey]map[string]*sliceEndpoint{}
	for _, sp := range a.ports {
		byPort[portKey{sp.Name, protocolOf(sp.Protocol)}] = map[string]*sliceEndpoint{}
	}
	for si := range slices {
		sl := &slices[si]
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			a.t.Warnings = append(a.t.Warnings, fmt.Sprintf("EndpointSlice %s has addressType %s, which kube-proxy ignores", sl.Name, sl.AddressType))
			continue
		}
		for _, e := range sl.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ip := normalizeIP(e.Addresses[0])
			a.inSlicesIP[ip] = true
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				a.inSlicesPod[e.TargetRef.Name] = true
			}
		}
		for _, p := range sl.Ports {
			if p.Port == nil || *p.Port == 0 {
				continue
			}
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			m, ok := byPort[portKey{name, proto}]
			if !ok {
				continue // a port the Service no longer has, or filtered by --port
			}
			for _, e := range sl.Endpoints {
				if len(e.Addresses) == 0 {
					continue
				}
				ip := normalizeIP(e.Addresses[0])
				hp := net.JoinHostPort(ip, strconv.Itoa(int(*p.Port)))
				ready := e.Conditions.Ready == nil || *e.Conditions.Ready
				serving := e.Conditions.Serving == nil || *e.Conditions.Serving
				terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
				if old, dup := m[hp]; dup && !old.terminating {
					continue // endpointslicecache.go: a non-terminating duplicate wins
				}
				ep := Endpoint{
					IP:          ip,
					Port:        *p.Port,
					Protocol:    string(proto),
					PortName:    name,
					AddressType: string(sl.AddressType),
					Conditions:  Conditions{Ready: e.Conditions.Ready, Serving: e.Conditions.Serving, Terminating: e.Conditions.Terminating},
					Slice:       sl.Name,
				}
				switch {
				case ready:
					ep.State = StateReady
				case serving && terminating:
					ep.State = StateServingTerminating
				default:
					ep.State = StateNotReady
				}
				if e.Hostname != nil {
					ep.Hostname = *e.Hostname
				}
				if e.NodeName != nil {
					ep.Node = *e.NodeName
				}
				if e.Zone != nil {
					ep.Zone = *e.Zone
				}
				if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
					ep.Pod = e.TargetRef.Name
				}
				m[hp] = &sliceEndpoint{ep: ep, terminating: terminating}
			}
		}
	}
	for _, sp := range a.ports {
		m := byPort[portKey{sp.Name, protocolOf(sp.Protocol)}]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys) // endpointslicecache.go sorts by the endpoint string
		anyReady := false
		for _, k := range keys {
			if m[k].ep.State == StateReady {
				anyReady = true
			}
		}
		for _, k := range keys {
			ep := m[k].ep
			ep.ServicePort = sp.Port
			// CategorizeEndpoints (pkg/proxy/topology.go): ready endpoints,
			// else the serving-terminating fallback.
			ep.InUse = ep.State == StateReady || (!anyReady && ep.State == StateServingTerminating)
			a.explainEndpoint(&ep)
			a.t.Endpoints = append(a.t.Endpoints, ep)
		}
	}
}

func normalizeIP(s string) string {
	if addr, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		return addr.Unmap().String()
	}
	return s
}

func (a *analysis) podFor(ep *Endpoint) *corev1.Pod {
	if ep.Pod != "" {
		if p, ok := a.podsByName[ep.Pod]; ok {
			return p
		}
	}
	if p, ok := a.podsByIP[ep.IP]; ok {
		return p
	}
	return nil
}

// explainEndpoint fills the pod/node join and the reason sentence.
func (a *analysis) explainEndpoint(ep *Endpoint) {
	pod := a.podFor(ep)
	if pod != nil {
		ep.Pod = pod.Name
		if ep.Node == "" {
			ep.Node = pod.Spec.NodeName
		}
	}
	if n, ok := a.snap.Nodes[ep.Node]; ok && n != nil {
		r := nodeReady(n)
		ep.NodeReady = &r
		if ep.Zone == "" {
			ep.Zone = n.Labels[corev1.LabelTopologyZone]
		}
	}
	var parts []string
	switch ep.State {
	case StateReady:
		if pod != nil && !podReady(pod) && a.snap.Service.Spec.PublishNotReadyAddresses {
			parts = append(parts, "pod is not ready, but publishNotReadyAddresses marks it ready in the EndpointSlice, so kube-proxy and DNS use it")
		}
	case StateServingTerminating:
		if ep.InUse {
			parts = append(parts, "terminating but still serving; used only because no endpoint is ready")
		} else {
			parts = append(parts, "terminating but still serving; not used while ready endpoints exist")
		}
	case StateNotReady:
		if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
			parts = append(parts, "terminating and no longer serving")
		}
		if pod != nil {
			problems := podProblems(pod, a.snap.Events)
			ep.NotReadyContainers = containerProblems(pod, a.snap.Events)
			parts = append(parts, problems...)
		} else if ep.Pod == "" {
			parts = append(parts, "ready condition is false in the EndpointSlice")
		} else {
			parts = append(parts, "not ready (pod "+ep.Pod+" was not read)")
		}
	}
	if ep.NodeReady != nil && !*ep.NodeReady {
		parts = append(parts, "node "+ep.Node+" is not Ready")
	}
	ep.Reason = strings.Join(parts, "; ")
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podIPs(p *corev1.Pod) []string {
	var out []string
	for _, ip := range p.Status.PodIPs {
		out = append(out, normalizeIP(ip.IP))
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		out = append(out, normalizeIP(p.Status.PodIP))
	}
	return out
}

// containerProblems lists the containers (and restartable init "sidecar"
// containers) that are not ready, with the reason the kubelet reports.
func containerProblems(p *corev1.Pod, events []corev1.Event) []ContainerProblem {
	probes := map[string]*corev1.Probe{}
	for _, c := range p.Spec.Containers {
		probes[c.Name] = c.ReadinessProbe
	}
	var out []ContainerProblem
	statuses := append([]corev1.ContainerStatus(nil), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if cs.Ready {
			continue
		}
		cp := ContainerProblem{Name: cs.Name, Restarts: cs.RestartCount}
		switch {
		case cs.State.Waiting != nil:
			cp.State = "waiting"
			cp.Reason = cs.State.Waiting.Reason
			if m := cs.State.Waiting.Message; m != "" {
				cp.Reason += ": " + firstLine(m)
			}
		case cs.State.Terminated != nil:
			cp.State = "terminated"
			cp.Reason = fmt.Sprintf("%s (exit code %d)", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		case cs.State.Running != nil:
			cp.State = "running"
			switch {
			case cs.Started != nil && !*cs.Started:
				cp.Reason = "startup probe has not succeeded yet"
			case probes[cs.Name] != nil:
				cp.Reason = "readiness probe failing (" + describeProbe(probes[cs.Name]) + ")"
				if msg := lastProbeFailure(events, p, cs.Name); msg != "" {
					cp.Reason += ": " + strconv.Quote(msg)
				}
			default:
				cp.Reason = "not ready"
			}
		default:
			cp.State = "unknown"
			cp.Reason = "no state reported yet"
		}
		out = append(out, cp)
	}
	return out
}

// lastProbeFailure returns the newest "Readiness probe failed: …" event
// message the kubelet recorded for a container of the pod (the kubelet's
// prober emits reason Unhealthy with fieldPath spec.containers{NAME}).
func lastProbeFailure(events []corev1.Event, p *corev1.Pod, container string) string {
	var best *corev1.Event
	for i := range events {
		e := &events[i]
		io := e.InvolvedObject
		if io.Kind != "Pod" || io.Name != p.Name || (io.UID != "" && p.UID != "" && io.UID != p.UID) {
			continue
		}
		if e.Reason != "Unhealthy" || !strings.HasPrefix(e.Message, "Readiness probe failed") {
			continue
		}
		if io.FieldPath != "" && io.FieldPath != "spec.containers{"+container+"}" {
			continue
		}
		if best == nil || eventTime(e).After(eventTime(best)) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	msg := strings.TrimSpace(strings.TrimPrefix(best.Message, "Readiness probe failed:"))
	return firstLine(msg)
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func describeProbe(p *corev1.Probe) string {
	switch {
	case p.Exec != nil:
		return "exec " + strings.Join(p.Exec.Command, " ")
	case p.HTTPGet != nil:
		return fmt.Sprintf("http-get :%s%s", p.HTTPGet.Port.String(), p.HTTPGet.Path)
	case p.TCPSocket != nil:
		return "tcp-socket :" + p.TCPSocket.Port.String()
	case p.GRPC != nil:
		return fmt.Sprintf("grpc :%d", p.GRPC.Port)
	}
	return "probe"
}

// podProblems explains, in order of precedence, why a pod is not ready.
func podProblems(p *corev1.Pod, events []corev1.Event) []string {
	var out []string
	if p.DeletionTimestamp != nil {
		out = append(out, "pod is terminating")
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		out = append(out, "pod phase is "+string(p.Status.Phase))
		return out
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			msg := "pod is not scheduled"
			if c.Reason != "" {
				msg += " (" + c.Reason + ")"
			}
			if c.Message != "" {
				msg += ": " + firstLine(c.Message)
			}
			return append(out, msg)
		}
	}
	for _, cp := range containerProblems(p, events) {
		s := fmt.Sprintf("container %s %s", cp.Name, cp.Reason)
		if cp.Restarts > 0 {
			s += fmt.Sprintf(", %d restarts", cp.Restarts)
		}
		out = append(out, s)
	}
	for _, g := range p.Spec.ReadinessGates {
		ok := false
		for _, c := range p.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			out = append(out, fmt.Sprintf("readiness gate %s is not True", g.ConditionType))
		}
	}
	if len(out) == 0 && !podReady(p) {
		out = append(out, "pod is not ready (phase "+string(p.Status.Phase)+")")
	}
	return out
}

// pods fills the pod list: every pod the selector matches, whether it is in
// the EndpointSlices, and why not, mirroring ShouldPodBeInEndpoints and the
// reconciler in k8s.io/endpointslice.
func (a *analysis) pods() {
	sel := a.snap.Service.Spec.Selector
	pods := append([]corev1.Pod(nil), a.snap.Pods...)
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for i := range pods {
		p := &pods[i]
		if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(labels.Set(p.Labels)) || p.Namespace != a.snap.Service.Namespace {
			continue
		}
		ips := podIPs(p)
		tp := Pod{
			Name:        p.Name,
			IPs:         ips,
			Phase:       string(p.Status.Phase),
			Node:        p.Spec.NodeName,
			Ready:       podReady(p),
			Terminating: p.DeletionTimestamp != nil,
		}
		if len(ips) > 0 {
			tp.IP = ips[0]
		}
		tp.InEndpoints = a.inSlicesPod[p.Name]
		for _, ip := range ips {
			if a.inSlicesIP[ip] {
				tp.InEndpoints = true
			}
		}
		var why []string
		if !tp.InEndpoints {
			switch {
			case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
				why = append(why, "pod is terminal (phase "+string(p.Status.Phase)+"), so the EndpointSlice controller skips it")
			case len(ips) == 0:
				w := "pod has no IP yet"
				if pr := podProblems(p, a.snap.Events); len(pr) > 0 {
					w += " (" + strings.Join(pr, "; ") + ")"
				}
				why = append(why, w)
			case p.Spec.NodeName != "" && a.snap.Nodes != nil && a.snap.Source == "cluster" && a.snap.Nodes[p.Spec.NodeName] == nil:
				why = append(why, "its node "+p.Spec.NodeName+" does not exist, so the EndpointSlice controller skips it")
			default:
				why = append(why, "not in any EndpointSlice yet (the EndpointSlice controller may be lagging or not running)")
			}
		} else if !tp.Ready {
			why = podProblems(p, a.snap.Events)
			tp.NotReadyContainers = containerProblems(p, a.snap.Events)
		}
		tp.Reason = strings.Join(why, "; ")
		a.t.Pods = append(a.t.Pods, tp)
	}
}

// resolveTargetPort mirrors FindPort in k8s.io/endpointslice/utils.go: a
// named targetPort resolves against the containers' (and sidecar init
// containers') ports with the same name AND protocol.
func resolveTargetPort(p *corev1.Pod, sp corev1.ServicePort) (int32, string) {
	tp := sp.TargetPort
	proto := protocolOf(sp.Protocol)
	if tp.StrVal == "" && tp.IntVal == 0 {
		return sp.Port, ""
	}
	if tp.StrVal == "" {
		return tp.IntVal, ""
	}
	name := tp.StrVal
	var otherProto corev1.Protocol
	check := func(cs []corev1.Container, sidecarsOnly bool) (int32, bool) {
		for _, c := range cs {
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, cp := range c.Ports {
				if cp.Name != name {
					continue
				}
				if protocolOf(cp.Protocol) == proto {
					return cp.ContainerPort, true
				}
				otherProto = protocolOf(cp.Protocol)
			}
		}
		return 0, false
	}
	if port, ok := check(p.Spec.Containers, false); ok {
		return port, ""
	}
	if port, ok := check(p.Spec.InitContainers, true); ok {
		return port, ""
	}
	if otherProto != "" {
		return 0, fmt.Sprintf("container port %q is %s, the service port is %s", name, otherProto, proto)
	}
	return 0, fmt.Sprintf("no container port named %q", name)
}

func (a *analysis) matchedPods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, tp := range a.t.Pods {
		if p, ok := a.podsByName[tp.Name]; ok {
			out = append(out, p)
		}
	}
	return out
}

func (a *analysis) portTraces() {
	pods := a.matchedPods()
	for _, sp := range a.ports {
		pt := PortTrace{ServicePort: servicePort(sp)}
		for _, ep := range a.t.Endpoints {
			if ep.PortName != sp.Name || ep.Protocol != string(protocolOf(sp.Protocol)) {
				continue
			}
			switch ep.State {
			case StateReady:
				pt.Ready++
			case StateServingTerminating:
				pt.ServingTerminating++
			default:
				pt.NotReady++
			}
		}
		for _, p := range pods {
			port, errStr := resolveTargetPort(p, sp)
			pt.TargetPorts = append(pt.TargetPorts, PodTargetPort{Pod: p.Name, Port: port, Error: errStr})
		}
		a.t.Ports = append(a.t.Ports, pt)
	}
}

func (a *analysis) add(f Finding) { a.t.Findings = append(a.t.Findings, f) }

func (a *analysis) findings() {
	svc := a.snap.Service
	t := a.t
	hasSelector := len(svc.Spec.Selector) > 0
	nsName := svc.Namespace + "/" + svc.Name

	// Unique addresses across ports, by state (an address serving two
	// ports counts once).
	state := map[string]EndpointState{}
	for _, ep := range t.Endpoints {
		if old, ok := state[ep.IP]; !ok || rankState(ep.State) > rankState(old) {
			state[ep.IP] = ep.State
		}
	}
	var ready, term, notReady []string
	for _, ep := range t.Endpoints {
		if state[ep.IP] != ep.State {
			continue
		}
		state[ep.IP] = "" // count each address once
		label := ep.IP
		if ep.Pod != "" {
			label = "pod/" + ep.Pod
		}
		switch ep.State {
		case StateReady:
			ready = append(ready, label)
		case StateServingTerminating:
			term = append(term, label)
		default:
			notReady = append(notReady, label)
		}
	}
	total := len(ready) + len(term) + len(notReady)

	if t.Service.Headless {
		var ips []string
		for _, ep := range t.Endpoints {
			if ep.State == StateReady && !contains(ips, ep.IP) {
				ips = append(ips, ep.IP)
			}
		}
		msg := fmt.Sprintf("headless service (clusterIP: None): no virtual IP and no kube-proxy rules; DNS %s.%s.svc answers the ready endpoint IPs directly", svc.Name, svc.Namespace)
		if len(ips) > 0 {
			msg += ": " + strings.Join(ips, ", ")
		} else {
			msg += ", of which there are none (NXDOMAIN for A/AAAA)"
		}
		if svc.Spec.PublishNotReadyAddresses {
			msg += " (publishNotReadyAddresses: not-ready pods are published too)"
		}
		a.add(Finding{Code: CodeHeadlessService, Severity: SeverityInfo, Message: msg,
			Advice: "clients connect to pod IPs and ports directly (targetPort, not port); client-side load balancing depends on the client's resolver"})
	}

	pods := a.t.Pods
	switch {
	case !hasSelector && total == 0:
		a.add(Finding{Code: CodeNoSelectorNoEndpoints, Severity: SeverityError,
			Message: fmt.Sprintf("service %s has no selector and no EndpointSlices: nothing backs it, connections are rejected", nsName),
			Advice:  "add a selector, or create an EndpointSlice labelled kubernetes.io/service-name=" + svc.Name + " (or an Endpoints object of the same name) listing the backends"})
	case hasSelector && len(pods) == 0 && !a.snap.PodsUnavailable:
		a.add(Finding{Code: CodeSelectorMatchesNoPods, Severity: SeverityError,
			Message: fmt.Sprintf("selector %s matches no pod in namespace %s", labels.SelectorFromSet(svc.Spec.Selector).String(), svc.Namespace),
			Advice:  "compare the selector with the pod template labels (kubectl get pods -n " + svc.Namespace + " --show-labels); a typo or a missing label leaves the Service with no endpoints"})
	}

	if hasSelector && len(pods) > 0 {
		var missing []string
		var reasons []string
		for _, p := range pods {
			if !p.InEndpoints {
				missing = append(missing, "pod/"+p.Name)
				reasons = append(reasons, p.Name+": "+p.Reason)
			}
		}
		if len(missing) > 0 {
			sev := SeverityWarning
			if len(missing) == len(pods) {
				sev = SeverityError
			}
			a.add(Finding{Code: CodePodsNotInEndpoints, Severity: sev,
				Message: fmt.Sprintf("%d of %d pods matching the selector are in no EndpointSlice: %s", len(missing), len(pods), strings.Join(reasons, "; ")),
				Advice:  "a pod is published once it is scheduled, has an IP and is not terminal; check kubectl describe pod and that kube-controller-manager runs",
				Objects: missing})
		}
	}

	switch {
	case total == 0:
	case len(ready) == 0 && len(term) > 0:
		a.add(Finding{Code: CodeOnlyTerminatingEndpoints, Severity: SeverityWarning,
			Message: fmt.Sprintf("no ready endpoint: kube-proxy is falling back to %d terminating-but-serving endpoint(s) until they exit", len(term)),
			Advice:  "new pods are not ready yet; traffic fails once the terminating pods are gone — check the rollout and readiness of the replacement pods",
			Objects: term})
	case len(ready) == 0:
		msg := fmt.Sprintf("all %d endpoint(s) are not ready: kube-proxy has no backend and rejects connections", len(notReady))
		if t.Service.Headless {
			msg = fmt.Sprintf("all %d endpoint(s) are not ready: DNS for the headless service returns no address", len(notReady))
		}
		{
			a.add(Finding{Code: CodeNoReadyEndpoints, Severity: SeverityError,
				Message: msg,
				Advice:  "fix the readiness of the pods (see the reasons per endpoint); kubectl describe pod shows probe failures",
				Objects: notReady})
		}
	case len(notReady)+len(term) > 0:
		a.add(Finding{Code: CodeSomeEndpointsNotReady, Severity: SeverityWarning,
			Message: fmt.Sprintf("%d of %d endpoints are out of rotation (%d not ready, %d terminating); traffic goes to the %d ready one(s)", len(notReady)+len(term), total, len(notReady), len(term), len(ready)),
			Advice:  "see the reason on each endpoint; capacity is reduced until they become ready",
			Objects: append(append([]string(nil), notReady...), term...)})
	}

	// Per port: no endpoint at all while the Service has some.
	if total > 0 {
		for _, pt := range t.Ports {
			if pt.Ready+pt.ServingTerminating+pt.NotReady == 0 {
				a.add(Finding{Code: CodePortHasNoEndpoints, Severity: SeverityError,
					Message: fmt.Sprintf("port %s has no endpoints although the service has some: connections to it are rejected", portName(pt.ServicePort)),
					Advice:  "the targetPort " + pt.TargetPort + " does not resolve on any pod (see NamedPortUnresolved), or the hand-written EndpointSlice lacks a port named " + strconv.Quote(pt.Name)})
			}
		}
	}

	a.portFindings()

	if t.Service.Type == string(corev1.ServiceTypeLoadBalancer) {
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			a.add(Finding{Code: CodeLoadBalancerPending, Severity: SeverityWarning,
				Message: "LoadBalancer has no ingress address yet (EXTERNAL-IP <pending>): nothing outside the cluster can reach it through a load balancer; NodePorts still work",
				Advice:  "check that a load-balancer controller (cloud provider, MetalLB, …) runs and handles this service" + lbClassHint(t.Service.LoadBalancerClass) + "; kubectl describe service shows its events"})
		}
		for _, in := range t.Service.LoadBalancerIngress {
			if in.IPMode == string(corev1.LoadBalancerIPModeProxy) {
				a.add(Finding{Code: CodeLoadBalancerProxyMode, Severity: SeverityInfo,
					Message: fmt.Sprintf("ingress %s has ipMode Proxy: kube-proxy writes no rules for it; the load balancer must forward to node ports", in.IP),
					Objects: []string{in.IP}})
			}
		}
	}

	a.trafficPolicyFindings()

	// Endpoints on nodes that are not Ready.
	var badNodes []string
	for _, ep := range t.Endpoints {
		if ep.NodeReady != nil && !*ep.NodeReady && !contains(badNodes, "node/"+ep.Node) {
			badNodes = append(badNodes, "node/"+ep.Node)
		}
	}
	if len(badNodes) > 0 {
		a.add(Finding{Code: CodeNodeNotReady, Severity: SeverityWarning,
			Message: "endpoints run on node(s) that are not Ready: " + strings.Join(badNodes, ", "),
			Advice:  "the node controller will mark their pods not ready and evict them; check kubelet and the node's network",
			Objects: badNodes})
	}
}

func lbClassHint(class string) string {
	if class == "" {
		return ""
	}
	return " (loadBalancerClass " + class + ")"
}

func rankState(s EndpointState) int {
	switch s {
	case StateReady:
		return 3
	case StateServingTerminating:
		return 2
	case StateNotReady:
		return 1
	}
	return 0
}

func portName(p ServicePort) string {
	if p.Name != "" {
		return fmt.Sprintf("%s (%d/%s)", p.Name, p.Port, p.Protocol)
	}
	return fmt.Sprintf("%d/%s", p.Port, p.Protocol)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// portFindings checks every service port against every matched pod: named
// ports that do not resolve (FindPort), protocol mismatches, and numeric
// targetPorts no container declares.
func (a *analysis) portFindings() {
	pods := a.matchedPods()
	if len(pods) == 0 || a.snap.PodsUnavailable {
		return
	}
	for _, sp := range a.ports {
		proto := protocolOf(sp.Protocol)
		if sp.TargetPort.StrVal != "" {
			var unresolved, protoWrong []string
			var details []string
			for _, p := range pods {
				_, errStr := resolveTargetPort(p, sp)
				if errStr == "" {
					continue
				}
				if strings.HasPrefix(errStr, "container port") {
					protoWrong = append(protoWrong, "pod/"+p.Name)
				} else {
					unresolved = append(unresolved, "pod/"+p.Name)
				}
				details = append(details, p.Name+": "+errStr)
			}
			if len(protoWrong) > 0 {
				a.add(Finding{Code: CodeProtocolMismatch, Severity: SeverityWarning,
					Message: fmt.Sprintf("port %s: targetPort %q exists on %d pod(s) only with another protocol, so they are left out of this port (%s)", portName(servicePort(sp)), sp.TargetPort.StrVal, len(protoWrong), strings.Join(details, "; ")),
					Advice:  "named ports resolve by name AND protocol; set protocol: " + string(proto) + " on the container port or fix the service port's protocol",
					Objects: protoWrong})
			}
			if len(unresolved) > 0 {
				sev := SeverityWarning
				if len(unresolved) == len(pods) {
					sev = SeverityError
				}
				a.add(Finding{Code: CodeNamedPortUnresolved, Severity: sev,
					Message: fmt.Sprintf("port %s: targetPort %q does not resolve on %d of %d pods, which get no endpoint for this port", portName(servicePort(sp)), sp.TargetPort.StrVal, len(unresolved), len(pods)),
					Advice:  "add a container port named " + strconv.Quote(sp.TargetPort.StrVal) + " to the pod template, or point targetPort at an existing port name or number",
					Objects: unresolved})
			}
			continue
		}
		want, _ := resolveTargetPort(pods[0], sp)
		var declaredAny bool
		var otherProto []string
		var declared []string
		matched := false
		for _, p := range pods {
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					declaredAny = true
					d := fmt.Sprintf("%d/%s", cp.ContainerPort, protocolOf(cp.Protocol))
					if !contains(declared, d) {
						declared = append(declared, d)
					}
					if cp.ContainerPort == want {
						if protocolOf(cp.Protocol) == proto {
							matched = true
						} else if !contains(otherProto, "pod/"+p.Name) {
							otherProto = append(otherProto, "pod/"+p.Name)
						}
					}
				}
			}
		}
		if !declaredAny || matched {
			continue
		}
		if len(otherProto) > 0 {
			a.add(Finding{Code: CodeProtocolMismatch, Severity: SeverityWarning,
				Message: fmt.Sprintf("port %s targets %d/%s, but the pods declare port %d only for another protocol", portName(servicePort(sp)), want, proto, want),
				Advice:  "check the service port's protocol (TCP/UDP/SCTP) against what the application listens on",
				Objects: otherProto})
			continue
		}
		a.add(Finding{Code: CodePortMismatch, Severity: SeverityWarning,
			Message: fmt.Sprintf("port %s targets %d/%s, which no container declares (declared: %s); if nothing listens there, connections are refused", portName(servicePort(sp)), want, proto, strings.Join(declared, ", ")),
			Advice:  "containerPort declarations are informational, but a mismatch usually means targetPort is wrong"})
	}
}

// trafficPolicyFindings explains externalTrafficPolicy/internalTrafficPolicy
// Local, mirroring ExternalPolicyLocal/InternalPolicyLocal in
// pkg/api/v1/service/util.go and the DROP kube-proxy writes when a node has
// no local endpoint (pkg/proxy/iptables/proxier.go).
func (a *analysis) trafficPolicyFindings() {
	svc := a.snap.Service
	nodesWith := func() []string {
		var nodes []string
		for _, ep := range a.t.Endpoints {
			if ep.State == StateReady && ep.Node != "" && !contains(nodes, ep.Node) {
				nodes = append(nodes, ep.Node)
			}
		}
		if len(nodes) == 0 {
			// CategorizeEndpoints' local fallback: serving-terminating.
			for _, ep := range a.t.Endpoints {
				if ep.State == StateServingTerminating && ep.Node != "" && !contains(nodes, ep.Node) {
					nodes = append(nodes, ep.Node)
				}
			}
		}
		sort.Strings(nodes)
		return nodes
	}
	externallyAccessible := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer || len(svc.Spec.ExternalIPs) > 0
	if externallyAccessible && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		nodes := nodesWith()
		f := Finding{Code: CodeExternalTrafficPolicyLocal, Severity: SeverityInfo, Objects: prefixAll("node/", nodes)}
		if len(nodes) == 0 {
			f.Severity = SeverityWarning
			f.Message = "externalTrafficPolicy: Local and no node has a ready local endpoint: every node drops NodePort/LoadBalancer/externalIP traffic"
		} else {
			f.Message = fmt.Sprintf("externalTrafficPolicy: Local: only node(s) %s have local endpoints and accept NodePort/LoadBalancer/externalIP traffic; other nodes drop it. The client source IP is preserved (no SNAT)", strings.Join(nodes, ", "))
		}
		if svc.Spec.HealthCheckNodePort != 0 {
			f.Message += fmt.Sprintf("; load balancers health-check node port %d to find those nodes", svc.Spec.HealthCheckNodePort)
		}
		f.Advice = "send external traffic only to the listed nodes (a load balancer does this via the health check node port), or use externalTrafficPolicy: Cluster if the client IP need not be preserved"
		a.add(f)
	}
	if svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal {
		nodes := nodesWith()
		f := Finding{Code: CodeInternalTrafficPolicyLocal, Severity: SeverityInfo, Objects: prefixAll("node/", nodes)}
		if len(nodes) == 0 {
			f.Severity = SeverityWarning
			f.Message = "internalTrafficPolicy: Local and no node has a ready local endpoint: in-cluster traffic to the ClusterIP is dropped on every node"
		} else {
			f.Message = fmt.Sprintf("internalTrafficPolicy: Local: in-cluster clients reach the service only from node(s) %s, which have local endpoints; clients on other nodes have their traffic dropped", strings.Join(nodes, ", "))
		}
		f.Advice = "run a backend on every node that has clients (e.g. a DaemonSet), or use internalTrafficPolicy: Cluster"
		a.add(f)
	}
}

func prefixAll(p string, xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, p+x)
	}
	return out
}
