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
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	s := Script(ScriptParams{RouteTargets: []string{"10.0.0.1", "fd00::1", "$(reboot)", "1.2.3.4;rm", "10.0.0.1", "::ffff:10.0.0.2", "fe80::1%eth0"}})
	if !strings.Contains(s, "ROUTE_TARGETS='10.0.0.1 fd00::1 10.0.0.2'\n") {
		t.Errorf("route targets not substituted: %s", s[:200])
	}
	if strings.Contains(s, "reboot") || strings.Contains(s, ";rm") || strings.Contains(s, "%eth0") {
		t.Error("non-address target reached the script")
	}
	for _, c := range []struct {
		tools Tools
		want  string
	}{{"", "TOOLS=auto\n"}, {ToolsHost, "TOOLS=host\n"}, {ToolsImage, "TOOLS=image\n"}, {"$(x)", "TOOLS=auto\n"}} {
		if s := Script(ScriptParams{Tools: c.tools}); !strings.HasPrefix(s, c.want) {
			t.Errorf("tools %q: script starts %q", c.tools, s[:20])
		}
	}
}

func TestParseTools(t *testing.T) {
	for in, want := range map[string]Tools{"": ToolsAuto, "auto": ToolsAuto, "image": ToolsImage, "host": ToolsHost} {
		if got, err := ParseTools(in); err != nil || got != want {
			t.Errorf("ParseTools(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseTools("nsenter"); err == nil {
		t.Error("ParseTools accepted an unknown mode")
	}
}

// fakeExec plays the helper container: it writes served on stdout and the
// trailer for archive on stderr, as the collection script does; a test can
// cut served or make the exec hang.
type fakeExec struct {
	archive []byte
	served  []byte
	calls   int
	block   bool
	fail    error
}

func (f *fakeExec) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdout, stderr io.Writer) error {
	f.calls++
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.fail != nil {
		fmt.Fprintln(stderr, "cannot write /tmp/svc-trace (the pod needs a writable /tmp)")
		return f.fail
	}
	if _, err := stdout.Write(f.served); err != nil {
		return err
	}
	sum := sha256.Sum256(f.archive)
	fmt.Fprintf(stderr, "svc-trace-archive %d %x\n", len(f.archive), sum)
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
		fail    error
		timeout time.Duration
		wantErr string
	}{
		{name: "ok", served: a},
		{name: "truncated stream", served: a[:len(a)/2], wantErr: "truncated"},
		{name: "corrupted stream", served: append(append([]byte{}, a[:len(a)-1]...), a[len(a)-1]^0xff), wantErr: "corrupt"},
		{name: "image cannot be pulled", waiting: "ErrImagePull", wantErr: "cannot pull the helper image"},
		{name: "never starts: timeout", waiting: "-", timeout: 100 * time.Millisecond, wantErr: "deadline exceeded"},
		{name: "exec hangs: timeout", served: a, block: true, timeout: 100 * time.Millisecond, wantErr: "deadline exceeded"},
		{name: "script fails", served: a, fail: errors.New("command terminated with exit code 90"), wantErr: "needs a writable /tmp"},
		{name: "not an archive", served: []byte("hello"), wantErr: "not a gzip archive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := fake.NewClientset()
			runningOnCreate(client, c.waiting)
			ex := &fakeExec{archive: a, served: c.served, block: c.block, fail: c.fail}
			if c.name == "not an archive" {
				ex.archive = c.served
			}
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
	d := &Dump{Node: "node1", Pod: "svc-trace-node1-x", Files: map[string][]byte{"iptables-nft-save": []byte("*nat\n"), "route-get/10.0.0.1": []byte("[]"), "route-get/fd00::1%x": []byte("[6]")}}
	dir := t.TempDir()
	if _, err := d.Save(dir, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	got, err := LoadDumps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Node != "node1" || got[0].File("route-get/10.0.0.1") != "[]" || got[0].File("route-get/fd00::1%x") != "[6]" || len(got[0].Files) != 3 {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "node1", "route-get", "fd00%3A%3A1%25x")); err != nil {
		t.Errorf("a ':' reached a saved file name (Windows and Go module zips refuse it): %v", err)
	}
	if _, err := LoadDumps(t.TempDir()); err == nil {
		t.Error("an empty directory must be an error")
	}
	if _, err := d.Save(dir, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "already holds files") {
		t.Errorf("saving over an existing dump: %v", err)
	}
	d2 := &Dump{Node: "node2", Image: "img:v1", Namespace: "kube-system", Elapsed: 1500 * time.Millisecond, ArchiveBytes: 42,
		Info:  &NodeInfo{Addresses: []string{"InternalIP=10.0.0.2"}, KubeletVersion: "v1.36.3"},
		Files: map[string][]byte{"proxy-mode": []byte("iptables\n"), "proxy-mode.rc": []byte("0\n"), "iptables-backend": []byte("nft why\n")}}
	if _, err := d2.Save(dir, time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	got, err = LoadDumps(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("two nodes: %v %v", got, err)
	}
	g := got[1]
	if g.Node != "node2" || g.Image != "img:v1" || g.Namespace != "kube-system" || g.Elapsed != 1500*time.Millisecond || g.ArchiveBytes != 42 ||
		g.Info == nil || g.Info.KubeletVersion != "v1.36.3" || !g.Collected.Equal(time.Unix(100, 0)) || g.ProxyMode() != "iptables" {
		t.Errorf("metadata round trip: %+v %+v", g, g.Info)
	}
	if one, err := LoadDumps(filepath.Join(dir, "node2")); err != nil || len(one) != 1 || one[0].Node != "node2" {
		t.Errorf("loading one node's directory: %v %v", one, err)
	}
	bad := &Dump{Node: "n", Files: map[string][]byte{"../escape": nil}}
	if _, err := bad.Save(dir, time.Unix(0, 0)); err == nil {
		t.Error("a file name escaping the directory must be refused")
	}
}

// A Create that the API server stored but whose answer the client never
// got (ctx cancelled by SIGINT mid-request) must not leave the pod behind.
func TestCollectCreateCutShort(t *testing.T) {
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if err := client.Tracker().Create(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, p, p.Namespace); err != nil {
			t.Fatal(err)
		}
		cancel()
		return true, nil, context.Canceled
	})
	h := &Helper{Client: client, Exec: &fakeExec{}, Config: Config{NameSuffix: func() string { return "cut01" }}}
	if _, err := h.Collect(ctx, "node1", nil, nil); err == nil {
		t.Fatal("want an error")
	}
	if n := helperPods(t, client); n != 0 {
		t.Errorf("%d helper pods left after a create cut short", n)
	}
}

func TestCollectAll(t *testing.T) {
	files := map[string]string{"meta": "hostname=x\n", "proxy-mode": "iptables"}
	a := archive(t, files)
	t.Run("bounded concurrency, one node failing", func(t *testing.T) {
		client := fake.NewClientset()
		runningOnCreate(client, "")
		ex := &countingExec{fakeExec: fakeExec{archive: a, served: a}, failPod: "svc-trace-bad-"}
		h := &Helper{Client: client, Exec: ex, Concurrency: 2}
		nodes := []string{"n1", "n2", "bad", "n4", "n5", "n6"}
		dumps, err := h.CollectAll(context.Background(), nodes, nil, nil)
		var ne *NodesError
		if !errors.As(err, &ne) || len(ne.Errs) != 1 || ne.Errs["bad"] == nil || !strings.Contains(err.Error(), "bad:") {
			t.Fatalf("want a NodesError for node bad, got %v", err)
		}
		for i, d := range dumps {
			if (d == nil) != (nodes[i] == "bad") || d != nil && d.Node != nodes[i] {
				t.Errorf("dump %d: %+v", i, d)
			}
		}
		if ex.max > 2 || ex.max < 1 {
			t.Errorf("%d helpers ran at once, limit 2", ex.max)
		}
		if n := helperPods(t, client); n != 0 {
			t.Errorf("%d helper pods left", n)
		}
	})
	t.Run("Pod Security stops every node", func(t *testing.T) {
		client := fake.NewClientset()
		client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New(`violates PodSecurity "restricted:latest": privileged`))
		})
		h := &Helper{Client: client, Exec: &fakeExec{}, Concurrency: 1}
		_, err := h.CollectAll(context.Background(), []string{"n1", "n2", "n3"}, nil, nil)
		var pse *ErrPodSecurity
		if !errors.As(err, &pse) || pse.Level != "restricted" {
			t.Fatalf("want one ErrPodSecurity, got %v", err)
		}
		var ne *NodesError
		if errors.As(err, &ne) {
			t.Errorf("a failure common to all nodes came back per node: %v", err)
		}
	})
}

