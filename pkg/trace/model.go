// Package trace holds kubectl-svc-trace's result model and the logic that
// turns API state (and, later, node rules and DNS) into endpoints, verdicts
// and findings.
//
// The JSON/YAML field names of ServiceTrace are a public contract: CI scripts
// read them, so they only ever grow. docs/schema.md documents them; a change
// that renames or removes a field needs a new APIVersion.
package trace

// APIVersion and Kind identify the ServiceTrace document.
const (
	APIVersion       = "svctrace.io/v1alpha1"
	KindServiceTrace = "ServiceTrace"
)

// EndpointState is how kube-proxy classifies an endpoint, mirroring the
// conditions it reads in pkg/proxy/endpointslicecache.go.
type EndpointState string

const (
	// StateReady endpoints receive traffic.
	StateReady EndpointState = "ready"
	// StateServingTerminating endpoints are terminating but still serving;
	// kube-proxy sends traffic to them only when a Service has no ready
	// endpoints at all (CategorizeEndpoints' fallback).
	StateServingTerminating EndpointState = "serving-terminating"
	// StateNotReady endpoints never receive proxied traffic.
	StateNotReady EndpointState = "not-ready"
)

// Severity of a finding. The order matters: --fail-on compares against it.
type Severity string

const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// Rank orders severities so that callers can compare them; unknown values
// rank below info.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityError:
		return 3
	}
	return 0
}

// ServiceTrace is the whole answer for one Service.
type ServiceTrace struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Source says where the objects came from: "cluster" or "files".
	Source  string  `json:"source"`
	Service Service `json:"service"`
	// Ports is the per service port view: which endpoints serve it and the
	// targetPort each pod resolves to.
	Ports []PortTrace `json:"ports"`
	// Endpoints has one entry per (address, service port), in kube-proxy's
	// order (sorted by "ip:port" as strings, per port).
	Endpoints []Endpoint `json:"endpoints"`
	// Pods are the pods the Service's selector matches.
	Pods     []Pod     `json:"pods"`
	Findings []Finding `json:"findings"`
	// Query, Hops and Nodes are set when a node's dataplane was inspected
	// (--from, --node, --node-dump): what was evaluated, the path in
	// order, and per inspected node and port the rules' answer.
	Query *TraceQuery  `json:"query,omitempty"`
	Hops  []Hop        `json:"hops,omitempty"`
	Nodes []NodeResult `json:"nodes,omitempty"`
	// Warnings are problems reading the input (not findings about the
	// Service): an object that could not be read, an unknown field value.
	Warnings []string `json:"warnings,omitempty"`
}

// Service is the Service as the API describes it, flattened for display.
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Type is ClusterIP, NodePort, LoadBalancer or ExternalName.
	Type                          string            `json:"type"`
	ClusterIPs                    []string          `json:"clusterIPs,omitempty"`
	IPFamilies                    []string          `json:"ipFamilies,omitempty"`
	IPFamilyPolicy                string            `json:"ipFamilyPolicy,omitempty"`
	Headless                      bool              `json:"headless"`
	Ports                         []ServicePort     `json:"ports"`
	ExternalIPs                   []string          `json:"externalIPs,omitempty"`
	LoadBalancerIngress           []LBIngress       `json:"loadBalancerIngress,omitempty"`
	LoadBalancerSourceRanges      []string          `json:"loadBalancerSourceRanges,omitempty"`
	LoadBalancerClass             string            `json:"loadBalancerClass,omitempty"`
	ExternalName                  string            `json:"externalName,omitempty"`
	Selector                      map[string]string `json:"selector,omitempty"`
	SessionAffinity               string            `json:"sessionAffinity"`
	SessionAffinityTimeoutSeconds *int32            `json:"sessionAffinityTimeoutSeconds,omitempty"`
	ExternalTrafficPolicy         string            `json:"externalTrafficPolicy,omitempty"`
	InternalTrafficPolicy         string            `json:"internalTrafficPolicy,omitempty"`
	TrafficDistribution           string            `json:"trafficDistribution,omitempty"`
	PublishNotReadyAddresses      bool              `json:"publishNotReadyAddresses"`
	HealthCheckNodePort           int32             `json:"healthCheckNodePort,omitempty"`
}

// ServicePort is one entry of spec.ports.
type ServicePort struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
	// TargetPort is the spec value as written: a number or a port name.
	TargetPort  string `json:"targetPort"`
	NodePort    int32  `json:"nodePort,omitempty"`
	AppProtocol string `json:"appProtocol,omitempty"`
}

