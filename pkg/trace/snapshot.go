package trace

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Snapshot is the API state one trace needs, however it was read (a live
// cluster or files). pkg/cluster fills it; Analyze only reads it.
type Snapshot struct {
	Service *corev1.Service
	// Slices are every EndpointSlice labelled
	// kubernetes.io/service-name=<service>, of every address type.
	Slices []discoveryv1.EndpointSlice
	// Pods are the pods in the Service's namespace that its selector
	// matches (empty for a selector-less Service), plus any pod an
	// EndpointSlice names in a targetRef when the reader could fetch it.
	Pods []corev1.Pod
	// PodsUnavailable is set when the pods could not be read (e.g. no
	// permission): pod-based findings are then skipped, not guessed.
	PodsUnavailable bool
	// Nodes holds the nodes that host endpoints or matched pods, by name.
	// A missing entry means the node was not read (or does not exist).
	Nodes map[string]*corev1.Node
	// Events are probe-failure events (reason Unhealthy) of the matched
	// pods, read only when some pod is not ready; they carry the probe's
	// own output ("Readiness probe failed: …").
	Events []corev1.Event
	// Source is "cluster" or "files".
	Source string
	// Warnings are problems the reader met (unreadable objects, Endpoints
	// converted because no EndpointSlice was given).
	Warnings []string
}

// Options are the engine's knobs, already parsed from flags.
type Options struct {
	// Port restricts the trace to one service port, by name or number
	// ("" = all ports).
	Port string
}
