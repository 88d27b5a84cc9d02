package cluster

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/utils/ptr"

	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

// Objects are API objects read from files (kubectl get -o yaml|json output,
// Lists, multi-document YAML).
type Objects struct {
	// Source is "files" (the default) or "cluster" for a bulk live read.
	Source         string
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Endpoints      []corev1.Endpoints
	Pods           []corev1.Pod
	Nodes          []corev1.Node
	Events         []corev1.Event
	// Warnings name objects that were skipped and why.
	Warnings []string
}

// FileSource names where to read: paths (files, directories, globs, URLs as
// kubectl accepts them) and "-" for stdin.
type FileSource struct {
	Filenames []string
	Recursive bool
	// Stdin is read when a filename is "-".
	Stdin io.Reader
}

// ReadFiles reads objects with cli-runtime's resource builder in local mode
// (kubectl's own decoder: Lists are flattened, multi-document YAML and JSON
// streams are split), and keeps the kinds a trace uses.
func ReadFiles(src FileSource) (*Objects, error) {
	b := resource.NewLocalBuilder().Unstructured().ContinueOnError().Flatten()
	var paths []string
	for _, f := range src.Filenames {
		if f == "-" {
			if src.Stdin == nil {
				return nil, fmt.Errorf("-f -: no standard input")
			}
			b = b.Stream(src.Stdin, "STDIN")
			continue
		}
		paths = append(paths, f)
	}
	if len(paths) > 0 {
		b = b.FilenameParam(false, &resource.FilenameOptions{Filenames: paths, Recursive: src.Recursive})
	}
	objs := &Objects{}
	err := b.Do().Visit(func(info *resource.Info, err error) error {
		if err != nil {
			return err
		}
		return objs.add(info)
	})
	if err != nil {
		return nil, err
	}
	return objs, nil
}

func (o *Objects) add(info *resource.Info) error {
	u, ok := info.Object.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	gvk := u.GroupVersionKind()
	where := fmt.Sprintf("%s %s", info.Source, describe(u))
	convert := func(into any) error {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		return nil
	}
	switch gvk {
	case schema.GroupVersionKind{Version: "v1", Kind: "Service"}:
		var s corev1.Service
		if err := convert(&s); err != nil {
			return err
		}
		o.Services = append(o.Services, s)
	case schema.GroupVersionKind{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"}:
		var s discoveryv1.EndpointSlice
		if err := convert(&s); err != nil {
			return err
		}
		o.EndpointSlices = append(o.EndpointSlices, s)
	case schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"}:
		var e corev1.Endpoints
		if err := convert(&e); err != nil {
			return err
		}
		o.Endpoints = append(o.Endpoints, e)
	case schema.GroupVersionKind{Version: "v1", Kind: "Pod"}:
		var p corev1.Pod
		if err := convert(&p); err != nil {
			return err
		}
		o.Pods = append(o.Pods, p)
	case schema.GroupVersionKind{Version: "v1", Kind: "Node"}:
		var n corev1.Node
		if err := convert(&n); err != nil {
			return err
		}
		o.Nodes = append(o.Nodes, n)
	case schema.GroupVersionKind{Version: "v1", Kind: "Event"}:
		var e corev1.Event
		if err := convert(&e); err != nil {
			return err
		}
		o.Events = append(o.Events, e)
	default:
		if gvk.Kind == "EndpointSlice" {
			o.Warnings = append(o.Warnings, where+": only discovery.k8s.io/v1 EndpointSlices are read; skipped")
		}
		// Other kinds (Deployments, ConfigMaps, …) are not part of a trace.
	}
	return nil
}

func describe(u *unstructured.Unstructured) string {
	s := strings.ToLower(u.GetKind()) + "/" + u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		s = ns + "/" + s
	}
	return s
}

// FindService picks the Service to trace. When namespace is set (explicitly
// or from the kubeconfig) and matches, that one wins; when the namespace was
// not given explicitly and the name is unique across the files, it is used.
func (o *Objects) FindService(namespace string, explicit bool, name string) (*corev1.Service, error) {
	var matches []*corev1.Service
	for i := range o.Services {
		s := &o.Services[i]
		if s.Name != name {
			continue
		}
		if serviceNamespace(s) == namespace {
			return s, nil
		}
		matches = append(matches, s)
	}
	if !explicit && len(matches) == 1 {
		return matches[0], nil
	}
	err := apierrors.NewNotFound(schema.GroupResource{Resource: "services"}, name)
	if len(matches) > 1 {
		var nss []string
		for _, m := range matches {
			nss = append(nss, serviceNamespace(m))
		}
		sort.Strings(nss)
		return nil, fmt.Errorf("%w in namespace %q of the files (it exists in namespaces %s: use -n)", err, namespace, strings.Join(nss, ", "))
	}
	return nil, err
}

