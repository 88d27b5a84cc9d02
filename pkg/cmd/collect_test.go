package cmd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
)

// recordedDump is node1's dump recorded from the harness cluster by
// hack/record-node-dumps.sh (kube-proxy in nftables mode).
const recordedDump = "../nodehelper/testdata/dumps/nftables"

func TestCollectFlags(t *testing.T) {
	existing := t.TempDir()
	if err := os.MkdirAll(filepath.Join(existing, "node1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(existing, "node1", "meta"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(existing, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := CollectFlags{Nodes: []string{"node1"}, OutDir: t.TempDir(), HelperNamespace: "kube-system", HelperImage: "img:v1", HelperTools: "auto", Timeout: time.Minute, Concurrency: 4}
	cases := []struct {
		name    string
		edit    func(f *CollectFlags)
		wantErr string
	}{
		{"valid", func(*CollectFlags) {}, ""},
		{"no node", func(f *CollectFlags) { f.Nodes = nil }, "give --node NODE"},
		{"node and all", func(f *CollectFlags) { f.AllNodes = true }, "cannot be combined"},
		{"no output", func(f *CollectFlags) { f.OutDir = "" }, "give -o DIR"},
		{"negative timeout", func(f *CollectFlags) { f.Timeout = -time.Second }, "invalid --timeout"},
		{"zero concurrency", func(f *CollectFlags) { f.Concurrency = 0 }, "--max-concurrent-nodes"},
		{"bad tools", func(f *CollectFlags) { f.HelperTools = "chroot" }, "invalid --helper-tools"},
		{"bad route target", func(f *CollectFlags) { f.RouteTo = []string{"10.0.0.1;reboot"} }, "invalid --route-to"},
		{"bad conntrack target", func(f *CollectFlags) { f.ConntrackFor = []string{"web"} }, "invalid --conntrack-for"},
		{"node with a slash", func(f *CollectFlags) { f.Nodes = []string{"../etc"} }, "invalid --node"},
		{"dump already there", func(f *CollectFlags) { f.OutDir = existing }, "already holds files"},
		{"output is a file", func(f *CollectFlags) { f.OutDir = file }, "not a directory"},
		{"empty namespace", func(f *CollectFlags) { f.HelperNamespace = "" }, "--helper-namespace"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := ok
			f.ConfigFlags = genericclioptions.NewConfigFlags(false)
			c.edit(&f)
			o, err := f.ToOptions(genericiooptions.NewTestIOStreamsDiscard())
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if o.Helper.Tools != nodehelper.ToolsAuto || o.Helper.Namespace != "kube-system" || o.Helper.ActiveDeadline < o.Timeout {
					t.Errorf("options: %+v", o.Helper)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("want error %q, got %v", c.wantErr, err)
			}
		})
	}
}

// dumpExec plays the helper container with a recorded dump: the archive on
// stdout, the trailer on stderr, as the collection script does. It keeps
// the scripts it was asked to run.
type dumpExec struct {
	archive []byte
	scripts []string
}

func (e *dumpExec) Exec(_ context.Context, _, _, _ string, cmd []string, stdout, stderr io.Writer) error {
	e.scripts = append(e.scripts, cmd[len(cmd)-1])
	if _, err := stdout.Write(e.archive); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "svc-trace-archive %d %x\n", len(e.archive), sha256.Sum256(e.archive))
	return nil
}

func archiveOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: "./" + n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeCluster is node1 with a Ready status, one EndpointSlice, and a kubelet
// that starts every pod at once; allow says whether SelfSubjectAccessReviews
// allow.
func fakeCluster(allow bool) *fake.Clientset {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"},
		Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.250.0.10"}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.36.3"}}}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Namespace: "default"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.7"}}, {Addresses: []string{"10.244.0.5"}}}}
	client := fake.NewClientset(node, slice)
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		r.Status.Allowed = allow
		return true, r, nil
	})
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "helper", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return false, nil, nil
	})
	return client
}