// LBIngress is one status.loadBalancer.ingress entry.
type LBIngress struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// IPMode is VIP or Proxy; empty means VIP. kube-proxy writes rules only
	// for VIP (pkg/proxy/util.IsVIPMode).
	IPMode string `json:"ipMode,omitempty"`
}

// PortTrace is one service port and what serves it.
type PortTrace struct {
	ServicePort
	// Counts by state, for this port.
	Ready              int `json:"ready"`
	ServingTerminating int `json:"servingTerminating"`
	NotReady           int `json:"notReady"`
	// TargetPorts maps each matched pod to the container port the
	// targetPort resolves to on it (FindPort), or the reason it does not.
	TargetPorts []PodTargetPort `json:"targetPorts,omitempty"`
}

// PodTargetPort is the resolution of a service port's targetPort on one pod.
type PodTargetPort struct {
	Pod  string `json:"pod"`
	Port int32  `json:"port,omitempty"`
	// Error is set when the pod has no container port by that name and
	// protocol, so the EndpointSlice controller leaves the pod out of this
	// port.
	Error string `json:"error,omitempty"`
}

// Endpoint is one address of the Service for one service port.
type Endpoint struct {
	IP       string `json:"ip"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	// PortName is the service port name ("" for a single unnamed port).
	PortName    string `json:"portName"`
	ServicePort int32  `json:"servicePort"`
	// AddressType is IPv4 or IPv6 (the slice's addressType).
	AddressType string        `json:"addressType"`
	State       EndpointState `json:"state"`
	// InUse says whether kube-proxy would send cluster traffic here:
	// ready endpoints, or serving-terminating ones when none is ready
	// (CategorizeEndpoints), before any topology filtering.
	InUse bool `json:"inUse"`
	// Conditions as the EndpointSlice states them (nil = not set).
	Conditions Conditions `json:"conditions"`
	Hostname   string     `json:"hostname,omitempty"`
	Pod        string     `json:"pod,omitempty"`
	Node       string     `json:"node,omitempty"`
	Zone       string     `json:"zone,omitempty"`
	Slice      string     `json:"slice"`
	// Reason explains the state in a sentence (why not ready, why used).
	Reason string `json:"reason,omitempty"`
	// NotReadyContainers lists the containers holding the pod back.
	NotReadyContainers []ContainerProblem `json:"notReadyContainers,omitempty"`
	NodeReady          *bool              `json:"nodeReady,omitempty"`
	// Probability and Masquerade come from the inspected node's rules
	// (when exactly one node was inspected for this port; see nodes[]).
	Probability *float64 `json:"probability,omitempty"`
	Masquerade  *bool    `json:"masquerade,omitempty"`
}

// Conditions mirrors discovery.k8s.io/v1 EndpointConditions.
type Conditions struct {
	Ready       *bool `json:"ready,omitempty"`
	Serving     *bool `json:"serving,omitempty"`
	Terminating *bool `json:"terminating,omitempty"`
}

// ContainerProblem is one container that keeps its pod from being ready.
type ContainerProblem struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Restarts int32  `json:"restarts"`
}

// Pod is a pod the Service's selector matches.
type Pod struct {
	Name  string   `json:"name"`
	IP    string   `json:"ip,omitempty"`
	IPs   []string `json:"ips,omitempty"`
	Phase string   `json:"phase"`
	Node  string   `json:"node,omitempty"`
	Ready bool     `json:"ready"`
	// Terminating is true once deletion was requested.
	Terminating bool `json:"terminating"`
	// InEndpoints says whether the pod appears in any EndpointSlice of
	// the Service.
	InEndpoints bool `json:"inEndpoints"`
	// Reason explains why the pod is not ready or not in the endpoints.
	Reason             string             `json:"reason,omitempty"`
	NotReadyContainers []ContainerProblem `json:"notReadyContainers,omitempty"`
}

// Finding is one diagnosis with a stable code.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Advice   string   `json:"advice,omitempty"`
	// Objects names the pods, nodes or endpoints the finding is about.
	Objects []string `json:"objects,omitempty"`
}

// MaxSeverity returns the highest severity among the findings ("" if none).
func (t *ServiceTrace) MaxSeverity() Severity {
	var max Severity
	for _, f := range t.Findings {
		if f.Severity.Rank() > max.Rank() {
			max = f.Severity
		}
	}
	return max
}
