package nodehelper

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestPodSpec(t *testing.T) {
	p := PodSpec("Node-1.example.com", Config{RequestedBy: "alice", Command: "kubectl svc-trace web --from pod/x"}, "abcde")
	if p.Name != "svc-trace-node-1-example-com-abcde" || p.Namespace != "kube-system" {
		t.Errorf("name %s/%s", p.Namespace, p.Name)
	}
	s := p.Spec
	c := s.Containers[0]
	checks := map[string]bool{
		"nodeName":               s.NodeName == "Node-1.example.com",
		"hostNetwork":            s.HostNetwork,
		"hostPID":                s.HostPID,
		"restartPolicy Never":    s.RestartPolicy == corev1.RestartPolicyNever,
		"tolerates everything":   len(s.Tolerations) == 1 && s.Tolerations[0].Operator == corev1.TolerationOpExists && s.Tolerations[0].Key == "",
		"no token":               s.AutomountServiceAccountToken != nil && !*s.AutomountServiceAccountToken,
		"deadline":               s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds == 600,
		"privileged":             c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged,
		"read-only root":         c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem,
		"limits":                 !c.Resources.Limits.Cpu().IsZero() && !c.Resources.Limits.Memory().IsZero(),
		"managed-by label":       p.Labels[ManagedByLabel] == ManagedByValue,
		"requested-by annotated": p.Annotations[RequestedByAnnot] == "alice" && strings.Contains(p.Annotations[CommandAnnot], "--from"),
		"writable /tmp":          len(c.VolumeMounts) == 1 && c.VolumeMounts[0].MountPath == "/tmp",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("pod spec: %s not as required", what)
		}
	}
	long := PodName(strings.Repeat("n", 300), "abcde")
	if len(long) > 63 || !strings.HasSuffix(long, "-abcde") {
		t.Errorf("long node name: %q (%d)", long, len(long))
	}
}

func TestScriptOnlyTakesAddresses(t *testing.T) {
	s := Script([]string{"10.0.0.1", "fd00::1", "$(reboot)", "1.2.3.4;rm"}, nil)
	if !strings.Contains(s, "for ip in 10.0.0.1 fd00::1; do") {
		t.Errorf("route targets not substituted: %s", s)
	}
	if strings.Contains(s, "reboot") || strings.Contains(s, ";rm") {
		t.Error("non-address target reached the script")
	}
}

// fakeExec plays the helper container: the collection command prints the
// trailer for archive, and cat prints served (which a test can cut).
type fakeExec struct {
	archive []byte
	served  []byte
	calls   []string
	block   bool
}

func (f *fakeExec) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdout, stderr io.Writer) error {
	f.calls = append(f.calls, cmd[0])
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if cmd[0] == "cat" {
		_, err := stdout.Write(f.served)
		return err
	}
	sum := sha256.Sum256(f.archive)
	fmt.Fprintf(stdout, "%d %x\n", len(f.archive), sum)
	return nil
}

func archive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
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

// runningOnCreate makes created pods look Running (or stuck, with the given
// waiting reason), as a kubelet would report.
func runningOnCreate(client *fake.Clientset, waiting string) {
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		cs := corev1.ContainerStatus{Name: containerName, Image: p.Spec.Containers[0].Image}
		switch waiting {
		case "":
			p.Status.Phase = corev1.PodRunning
			cs.State.Running = &corev1.ContainerStateRunning{}
		case "-":
			p.Status.Phase = corev1.PodPending
		default:
			p.Status.Phase = corev1.PodPending
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting, Message: "rpc error: not found"}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
		return false, nil, nil
	})
}

func helperPods(t *testing.T, client *fake.Clientset) int {
	t.Helper()
	l, err := client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + ManagedByValue})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

