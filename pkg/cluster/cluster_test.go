package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func liveObjects(nodes int) []runtime.Object {
	objs := []runtime.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}},
		// A pod in another namespace with the same labels must not be read.
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "other", Labels: map[string]string{"app": "web"}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "ns", Labels: map[string]string{"app": "db"}}},
	}
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4}
	for i := 0; i < nodes; i++ {
		n := fmt.Sprintf("node%d", i)
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}})
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-" + n, Namespace: "ns", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: n}})
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.0.0.%d", i+1)}, NodeName: ptr.To(n)})
	}
	// Nodes that host nothing of this service must not be read.
	objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "idle"}})
	return append(objs, sl)
}

func TestLiveRequestsAreBounded(t *testing.T) {
	for _, nodes := range []int{1, 3, DefaultMaxNodeGets, DefaultMaxNodeGets + 1, 40} {
		t.Run(fmt.Sprint(nodes), func(t *testing.T) {
			client := fake.NewClientset(liveObjects(nodes)...)
			snap, err := (&Live{Client: client}).Snapshot(context.Background(), "ns", "web")
			if err != nil {
				t.Fatal(err)
			}
			var verbs []string
			for _, a := range client.Actions() {
				verbs = append(verbs, a.GetVerb()+" "+a.GetResource().Resource)
				if a.GetVerb() == "list" && a.GetResource().Resource == "pods" && a.GetNamespace() != "ns" {
					t.Errorf("pods listed outside the service namespace: %q", a.GetNamespace())
				}
			}
			if max := 4 + DefaultMaxNodeGets; len(verbs) > max {
				t.Errorf("%d requests for %d nodes (max %d): %v", len(verbs), nodes, max, verbs)
			}
			if len(snap.Pods) != nodes {
				t.Errorf("want %d selected pods, got %d", nodes, len(snap.Pods))
			}
			if len(snap.Nodes) != nodes || snap.Nodes["idle"] != nil {
				t.Errorf("want exactly the %d hosting nodes, got %d", nodes, len(snap.Nodes))
			}
			wantList := nodes > DefaultMaxNodeGets
			gotList := strings.Contains(strings.Join(verbs, ","), "list nodes")
			if wantList != gotList {
				t.Errorf("nodes=%d: list used=%v, want %v (%v)", nodes, gotList, wantList, verbs)
			}
		})
	}
}

func TestLiveNotFoundAndForbidden(t *testing.T) {
	client := fake.NewClientset()
	_, err := (&Live{Client: client}).Snapshot(context.Background(), "ns", "nope")
	if !apierrors.IsNotFound(err) || err.Error() != `services "nope" not found` {
		t.Errorf("want the API's NotFound, got %v", err)
	}

	client = fake.NewClientset(liveObjects(1)...)
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", fmt.Errorf("no"))
	})
	snap, err := (&Live{Client: client}).Snapshot(context.Background(), "ns", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Warnings) != 1 || !strings.Contains(snap.Warnings[0], "cannot list pods") || !snap.PodsUnavailable {
		t.Errorf("want a warning about pods, got %v", snap.Warnings)
	}
}

func TestLiveExternalNameReadsNothingElse(t *testing.T) {
	client := fake.NewClientset(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}})
	if _, err := (&Live{Client: client}).Snapshot(context.Background(), "ns", "ext"); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 1 {
		t.Errorf("want 1 request, got %d", n)
	}
}

const listYAML = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop}
  spec:
    selector: {app: web}
    ports: [{port: 80, targetPort: 8080}]
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, namespace: shop, labels: {app: web}}
  spec: {nodeName: n1, containers: [{name: c, image: x}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: web-2, namespace: other, labels: {app: web}}
  spec: {containers: [{name: c, image: x}]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop}
  spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x}]}}}
`

const multiDocYAML = `apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
subsets:
- addresses: [{ip: 10.0.0.1, nodeName: n1}, {ip: "fd00::1"}]
  notReadyAddresses: [{ip: 10.0.0.2}]
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{port: 80}]}
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFilesListsMultiDocAndStdin(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", listYAML)
	objs, err := ReadFiles(FileSource{Filenames: []string{a, "-"}, Stdin: strings.NewReader(multiDocYAML)})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Services) != 2 || len(objs.Pods) != 2 || len(objs.Endpoints) != 1 || len(objs.Nodes) != 1 {
		t.Fatalf("read %d services, %d pods, %d endpoints, %d nodes", len(objs.Services), len(objs.Pods), len(objs.Endpoints), len(objs.Nodes))
	}

	// The name exists in two namespaces: the explicit one wins, an
	// implicit default that has it wins, otherwise ask for -n.
	r := &FileReader{Objects: objs, ExplicitNamespace: true}
	snap, err := r.Snapshot(context.Background(), "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Pods) != 1 || snap.Pods[0].Name != "web-1" {
		t.Errorf("pods must be selected within the namespace: %+v", snap.Pods)
	}
	if len(snap.Slices) != 2 || snap.Slices[0].AddressType != discoveryv1.AddressTypeIPv4 || len(snap.Slices[0].Endpoints) != 2 {
		t.Errorf("Endpoints must be mirrored into one slice per family: %+v", snap.Slices)
	}
	if ready := snap.Slices[0].Endpoints[1].Conditions.Ready; ready == nil || *ready {
		t.Errorf("notReadyAddresses must become ready=false")
	}
	if snap.Nodes["n1"] == nil {
		t.Errorf("node n1 must be joined")
	}
	if len(snap.Warnings) == 0 || !strings.Contains(snap.Warnings[0], "Endpoints object") {
		t.Errorf("the conversion must be announced: %v", snap.Warnings)
	}
	if _, err := (&FileReader{Objects: objs}).Snapshot(context.Background(), "kube-system", "web"); err == nil || !strings.Contains(err.Error(), "use -n") {
		t.Errorf("ambiguous name must ask for -n, got %v", err)
	}
	if _, err := (&FileReader{Objects: objs}).Snapshot(context.Background(), "default", "web"); err != nil {
		t.Errorf("default namespace match: %v", err)
	}
	_, err = (&FileReader{Objects: objs, ExplicitNamespace: true}).Snapshot(context.Background(), "x", "nope")
	if !apierrors.IsNotFound(err) {
		t.Errorf("want NotFound, got %v", err)
	}
}

func TestReadFilesBadInputNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n")
	_, err := ReadFiles(FileSource{Filenames: []string{bad}})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error must name the file: %v", err)
	}
	_, err = ReadFiles(FileSource{Filenames: []string{filepath.Join(dir, "missing.yaml")}})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("error must name the missing file: %v", err)
	}
	wrong := writeFile(t, dir, "wrong.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: 7}\n")
	_, err = ReadFiles(FileSource{Filenames: []string{wrong}})
	if err == nil || !strings.Contains(err.Error(), "service/x") {
		t.Fatalf("error must name the object: %v", err)
	}
}
