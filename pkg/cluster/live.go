// Package cluster reads the API objects a trace needs — from a live cluster
// through client-go, or from files in kubectl's formats — into
// trace.Snapshot. It is the only package that talks to the API server for
// the API view; it never writes.
package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

// DefaultMaxNodeGets is how many nodes Live fetches one by one before it
// lists all nodes in a single request instead. Either way a trace costs a
// bounded number of requests: 1 Service get + 1 slice list + 1 pod list +
// 1 event list (only when a pod is not ready) + at most DefaultMaxNodeGets
// node gets (or 1 node list).
const DefaultMaxNodeGets = 8

// Reader reads the snapshot of one Service.
type Reader interface {
	Snapshot(ctx context.Context, namespace, name string) (*trace.Snapshot, error)
}

// Live reads from a cluster. It needs get on services and nodes and list on
// endpointslices and pods in the Service's namespace (nodes: get, or list
// when many nodes host endpoints).
type Live struct {
	Client kubernetes.Interface
	// MaxNodeGets overrides DefaultMaxNodeGets when > 0.
	MaxNodeGets int
}

// Snapshot implements Reader. Requests are bounded whatever the cluster
// size: pods are listed by the Service's selector in its namespace only,
// slices by the kubernetes.io/service-name label, and only the nodes that
// host endpoints or pods are read.
func (l *Live) Snapshot(ctx context.Context, namespace, name string) (*trace.Snapshot, error) {
	svc, err := l.Client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	snap := &trace.Snapshot{Service: svc, Source: "cluster", Nodes: map[string]*corev1.Node{}}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return snap, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		list, err := l.Client.DiscoveryV1().EndpointSlices(namespace).List(gctx, metav1.ListOptions{
			LabelSelector: labels.Set{discoveryv1.LabelServiceName: name}.String(),
		})
		if err != nil {
			return fmt.Errorf("listing EndpointSlices of service %s/%s: %w", namespace, name, err)
		}
		snap.Slices = list.Items
		return nil
	})
	if len(svc.Spec.Selector) > 0 {
		g.Go(func() error {
			list, err := l.Client.CoreV1().Pods(namespace).List(gctx, metav1.ListOptions{
				LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
			})
			if err != nil {
				if apierrors.IsForbidden(err) {
					// The trace still works from the slices; say what is missing.
					snap.Warnings = append(snap.Warnings, "cannot list pods in namespace "+namespace+" (forbidden): pod details and selector checks are skipped")
					snap.PodsUnavailable = true
					return nil
				}
				return fmt.Errorf("listing pods of service %s/%s: %w", namespace, name, err)
			}
			snap.Pods = list.Items
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if anyPodNotReady(snap.Pods) {
		// One more request, only when it can explain something: the
		// kubelet's probe-failure events carry the probe's output.
		list, err := l.Client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.kind": "Pod", "reason": "Unhealthy"}.String(),
		})
		if err != nil {
			snap.Warnings = append(snap.Warnings, "cannot list events in namespace "+namespace+": "+err.Error()+"; probe failure messages are not shown")
		} else {
			snap.Events = podEvents(list.Items, snap.Pods)
		}
	}
	names := nodeNames(snap)
	if err := l.readNodes(ctx, snap, names); err != nil {
		snap.Warnings = append(snap.Warnings, "cannot read nodes: "+err.Error()+"; node readiness is not shown")
	}
	return snap, nil
}

func anyPodNotReady(pods []corev1.Pod) bool {
	for i := range pods {
		ready := false
		for _, c := range pods[i].Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return true
		}
	}
	return false
}

// podEvents keeps the events about the given pods.
func podEvents(events []corev1.Event, pods []corev1.Pod) []corev1.Event {
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Namespace+"/"+p.Name] = true
	}
	var out []corev1.Event
	for _, e := range events {
		io := e.InvolvedObject
		ns := io.Namespace
		if ns == "" {
			ns = e.Namespace
		}
		if io.Kind == "Pod" && names[ns+"/"+io.Name] {
			out = append(out, e)
		}
	}
	return out
}

// nodeNames are the nodes hosting endpoints or matched pods, sorted.
func nodeNames(snap *trace.Snapshot) []string {
	set := map[string]bool{}
	for _, sl := range snap.Slices {
		for _, e := range sl.Endpoints {
			if e.NodeName != nil && *e.NodeName != "" {
				set[*e.NodeName] = true
			}
		}
	}
	for _, p := range snap.Pods {
		if p.Spec.NodeName != "" {
			set[p.Spec.NodeName] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (l *Live) readNodes(ctx context.Context, snap *trace.Snapshot, names []string) error {
	if len(names) == 0 {
		return nil
	}
	max := l.MaxNodeGets
	if max <= 0 {
		max = DefaultMaxNodeGets
	}
	if len(names) > max {
		list, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
		for i := range list.Items {
			if want[list.Items[i].Name] {
				snap.Nodes[list.Items[i].Name] = &list.Items[i]
			}
		}
		return nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range names {
		g.Go(func() error {
			node, err := l.Client.CoreV1().Nodes().Get(gctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil // recorded as absent: the analysis says so
			}
			if err != nil {
				return err
			}
			mu.Lock()
			snap.Nodes[n] = node
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}