// countingExec records how many execs run at once and fails one pod.
type countingExec struct {
	fakeExec
	mu       sync.Mutex
	now, max int
	failPod  string
}

func (c *countingExec) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdout, stderr io.Writer) error {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
	time.Sleep(20 * time.Millisecond)
	if strings.HasPrefix(pod, c.failPod) {
		return errors.New("command terminated with exit code 1")
	}
	if _, err := stdout.Write(c.served); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "svc-trace-archive %d %x\n", len(c.archive), sha256.Sum256(c.archive))
	return nil
}

func TestParseTrailer(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	cases := []struct {
		stderr  string
		size    int64
		wantErr string
	}{
		{stderr: "svc-trace-archive 123 " + sum + "\n", size: 123},
		{stderr: "some warning\nsvc-trace-archive 5 " + sum + "\nlegacy-after:\n", size: 5},
		{stderr: "", wantErr: "did not finish"},
		{stderr: "packing the dump failed\n", wantErr: "did not finish"},
		{stderr: "svc-trace-archive x " + sum, wantErr: "bad size"},
		{stderr: "svc-trace-archive -1 " + sum, wantErr: "bad size"},
		{stderr: "svc-trace-archive 5 abc", wantErr: "bad collection trailer"},
		{stderr: "svc-trace-archive 5 " + strings.Repeat("zz", 32), wantErr: "bad checksum"},
	}
	for _, c := range cases {
		n, s, err := parseTrailer(c.stderr)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: want error %q, got %v", c.stderr, c.wantErr, err)
			}
			continue
		}
		if err != nil || n != c.size || s != sum {
			t.Errorf("%q: %d %s %v", c.stderr, n, s, err)
		}
	}
}

func TestUntarRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../etc/passwd", "/etc/passwd", "a/../../b"} {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte("x"))
		_ = tw.Close()
		_ = zw.Close()
		if _, err := untar(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "escapes") {
			t.Errorf("%s: want an escape error, got %v", name, err)
		}
	}
}

func TestDumpAccessors(t *testing.T) {
	d := &Dump{Node: "node1", Files: map[string][]byte{
		"proxy-mode":       []byte("nftables"),
		"proxy-mode.rc":    []byte("0\n"),
		"iptables-backend": []byte("nft kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY chains are in the nft backend's mangle table; KUBE-* chains: nft=10 legacy=0\n"),
		"meta":             []byte("hostname=node1\nkernel=6.1\nfallbacks=1\n"),
		"tools-fallback":   []byte("iptables-nft-save host rc=0 cmd=iptables-nft-save reason=image tool rc=0: # Table `nat' is incompatible, use 'nft' tool.\n"),
	}}
	if d.ProxyMode() != "nftables" {
		t.Errorf("ProxyMode %q", d.ProxyMode())
	}
	if b, why := d.Backend(); b != "nft" || !strings.HasPrefix(why, "kubelet's") {
		t.Errorf("Backend %q %q", b, why)
	}
	if m := d.Meta(); m["hostname"] != "node1" || m["fallbacks"] != "1" {
		t.Errorf("Meta %v", m)
	}
	fb := d.Fallbacks()
	if len(fb) != 1 || fb[0].File != "iptables-nft-save" || fb[0].RC != 0 || fb[0].Cmd != "iptables-nft-save" || !strings.Contains(fb[0].Reason, "incompatible") {
		t.Errorf("Fallbacks %+v", fb)
	}
	d.Files["proxy-mode.rc"] = []byte("1\n")
	if d.ProxyMode() != "" {
		t.Error("a failed /proxyMode read must give no mode")
	}
}