func TestCollect(t *testing.T) {
	files := map[string]string{"iptables-nft-save": "*nat\nCOMMIT\n", "iptables-nft-save.rc": "0\n", "route-get/10.0.0.1": `[{"dst":"10.0.0.1"}]`}
	a := archive(t, files)
	cases := []struct {
		name    string
		waiting string
		served  []byte
		block   bool
		timeout time.Duration
		wantErr string
	}{
		{name: "ok", served: a},
		{name: "truncated stream", served: a[:len(a)/2], wantErr: "truncated"},
		{name: "corrupted stream", served: append(append([]byte{}, a[:len(a)-1]...), a[len(a)-1]^0xff), wantErr: "corrupt"},
		{name: "image cannot be pulled", waiting: "ErrImagePull", wantErr: "cannot pull the helper image"},
		{name: "never starts: timeout", waiting: "-", timeout: 100 * time.Millisecond, wantErr: "deadline exceeded"},
		{name: "exec hangs: timeout", served: a, block: true, timeout: 100 * time.Millisecond, wantErr: "deadline exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := fake.NewClientset()
			runningOnCreate(client, c.waiting)
			ex := &fakeExec{archive: a, served: c.served, block: c.block}
			var phases []string
			h := &Helper{Client: client, Exec: ex, Config: Config{NameSuffix: func() string { return "x1" }},
				Progress: func(node, phase, detail string) { phases = append(phases, phase) }}
			ctx := context.Background()
			if c.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.timeout)
				defer cancel()
			}
			d, err := h.Collect(ctx, "node1", []string{"10.0.0.1"}, nil)
			if n := helperPods(t, client); n != 0 {
				t.Errorf("%d helper pods left behind", n)
			}
			if phases[len(phases)-1] != "deleted" {
				t.Errorf("last phase %v, want deleted", phases)
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("want error containing %q, got %v", c.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.File("iptables-nft-save") != files["iptables-nft-save"] || d.RC("iptables-nft-save") != 0 || d.File("route-get/10.0.0.1") == "" {
				t.Errorf("dump content: %v", d.Names())
			}
		})
	}
}

func TestCollectKeep(t *testing.T) {
	client := fake.NewClientset()
	runningOnCreate(client, "")
	a := archive(t, map[string]string{"meta": "x"})
	h := &Helper{Client: client, Exec: &fakeExec{archive: a, served: a}, Keep: true}
	if _, err := h.Collect(context.Background(), "node1", nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := helperPods(t, client); n != 1 {
		t.Errorf("--keep-helper: %d pods, want 1", n)
	}
	deleted, err := Cleanup(context.Background(), client, "")
	if err != nil || len(deleted) != 1 {
		t.Errorf("cleanup: %v %v", deleted, err)
	}
	if n := helperPods(t, client); n != 0 {
		t.Errorf("after cleanup: %d pods", n)
	}
}

func TestPodSecurityRejection(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "svc-trace-node1-x",
			errors.New(`violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true), privileged (container "helper" must not set securityContext.privileged=true)`))
	})
	h := &Helper{Client: client, Exec: &fakeExec{}, Config: Config{Namespace: "apps"}}
	_, err := h.Collect(context.Background(), "node1", nil, nil)
	var pse *ErrPodSecurity
	if !errors.As(err, &pse) || pse.Level != "baseline" || pse.Namespace != "apps" {
		t.Fatalf("want ErrPodSecurity(baseline, apps), got %v", err)
	}
	for _, want := range []string{`namespace "apps"`, `enforce level "baseline"`, "--helper-namespace", "privileged"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestCheckAccess(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		r.Status.Allowed = r.Spec.ResourceAttributes.Subresource != "exec"
		return true, r, nil
	})
	err := (&Helper{Client: client}).CheckAccess(context.Background())
	var np *ErrNoPermission
	if !errors.As(err, &np) || len(np.Missing) != 1 || np.Missing[0] != "create pods/exec" {
		t.Fatalf("want missing pods/exec, got %v", err)
	}
}

func TestSaveLoadDump(t *testing.T) {
	d := &Dump{Node: "node1", Pod: "svc-trace-node1-x", Files: map[string][]byte{"iptables-nft-save": []byte("*nat\n"), "route-get/10.0.0.1": []byte("[]")}}
	dir := t.TempDir()
	if _, err := d.Save(dir, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	got, err := LoadDumps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Node != "node1" || got[0].File("route-get/10.0.0.1") != "[]" || len(got[0].Files) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := LoadDumps(t.TempDir()); err == nil {
		t.Error("an empty directory must be an error")
	}
	bad := &Dump{Node: "n", Files: map[string][]byte{"../escape": nil}}
	if _, err := bad.Save(dir, time.Unix(0, 0)); err == nil {
		t.Error("a file name escaping the directory must be refused")
	}
}
