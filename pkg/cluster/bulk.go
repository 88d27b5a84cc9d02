package cluster

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// Scope is what `check` looks at.
type Scope struct {
	// Namespace is ignored when AllNamespaces is set.
	Namespace     string
	AllNamespaces bool
	// LabelSelector filters Services (kubectl -l syntax).
	LabelSelector string
}

func (s Scope) ns() string {
	if s.AllNamespaces {
		return metav1.NamespaceAll
	}
	return s.Namespace
}

// ReadLive reads everything `check` needs in a fixed number of list
// requests (Services, EndpointSlices, Pods, Nodes, probe-failure Events),
// however many Services are in scope, instead of a trace's requests per
// Service. Any error — a forbidden list included — fails the read: a check
// must never pass because it could not look.
func ReadLive(ctx context.Context, client kubernetes.Interface, scope Scope) (*Objects, error) {
	objs := &Objects{Source: "cluster"}
	ns := scope.ns()
	where := "in namespace " + scope.Namespace
	if scope.AllNamespaces {
		where = "in all namespaces"
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		l, err := client.CoreV1().Services(ns).List(gctx, metav1.ListOptions{LabelSelector: scope.LabelSelector})
		if err != nil {
			return fmt.Errorf("listing services %s: %w", where, err)
		}
		objs.Services = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := client.DiscoveryV1().EndpointSlices(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing endpointslices %s: %w", where, err)
		}
		objs.EndpointSlices = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := client.CoreV1().Pods(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing pods %s: %w", where, err)
		}
		objs.Pods = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := client.CoreV1().Nodes().List(gctx, metav1.ListOptions{})
		if err != nil {
			// Node readiness is a detail; say so rather than fail.
			objs.Warnings = append(objs.Warnings, "cannot list nodes: "+err.Error()+"; node readiness is not checked")
			return nil
		}
		objs.Nodes = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := client.CoreV1().Events(ns).List(gctx, metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.kind": "Pod", "reason": "Unhealthy"}.String(),
		})
		if err != nil {
			return nil // probe messages are a detail
		}
		objs.Events = l.Items
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return objs, nil
}

// ServicesInScope returns the Services of objs in scope (files are
// filtered the same way a live read is), optionally only the named ones.
func (o *Objects) ServicesInScope(scope Scope, names []string) ([]*corev1.Service, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sel, err := labels.Parse(scope.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector %q: %w", scope.LabelSelector, err)
	}
	var out []*corev1.Service
	found := map[string]bool{}
	for i := range o.Services {
		s := &o.Services[i]
		if !scope.AllNamespaces && serviceNamespace(s) != scope.Namespace {
			continue
		}
		if !sel.Matches(labels.Set(s.Labels)) || (len(want) > 0 && !want[s.Name]) {
			continue
		}
		found[s.Name] = true
		out = append(out, s)
	}
	for _, n := range names {
		if !found[n] {
			return nil, fmt.Errorf("services %q not found %s", n, map[bool]string{true: "in any namespace", false: "in namespace " + scope.Namespace}[scope.AllNamespaces])
		}
	}
	return out, nil
}
