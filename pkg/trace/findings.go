package trace

// Finding codes. They are a public contract (CI scripts match on them, and
// `--ignore` and the svc-trace.io/ignore annotation name them): never rename
// one; add new ones instead.
const (
	// CodeSelectorMatchesNoPods: the Service has a selector and no pod in its
	// namespace carries those labels, so the EndpointSlice controller has
	// nothing to publish.
	CodeSelectorMatchesNoPods = "SelectorMatchesNoPods"
	// CodePodsNotInEndpoints: pods match the selector but some are absent
	// from every EndpointSlice (no IP yet, terminal phase, node missing).
	CodePodsNotInEndpoints = "PodsNotInEndpoints"
	// CodeNoReadyEndpoints: endpoints exist but none is ready or
	// serving-terminating, so kube-proxy rejects the traffic.
	CodeNoReadyEndpoints = "NoReadyEndpoints"
	// CodeOnlyTerminatingEndpoints: no ready endpoint; kube-proxy falls back
	// to serving-terminating ones until they go away.
	CodeOnlyTerminatingEndpoints = "OnlyTerminatingEndpoints"
	// CodeSomeEndpointsNotReady: part of the backends are out of rotation.
	CodeSomeEndpointsNotReady = "SomeEndpointsNotReady"
	// CodeNamedPortUnresolved: a named targetPort does not exist (with that
	// protocol) on some or all of the selected pods.
	CodeNamedPortUnresolved = "NamedPortUnresolved"
	// CodeNoSelectorNoEndpoints: a selector-less Service with no
	// hand-written Endpoints/EndpointSlices.
	CodeNoSelectorNoEndpoints = "NoSelectorNoEndpoints"
	// CodeExternalNameService: no proxying at all; DNS answers a CNAME.
	CodeExternalNameService = "ExternalNameService"
	// CodeHeadlessService: no ClusterIP; DNS answers the pod IPs.
	CodeHeadlessService = "HeadlessService"
	// CodeExternalTrafficPolicyLocal: external traffic reaches only nodes
	// with local endpoints; other nodes drop it.
	CodeExternalTrafficPolicyLocal = "ExternalTrafficPolicyLocal"
	// CodeInternalTrafficPolicyLocal: in-cluster traffic only reaches
	// endpoints on the client's own node.
	CodeInternalTrafficPolicyLocal = "InternalTrafficPolicyLocal"
	// CodeLoadBalancerPending: type LoadBalancer with no ingress address.
	CodeLoadBalancerPending = "LoadBalancerPending"
	// CodePortMismatch: the numeric targetPort is not among the ports the
	// pods' containers declare.
	CodePortMismatch = "PortMismatch"
	// CodeProtocolMismatch: the pods declare the port, but for another
	// protocol.
	CodeProtocolMismatch = "ProtocolMismatch"
	// CodeNodeNotReady: an endpoint sits on a node that is not Ready.
	CodeNodeNotReady = "NodeNotReady"
	// CodePortHasNoEndpoints: one service port has no endpoint at all while
	// others do, so connections to it are rejected.
	CodePortHasNoEndpoints = "PortHasNoEndpoints"
	// CodeLoadBalancerProxyMode: an ingress IP has ipMode Proxy, so
	// kube-proxy writes no rules for it and the load balancer must deliver
	// the traffic to a node port itself.
	CodeLoadBalancerProxyMode = "LoadBalancerIPModeProxy"
)

// CodeInfo is a finding code and its default severity.
type CodeInfo struct {
	Code     string
	Severity Severity
}

// AllCodes lists every finding code with its default severity, for the
// documentation and for validating --ignore.
func AllCodes() []CodeInfo {
	return []CodeInfo{
		{CodeSelectorMatchesNoPods, SeverityError},
		{CodePodsNotInEndpoints, SeverityWarning},
		{CodeNoReadyEndpoints, SeverityError},
		{CodeOnlyTerminatingEndpoints, SeverityWarning},
		{CodeSomeEndpointsNotReady, SeverityWarning},
		{CodeNamedPortUnresolved, SeverityWarning},
		{CodeNoSelectorNoEndpoints, SeverityError},
		{CodeExternalNameService, SeverityInfo},
		{CodeHeadlessService, SeverityInfo},
		{CodeExternalTrafficPolicyLocal, SeverityInfo},
		{CodeInternalTrafficPolicyLocal, SeverityInfo},
		{CodeLoadBalancerPending, SeverityWarning},
		{CodePortMismatch, SeverityWarning},
		{CodeProtocolMismatch, SeverityWarning},
		{CodeNodeNotReady, SeverityWarning},
		{CodePortHasNoEndpoints, SeverityError},
		{CodeLoadBalancerProxyMode, SeverityInfo},
	}
}