func serviceNamespace(s *corev1.Service) string {
	if s.Namespace == "" {
		return corev1.NamespaceDefault
	}
	return s.Namespace
}

// Snapshot builds the snapshot of one Service from the objects, selecting
// what a live read would return (slices by label, pods by selector in the
// namespace, nodes by name).
func (o *Objects) Snapshot(svc *corev1.Service) *trace.Snapshot {
	ns := serviceNamespace(svc)
	svc = svc.DeepCopy()
	svc.Namespace = ns
	source := o.Source
	if source == "" {
		source = "files"
	}
	snap := &trace.Snapshot{Service: svc, Source: source, Nodes: map[string]*corev1.Node{}, Warnings: append([]string(nil), o.Warnings...)}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return snap
	}
	for _, sl := range o.EndpointSlices {
		if nsOr(sl.Namespace) == ns && sl.Labels[discoveryv1.LabelServiceName] == svc.Name {
			snap.Slices = append(snap.Slices, sl)
		}
	}
	if len(snap.Slices) == 0 {
		for _, ep := range o.Endpoints {
			if nsOr(ep.Namespace) == ns && ep.Name == svc.Name {
				snap.Slices = append(snap.Slices, SlicesFromEndpoints(&ep)...)
				snap.Warnings = append(snap.Warnings, fmt.Sprintf("no EndpointSlice for %s/%s in the files: using its Endpoints object, converted as the EndpointSlice mirroring controller would", ns, svc.Name))
			}
		}
	}
	if len(svc.Spec.Selector) > 0 {
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, p := range o.Pods {
			if nsOr(p.Namespace) == ns && sel.Matches(labels.Set(p.Labels)) {
				p.Namespace = ns
				snap.Pods = append(snap.Pods, p)
			}
		}
	}
	snap.Events = podEvents(o.Events, snap.Pods)
	want := map[string]bool{}
	for _, n := range nodeNames(snap) {
		want[n] = true
	}
	for i := range o.Nodes {
		if want[o.Nodes[i].Name] {
			snap.Nodes[o.Nodes[i].Name] = &o.Nodes[i]
		}
	}
	return snap
}

func nsOr(ns string) string {
	if ns == "" {
		return corev1.NamespaceDefault
	}
	return ns
}

// FileReader serves Snapshots from objects read once.
type FileReader struct {
	Objects *Objects
	// ExplicitNamespace is true when the user gave -n.
	ExplicitNamespace bool
}

// Snapshot implements Reader.
func (f *FileReader) Snapshot(_ context.Context, namespace, name string) (*trace.Snapshot, error) {
	svc, err := f.Objects.FindService(namespace, f.ExplicitNamespace, name)
	if err != nil {
		return nil, err
	}
	return f.Objects.Snapshot(svc), nil
}

// SlicesFromEndpoints converts a v1 Endpoints object into EndpointSlices the
// way the EndpointSlice mirroring controller does
// (pkg/controller/endpointslicemirroring): one slice per subset and address
// family, ready addresses ready, notReadyAddresses not ready.
func SlicesFromEndpoints(ep *corev1.Endpoints) []discoveryv1.EndpointSlice {
	var out []discoveryv1.EndpointSlice
	for si, ss := range ep.Subsets {
		byType := map[discoveryv1.AddressType]*discoveryv1.EndpointSlice{}
		get := func(ip string) *discoveryv1.EndpointSlice {
			t := discoveryv1.AddressTypeIPv4
			if strings.Contains(ip, ":") {
				t = discoveryv1.AddressTypeIPv6
			}
			if s, ok := byType[t]; ok {
				return s
			}
			s := &discoveryv1.EndpointSlice{AddressType: t}
			s.Name = fmt.Sprintf("%s-mirrored-%d-%s", ep.Name, si, strings.ToLower(string(t)))
			s.Namespace = ep.Namespace
			s.Labels = map[string]string{discoveryv1.LabelServiceName: ep.Name}
			for _, p := range ss.Ports {
				s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(p.Port), Protocol: ptr.To(protocolOrTCP(p.Protocol)), AppProtocol: p.AppProtocol})
			}
			byType[t] = s
			return s
		}
		addAddr := func(a corev1.EndpointAddress, ready bool) {
			s := get(a.IP)
			e := discoveryv1.Endpoint{Addresses: []string{a.IP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}, NodeName: a.NodeName, TargetRef: a.TargetRef}
			if a.Hostname != "" {
				e.Hostname = ptr.To(a.Hostname)
			}
			s.Endpoints = append(s.Endpoints, e)
		}
		for _, a := range ss.Addresses {
			addAddr(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			addAddr(a, false)
		}
		for _, t := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
			if s, ok := byType[t]; ok {
				out = append(out, *s)
			}
		}
	}
	return out
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}