// TestCollectRun saves, byte for byte, what the helper sent (a dump
// recorded from the real cluster), with the node's metadata, lists it on
// stdout, reports progress on stderr and asks the node for the route to
// every endpoint in the cluster.
func TestCollectRun(t *testing.T) {
	recorded, err := nodehelper.LoadDumps(recordedDump)
	if err != nil {
		t.Fatal(err)
	}
	ex := &dumpExec{archive: archiveOf(t, recorded[0].Files)}
	client := fakeCluster(true)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	f := CollectFlags{ConfigFlags: genericclioptions.NewConfigFlags(false), Nodes: []string{"node1"}, OutDir: out,
		HelperNamespace: "kube-system", HelperImage: "localhost/svctrace/node-helper:v1", HelperTools: "auto", Timeout: time.Minute, Concurrency: 2}
	o, err := f.ToOptions(genericiooptions.IOStreams{Out: &stdout, ErrOut: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	o.connect = func() (kubernetes.Interface, nodehelper.Executor, error) { return client, ex, nil }
	if err := o.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	saved, err := nodehelper.LoadDumps(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || len(saved[0].Files) != len(recorded[0].Files) {
		t.Fatalf("saved %d dumps, %d files; recorded %d files", len(saved), len(saved[0].Files), len(recorded[0].Files))
	}
	for name, want := range recorded[0].Files {
		if !bytes.Equal(saved[0].Files[name], want) {
			t.Errorf("%s differs from what the helper sent", name)
		}
	}
	s := saved[0]
	if s.Info == nil || s.Info.KubeletVersion != "v1.36.3" || s.Info.Addresses[0] != "InternalIP=10.250.0.10" || s.Image != "localhost/svctrace/node-helper:v1" || s.Namespace != "kube-system" {
		t.Errorf("saved metadata: %+v %+v", s, s.Info)
	}
	if s.ProxyMode() != "nftables" {
		t.Errorf("proxy mode %q", s.ProxyMode())
	}
	if len(ex.scripts) != 1 || !strings.Contains(ex.scripts[0], "ROUTE_TARGETS='10.244.0.5 10.244.0.7'") {
		t.Errorf("route targets not every endpoint address: %.200s", ex.scripts)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NODE") || !strings.HasPrefix(lines[1], "node1") ||
		!strings.Contains(lines[1], filepath.Join(out, "node1")) || !strings.Contains(lines[1], "nftables") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	for _, want := range []string{"node node1: creating helper pod kube-system/svc-trace-node1-", "node node1: running, collecting", "node node1: collected", "node node1: deleted helper pod"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if pods, _ := client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{}); len(pods.Items) != 0 {
		t.Errorf("%d pods left", len(pods.Items))
	}
}

func TestCollectNoPermission(t *testing.T) {
	client := fakeCluster(false)
	var stderr bytes.Buffer
	f := CollectFlags{ConfigFlags: genericclioptions.NewConfigFlags(false), Nodes: []string{"node1"}, OutDir: t.TempDir(),
		HelperNamespace: "kube-system", HelperImage: "img:v1", Concurrency: 1}
	o, err := f.ToOptions(genericiooptions.IOStreams{Out: io.Discard, ErrOut: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	o.connect = func() (kubernetes.Interface, nodehelper.Executor, error) { return client, &dumpExec{}, nil }
	err = o.Run(context.Background())
	var np *nodehelper.ErrNoPermission
	if !errors.As(err, &np) || len(np.Missing) != 3 {
		t.Fatalf("want ErrNoPermission for create/delete/exec, got %v", err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			t.Errorf("a pod was created without permission")
		}
	}
}

func TestCleanupCommand(t *testing.T) {
	helper := func(ns, name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			nodehelper.ManagedByLabel: nodehelper.ManagedByValue, nodehelper.ComponentLabel: nodehelper.ComponentValue}}}
	}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "kube-system", Labels: map[string]string{"app": "web"}}}
	cases := []struct {
		name    string
		args    []string
		want    string
		left    int
		wantErr string
	}{
		{"default namespace", nil, "pod kube-system/svc-trace-node1-aaaaa deleted\n", 2, ""},
		{"other namespace", []string{"--helper-namespace", "tools"}, "pod tools/svc-trace-node2-bbbbb deleted\n", 2, ""},
		{"all namespaces", []string{"-A"}, "pod kube-system/svc-trace-node1-aaaaa deleted\npod tools/svc-trace-node2-bbbbb deleted\n", 1, ""},
		{"both", []string{"-A", "--helper-namespace", "tools"}, "", 3, "cannot be combined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := fake.NewClientset(helper("kube-system", "svc-trace-node1-aaaaa"), helper("tools", "svc-trace-node2-bbbbb"), other)
			var stdout, stderr bytes.Buffer
			streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}
			f := &CleanupFlags{ConfigFlags: genericclioptions.NewConfigFlags(false)}
			fs := pflag.NewFlagSet("cleanup", pflag.ContinueOnError)
			f.AddFlags(fs)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			o, err := f.ToOptions(fs, streams)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("want %q, got %v", c.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o.connect = func() (kubernetes.Interface, error) { return client, nil }
			if err := o.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if stdout.String() != c.want {
				t.Errorf("stdout %q, want %q", stdout.String(), c.want)
			}
			pods, _ := client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
			if len(pods.Items) != c.left {
				t.Errorf("%d pods left, want %d", len(pods.Items), c.left)
			}
			// Running again finds nothing and says so on stderr.
			stdout.Reset()
			if err := o.Run(context.Background()); err != nil || stdout.Len() != 0 || !strings.Contains(stderr.String(), "No node helper pods found") {
				t.Errorf("second run: %v %q %q", err, stdout.String(), stderr.String())
			}
		})
	}
}
