//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
)

// collectNS is where the lifecycle tests put their helper pods (privileged
// by default, as every namespace without Pod Security labels is), so that
// counting leftovers is not confused by other suites' helper pods.
const collectNS = "svct-e2e-collect"

// ensureCollectNS creates collectNS once.
func ensureCollectNS(t *testing.T) {
	t.Helper()
	out := kubectl(t, "create", "namespace", collectNS, "--dry-run=client", "-o", "yaml")
	f := filepath.Join(t.TempDir(), "ns.yaml")
	if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "apply", "-f", f)
	// Pods are admitted only once the namespace's default ServiceAccount
	// exists (the ServiceAccount admission plugin), even without a token.
	deadline := time.Now().Add(time.Minute)
	for strings.TrimSpace(kubectl(t, "get", "serviceaccounts", "-n", collectNS, "--ignore-not-found", "-o", "name")) == "" {
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default ServiceAccount after a minute", collectNS)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// helperPodsIn lists the helper pods in ns by the plugin's label selector.
func helperPodsIn(t *testing.T, ns string) []string {
	t.Helper()
	out := strings.TrimSpace(kubectl(t, "get", "pods", "-n", ns, "-l", nodehelper.Selector, "-o", "name"))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// runPluginEnv runs the plugin with extra environment (e.g. another
// KUBECONFIG) and returns its result.
func runPluginEnv(t *testing.T, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.plugin, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+env.kubeconfig, "NO_COLOR=1"), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	default:
		t.Fatalf("kubectl-svc_trace %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// TestCollect runs `collect` against node1 and checks the saved dump against
// what the node really does in the cluster's proxy mode: the KUBE-* rules or
// the `ip kube-proxy` nft table with the Services' addresses, kube-proxy's
// mode, the backend decision (nft, because the kubelet's hint chains are in
// the nft backend, as the harness pins it), the route to a pod naming the
// pod bridge, and no legacy table created. SVCT_RECORD_DUMPS=DIR also copies
// the dump to DIR/<proxy mode>/ (hack/record-node-dumps.sh).
func TestCollect(t *testing.T) {
	needPlugin(t)
	legacyBefore := legacyTables(t)
	out := t.TempDir()
	pods := podList(t, "app=ngx")
	if len(pods) == 0 {
		t.Fatal("no ngx pods")
	}
	podIP := pods[0].Status.PodIP
	r := runPluginEnv(t, nil, "collect", "--node", "node1", "-o", out, "--helper-image", helperImage)
	if r.exit != 0 {
		t.Fatalf("collect: exit %d\n%s", r.exit, r.stderr)
	}
	t.Logf("collect:\n%s%s", r.stdout, r.stderr)
	if !strings.Contains(r.stdout, "node1") || !strings.Contains(r.stdout, filepath.Join(out, "node1")) {
		t.Errorf("stdout does not list the saved node:\n%s", r.stdout)
	}
	for _, phase := range []string{"creating helper pod", "running", "collected", "deleted helper pod"} {
		if !strings.Contains(r.stderr, phase) {
			t.Errorf("stderr lacks progress %q:\n%s", phase, r.stderr)
		}
	}
	dumps, err := nodehelper.LoadDumps(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(dumps) != 1 || dumps[0].Node != "node1" {
		t.Fatalf("dumps: %v", dumps)
	}
	d := dumps[0]
	if got := d.ProxyMode(); got != env.proxyMode {
		t.Errorf("proxy mode %q, the cluster runs %q", got, env.proxyMode)
	}
	if b, why := d.Backend(); b != "nft" || !strings.Contains(why, "KUBE-IPTABLES-HINT") || !strings.Contains(why, "nft backend") {
		t.Errorf("backend %q (%s): want nft, decided by the kubelet's hint chains in the nft backend", b, why)
	}
	if fb := d.Fallbacks(); len(fb) != 0 {
		t.Errorf("the image's tools should read this node: fallbacks %+v", fb)
	}
	ip := clusterIP(t, "ngx-dep-svc", 0)
	switch env.proxyMode {
	case "nftables":
		tables := strings.Join(d.NftTables(), ",")
		if !strings.Contains(tables, "ip kube-proxy") {
			t.Errorf("no ip kube-proxy table among %s", tables)
		}
		js := d.File("nft/ip-kube-proxy.json")
		if d.RC("nft/ip-kube-proxy.json") != 0 || !strings.Contains(js, `"`+ip+`"`) || !strings.Contains(js, `"service-ips"`) {
			t.Errorf("nft/ip-kube-proxy.json lacks the service-ips map or ngx-dep-svc's %s:\n%.800s", ip, js)
		}
		if all, err := d.NftRuleset(); err != nil || !bytes.Contains(all, []byte(`"kube-proxy"`)) {
			t.Errorf("NftRuleset: %v", err)
		}
		if strings.Contains(d.File("iptables-nft-save"), ":KUBE-SVC-") {
			t.Errorf("nftables mode, yet iptables-nft-save holds KUBE-SVC chains")
		}
	default:
		ipt := d.File("iptables-nft-save")
		for _, want := range []string{":KUBE-SERVICES", ":KUBE-SVC-", ":KUBE-SEP-", "-d " + ip + "/32"} {
			if !strings.Contains(ipt, want) {
				t.Errorf("iptables-nft-save lacks %q", want)
			}
		}
		for _, t6 := range d.NftTables() {
			if strings.HasSuffix(t6, " nat") || strings.HasSuffix(t6, " filter") {
				t.Errorf("the iptables-nft table %s was dumped as nft JSON too", t6)
			}
		}
	}
	var hops []struct{ Dev, Prefsrc string }
	if err := json.Unmarshal(d.Files["route-get/"+podIP], &hops); err != nil || len(hops) != 1 || hops[0].Dev != "svctbr0" {
		t.Errorf("route-get/%s: %q (%v), want dev svctbr0", podIP, d.File("route-get/"+podIP), err)
	}
	for _, f := range []string{"helper-versions", "tools", "ip-addr.json", "ip-route.json", "nft-tables.json"} {
		if len(d.Files[f]) == 0 {
			t.Errorf("dump lacks %s", f)
		}
	}
	if !strings.Contains(d.File("helper-versions"), "iptables 1.8") || !strings.Contains(d.File("tools"), "iproute2") {
		t.Errorf("tools: %s\nversions: %s", d.File("tools"), d.File("helper-versions"))
	}
	if d.Info == nil || d.Info.KubeletVersion == "" || d.Pod == "" || d.Image != helperImage {
		t.Errorf("saved metadata: %+v %+v", d, d.Info)
	}
	if !strings.Contains(d.File("node-resolv.conf"), "nameserver") {
		t.Errorf("node-resolv.conf: %q", d.File("node-resolv.conf"))
	}
	t.Logf("the node's root and namespaces were reached through host-pid=%s", d.Meta()["host-pid"])
	if after := legacyTables(t); after != legacyBefore {
		t.Errorf("collect created iptables-legacy tables: before %q, after %q", legacyBefore, after)
	}
	if left := helperPodsLeft(t); left != "" {
		t.Errorf("helper pods left: %s", left)
	}
	if dir := os.Getenv("SVCT_RECORD_DUMPS"); dir != "" {
		dst := filepath.Join(dir, env.proxyMode)
		if err := os.RemoveAll(dst); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Save(dst, d.Collected); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded the dump in %s", dst)
	}
}

// TestCollectHostTools reads the same node with the node's own binaries
// (--helper-tools=host: nsenter into PID 1's mount namespace) and requires
// the fallback to be recorded and to see the same kube-proxy chains.
func TestCollectHostTools(t *testing.T) {
	needPlugin(t)
	out := t.TempDir()
	r := runPluginEnv(t, nil, "collect", "--node", "node1", "-o", out, "--helper-image", helperImage, "--helper-tools", "host")
	if r.exit != 0 {
		t.Fatalf("collect --helper-tools host: exit %d\n%s", r.exit, r.stderr)
	}
	dumps, err := nodehelper.LoadDumps(out)
	if err != nil {
		t.Fatal(err)
	}
	d := dumps[0]
	got := map[string]nodehelper.Fallback{}
	for _, fb := range d.Fallbacks() {
		got[fb.File] = fb
	}
	for _, f := range []string{"iptables-nft-save", "ip6tables-nft-save", "nft-tables.json"} {
		fb, ok := got[f]
		if !ok || fb.RC != 0 || !strings.Contains(fb.Reason, "--helper-tools=host") {
			t.Errorf("%s: fallback %+v (all: %q)", f, fb, d.File("tools-fallback"))
		}
	}
	if d.Meta()["tools"] != "host" {
		t.Errorf("meta tools=%q", d.Meta()["tools"])
	}
	if b, _ := d.Backend(); b != "nft" {
		t.Errorf("backend %q with the host's binaries", b)
	}
	if env.proxyMode != "nftables" && !strings.Contains(d.File("iptables-nft-save"), "-d "+clusterIP(t, "ngx-dep-svc", 0)+"/32") {
		t.Errorf("the host's iptables-nft-save lacks ngx-dep-svc's rules")
	}
	if env.proxyMode == "nftables" && !strings.Contains(d.File("nft/ip-kube-proxy.json"), "service-ips") {
		t.Errorf("the host's nft lacks the kube-proxy table")
	}
}

// TestCollectCleanup interrupts the compiled plugin at random points of the
// helper pod's life (SIGINT, and some SIGTERM) and lets --timeout expire at
// several lengths, and requires that no run leaves a helper pod behind: none
// right after the plugin exits (it deletes before exiting), none in the API
// after a generous deadline, and no helper container left on the node.
func TestCollectCleanup(t *testing.T) {
	needPlugin(t)
	ensureCollectNS(t)
	base := []string{"collect", "--node", "node1", "--helper-image", helperImage, "--helper-namespace", collectNS}

	// One undisturbed run gives the length of the helper's life here; the
	// interruptions are spread over that (at least 0.3 s), so that they land
	// in every phase rather than after the end.
	start := time.Now()
	if r := runPluginEnv(t, nil, append(base, "-o", t.TempDir())...); r.exit != 0 {
		t.Fatalf("warm-up collect: exit %d\n%s", r.exit, r.stderr)
	}
	life := time.Since(start)
	window := max(life, 300*time.Millisecond)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	t.Logf("helper life %v; signals at uniform random points in [0, %v] (seed %d)", life.Round(time.Millisecond), window.Round(time.Millisecond), seed)

	type run struct {
		what  string
		delay time.Duration
		sig   syscall.Signal
		args  []string
	}
	var runs []run
	for i := 0; i < 20; i++ {
		runs = append(runs, run{what: "SIGINT", delay: time.Duration(rng.Int64N(int64(window))), sig: syscall.SIGINT})
	}
	for i := 0; i < 4; i++ {
		runs = append(runs, run{what: "SIGTERM", delay: time.Duration(rng.Int64N(int64(window))), sig: syscall.SIGTERM})
	}
	for _, d := range []string{"1ms", "50ms", "200ms", "500ms", "1s", "2s"} {
		runs = append(runs, run{what: "--timeout " + d, args: []string{"--timeout", d}})
	}
	phases := map[string]int{}
	for i, rn := range runs {
		args := append(append(append([]string{}, base...), "-o", t.TempDir()), rn.args...)
		cmd := exec.Command(env.plugin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if rn.sig != 0 {
			select {
			case <-time.After(rn.delay):
				_ = cmd.Process.Signal(rn.sig)
			case err := <-done:
				done <- err
			}
		}
		var err error
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("run %d (%s): the plugin did not exit within 2 minutes\n%s", i, rn.what, stderr.String())
		}
		exit := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			exit = ee.ExitCode()
		}
		last := lastPhase(stderr.String())
		phases[last]++
		t.Logf("run %2d %-15s after %6v: exit %d, last progress %q", i, rn.what, rn.delay.Round(time.Millisecond), exit, last)
		switch {
		case exit == -1 && !strings.Contains(stderr.String(), "creating helper pod"):
			// A signal that arrives before the Go runtime has installed the
			// plugin's handler (its first milliseconds) kills it: harmless,
			// as it had not started creating a pod.
		case exit == 0:
			if !strings.Contains(stderr.String(), "deleted helper pod") {
				t.Errorf("run %d: finished without deleting its pod:\n%s", i, stderr.String())
			}
		case exit == 1:
			msg := stderr.String()
			if rn.sig != 0 && !strings.Contains(msg, "error: interrupted; the helper pods were deleted") && !strings.Contains(msg, "error: interrupted; no helper pod was created") {
				t.Errorf("run %d (%s): exit 1 without the interruption message:\n%s", i, rn.what, msg)
			}
			if rn.sig == 0 && !strings.Contains(msg, "expired; the helper pods were deleted") && !strings.Contains(msg, "expired; no helper pod was created") {
				t.Errorf("run %d (%s): exit 1 without the timeout message:\n%s", i, rn.what, msg)
			}
		default:
			t.Errorf("run %d (%s): exit %d (killed by the signal instead of handling it?)\n%s", i, rn.what, exit, stderr.String())
		}
		// The plugin deletes before it exits: nothing may be left, at once.
		if left := helperPodsIn(t, collectNS); len(left) != 0 {
			t.Errorf("run %d (%s): helper pods left right after exit: %v\n%s", i, rn.what, left, stderr.String())
		}
	}
	t.Logf("interruptions landed after these last progress events: %v", phases)

	// A generous deadline, then the node itself: no helper container may
	// still run there (the kubelet kills them once the pods are gone).
	deadline := time.Now().Add(2 * time.Minute)
	for len(helperPodsIn(t, collectNS)) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	if left := helperPodsIn(t, collectNS); len(left) != 0 {
		t.Errorf("helper pods left after 2 minutes: %v", left)
	}
	for {
		running := helperContainers(t)
		if len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("helper containers still running on the node: %v", running)
			break
		}
		time.Sleep(time.Second)
	}
}

// TestCollectKeepAndCleanup: --keep-helper (with --all-nodes) leaves the
// helper pod running after a successful collection, and `cleanup` finds it
// by its label and deletes it; a second cleanup finds nothing.
func TestCollectKeepAndCleanup(t *testing.T) {
	needPlugin(t)
	ensureCollectNS(t)
	out := t.TempDir()
	r := runPluginEnv(t, nil, "collect", "--all-nodes", "-o", out, "--helper-image", helperImage, "--helper-namespace", collectNS, "--keep-helper")
	if r.exit != 0 {
		t.Fatalf("collect --keep-helper: exit %d\n%s", r.exit, r.stderr)
	}
	if !strings.Contains(r.stderr, "kept helper pod "+collectNS+"/svc-trace-node1-") || strings.Contains(r.stderr, "deleted helper pod") {
		t.Errorf("progress does not say the pod was kept:\n%s", r.stderr)
	}
	kept := helperPodsIn(t, collectNS)
	if len(kept) != 1 {
		t.Fatalf("--keep-helper: %d helper pods, want 1: %v", len(kept), kept)
	}
	if phase := strings.TrimSpace(kubectl(t, "get", kept[0], "-n", collectNS, "-o", "jsonpath={.status.phase}")); phase != "Running" {
		t.Errorf("the kept pod is %s, want Running", phase)
	}
	if _, err := nodehelper.LoadDumps(out); err != nil {
		t.Errorf("--all-nodes saved nothing: %v", err)
	}
	r = runPluginEnv(t, nil, "cleanup", "--helper-namespace", collectNS)
	name := strings.TrimPrefix(kept[0], "pod/")
	if r.exit != 0 || r.stdout != "pod "+collectNS+"/"+name+" deleted\n" {
		t.Fatalf("cleanup: exit %d, stdout %q\n%s", r.exit, r.stdout, r.stderr)
	}
	if left := helperPodsIn(t, collectNS); len(left) != 0 {
		t.Errorf("after cleanup: %v", left)
	}
	r = runPluginEnv(t, nil, "cleanup", "--helper-namespace", collectNS)
	if r.exit != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No node helper pods found in namespace "+collectNS) {
		t.Errorf("second cleanup: exit %d, %q %q", r.exit, r.stdout, r.stderr)
	}
}

// lastPhase is the last lifecycle phase the plugin reported before it
// stopped ("" if none): where the interruption landed.
func lastPhase(stderr string) string {
	last := ""
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "svc-trace: [") {
			continue
		}
		if _, rest, ok := strings.Cut(sc.Text(), "node node1: "); ok {
			f := strings.Fields(rest)
			if len(f) > 0 && f[0] != "failed:" && f[0] != "deleted" {
				last = strings.TrimSuffix(f[0], ",")
			}
			if len(f) > 0 && f[0] == "deleted" && last == "collected" {
				last = "done"
			}
		}
	}
	return last
}

// helperContainers lists the node's running containers that belong to a
// helper pod, straight from containerd (the CRI labels the kubelet sets).
func helperContainers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ctr", "-a", "/run/svct/containerd/containerd.sock", "-n", "k8s.io", "containers", "ls").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr containers ls: %v\n%s", err, out)
	}
	tasks, err := exec.Command("ctr", "-a", "/run/svct/containerd/containerd.sock", "-n", "k8s.io", "tasks", "ls").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v\n%s", err, tasks)
	}
	running := map[string]bool{}
	for _, line := range strings.Split(string(tasks), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "RUNNING" {
			running[f[0]] = true
		}
	}
	var out2 []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 || !running[f[0]] {
			continue
		}
		info, err := exec.Command("ctr", "-a", "/run/svct/containerd/containerd.sock", "-n", "k8s.io", "containers", "info", f[0]).Output()
		if err == nil && bytes.Contains(info, []byte(`"io.kubernetes.pod.namespace": "`+collectNS+`"`)) {
			out2 = append(out2, f[0])
		}
	}
	return out2
}

// TestCollectPodSecurity: a namespace enforcing Pod Security baseline
// rejects the privileged helper; the plugin says where, at which level, and
// how to fix it, exits 1 and leaves nothing.
func TestCollectPodSecurity(t *testing.T) {
	needPlugin(t)
	if env.baselineNamespace == "" {
		t.Fatal("the cluster has no baseline namespace: bring it up with the current hack/cluster.sh (cluster-extras.sh)")
	}
	r := runPluginEnv(t, nil, "collect", "--node", "node1", "-o", t.TempDir(), "--helper-image", helperImage, "--helper-namespace", env.baselineNamespace)
	if r.exit != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.exit, r.stderr)
	}
	for _, want := range []string{`namespace "` + env.baselineNamespace + `"`, `enforce level "baseline"`, "privileged", "--helper-namespace",
		"kubectl label namespace " + env.baselineNamespace + " pod-security.kubernetes.io/enforce=privileged"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
	n := 0
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(line, "error: ") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("want exactly one error line, got %d:\n%s", n, r.stderr)
	}
	if left := helperPodsIn(t, env.baselineNamespace); len(left) != 0 {
		t.Errorf("pods in %s: %v", env.baselineNamespace, left)
	}
}

// TestCollectRestrictedUser: a user bound to read-only RBAC (no pods/create,
// no pods/exec) gets the typed permission error before anything is created.
func TestCollectRestrictedUser(t *testing.T) {
	needPlugin(t)
	if env.restrictedKubeconfig == "" {
		t.Fatal("the cluster has no restricted user: bring it up with the current hack/cluster.sh (cluster-extras.sh)")
	}
	since := time.Now().Add(-time.Second)
	r := runPluginEnv(t, []string{"KUBECONFIG=" + env.restrictedKubeconfig}, "collect", "--node", "node1", "-o", t.TempDir(), "--helper-image", helperImage)
	if r.exit != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.exit, r.stderr)
	}
	want := (&nodehelper.ErrNoPermission{Namespace: "kube-system", Missing: []string{"create pods", "delete pods", "create pods/exec"}}).Error()
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if strings.Contains(r.stderr, "creating helper pod") {
		t.Errorf("the plugin tried to create a pod without permission:\n%s", r.stderr)
	}
	// The API server's own record: the restricted user asked for reviews,
	// never for a pod.
	if _, err := os.Stat(env.auditLog); env.auditLog != "" && err == nil {
		time.Sleep(2 * time.Second)
		for _, e := range readAudit(t, env.auditLog, since) {
			if e.User.Username == "svct-restricted" && e.ObjectRef != nil && e.ObjectRef.Resource == "pods" && e.Verb != "get" && e.Verb != "list" {
				t.Errorf("the restricted user's plugin sent %s", e.what())
			}
		}
	}
}

// TestHelperImageTarball: `make helper-image` (hack/helper-image.sh) with a
// release-style reference writes a tarball containerd imports, and the
// plugin runs it through --helper-image.
func TestHelperImageTarball(t *testing.T) {
	needPlugin(t)
	ref := fmt.Sprintf("example.test/svctrace/node-helper:e2e-%d", os.Getpid())
	tarball := filepath.Join(t.TempDir(), "node-helper.tar")
	cmd := exec.Command(filepath.Join(env.repo, "hack", "helper-image.sh"), tarball)
	cmd.Env = append(os.Environ(), "HELPER_IMAGE_REF="+ref)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hack/helper-image.sh: %v\n%s", err, stderr.String())
	}
	if strings.TrimSpace(stdout.String()) != ref {
		t.Fatalf("helper-image.sh printed %q, want the reference %q", stdout.String(), ref)
	}
	sock := "/run/svct/containerd/containerd.sock"
	if out, err := exec.Command("ctr", "-a", sock, "-n", "k8s.io", "images", "import", tarball).CombinedOutput(); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ctr", "-a", sock, "-n", "k8s.io", "images", "rm", ref).Run() })
	out := t.TempDir()
	r := runPluginEnv(t, nil, "collect", "--node", "node1", "-o", out, "--helper-image", ref)
	if r.exit != 0 {
		t.Fatalf("collect --helper-image %s: exit %d\n%s", ref, r.exit, r.stderr)
	}
	dumps, err := nodehelper.LoadDumps(out)
	if err != nil || dumps[0].Image != ref || dumps[0].ProxyMode() != env.proxyMode {
		t.Fatalf("dump: %v %+v", err, dumps)
	}
}

// auditEvent is the part of an audit.k8s.io/v1 Event the audit test reads.
type auditEvent struct {
	Stage     string `json:"stage"`
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	User      struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	RequestURI     string `json:"requestURI"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceived time.Time `json:"requestReceivedTimestamp"`
}

func (e auditEvent) what() string {
	if e.ObjectRef == nil {
		return e.Verb + " " + e.RequestURI
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	if e.ObjectRef.APIGroup != "" {
		r = e.ObjectRef.APIGroup + "/" + r
	}
	return e.Verb + " " + r
}

// TestAuditPluginWrites reads the API server's audit log after a successful
// collect, an interrupted one (--timeout) and a rejected one (Pod Security),
// and requires that the plugin's only writes (events with its user agent,
// kubectl-svc-trace/…) were the creation and deletion of its own helper pods
// and the exec into them, plus the SelfSubjectAccessReviews of its
// permission check (a "create" that stores nothing). Every helper pod it
// created, it deleted. It also counts the requests one collect costs.
//
// The runs impersonate a user of their own (in group system:masters), so
// their events are told apart from anything else on the shared cluster,
// other suites' plugin runs included.
func TestAuditPluginWrites(t *testing.T) {
	needPlugin(t)
	ensureCollectNS(t)
	if env.auditLog == "" {
		t.Fatal("no audit log configured: bring the cluster up with the current hack/cluster.sh")
	}
	if _, err := os.Stat(env.auditLog); err != nil {
		t.Fatalf("audit log: %v (the cluster predates the audit configuration: restart it)", err)
	}
	since := time.Now().Add(-time.Second)
	user := fmt.Sprintf("svct-audit-%d", os.Getpid())
	common := []string{"collect", "--node", "node1", "--helper-image", helperImage, "--as", user, "--as-group", "system:masters"}
	if r := runPluginEnv(t, nil, append(common, "-o", t.TempDir(), "--helper-namespace", collectNS)...); r.exit != 0 {
		t.Fatalf("collect: exit %d\n%s", r.exit, r.stderr)
	}
	okEnd := time.Now()
	runPluginEnv(t, nil, append(common, "-o", t.TempDir(), "--helper-namespace", collectNS, "--timeout", "300ms")...)
	if env.baselineNamespace != "" {
		runPluginEnv(t, nil, append(common, "-o", t.TempDir(), "--helper-namespace", env.baselineNamespace)...)
	}
	time.Sleep(2 * time.Second) // the audit backend writes asynchronously

	var events []auditEvent
	for _, e := range readAudit(t, env.auditLog, since) {
		if e.ImpersonatedUser != nil && e.ImpersonatedUser.Username == user {
			events = append(events, e)
		}
	}
	if len(events) == 0 {
		t.Fatalf("no audit events with the plugin's user agent since %v in %s", since, env.auditLog)
	}
	writes := map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}
	created, deleted := map[string]bool{}, map[string]bool{}
	var firstRun []string
	for _, e := range events {
		if e.RequestReceived.Before(okEnd) {
			firstRun = append(firstRun, e.what())
		}
		isExec := e.ObjectRef != nil && e.ObjectRef.Resource == "pods" && e.ObjectRef.Subresource == "exec"
		if !writes[e.Verb] && !isExec {
			continue
		}
		ref := e.ObjectRef
		switch {
		case ref == nil:
			t.Errorf("write without an object: %s %s", e.Verb, e.RequestURI)
		case ref.APIGroup == "authorization.k8s.io" && ref.Resource == "selfsubjectaccessreviews" && e.Verb == "create":
			// The permission check: reviewed, never stored.
		case ref.Resource == "pods" && ref.Subresource == "" && strings.HasPrefix(ref.Name, "svc-trace-node1-") && e.Verb == "create":
			if e.ResponseStatus != nil && e.ResponseStatus.Code == 201 {
				created[ref.Namespace+"/"+ref.Name] = true
			}
		case ref.Resource == "pods" && ref.Subresource == "" && strings.HasPrefix(ref.Name, "svc-trace-node1-") && e.Verb == "delete":
			deleted[ref.Namespace+"/"+ref.Name] = true
		case isExec && strings.HasPrefix(ref.Name, "svc-trace-node1-"):
			// The collection itself (GET over WebSocket, POST over SPDY).
		default:
			t.Errorf("unexpected write by the plugin: %s %s/%s (%s)", e.what(), ref.Namespace, ref.Name, e.RequestURI)
		}
		if ref != nil && ref.Resource == "pods" && ref.Namespace != collectNS && ref.Namespace != env.baselineNamespace && ref.Namespace != "kube-system" {
			t.Errorf("the plugin touched pods in namespace %s", ref.Namespace)
		}
	}
	for p := range created {
		if strings.HasPrefix(p, collectNS+"/") && !deleted[p] {
			t.Errorf("helper pod %s was created but never deleted", p)
		}
	}
	if len(created) < 2 {
		t.Errorf("expected at least 2 helper pods created in the window, saw %v", created)
	}
	sort.Strings(firstRun)
	t.Logf("one collect = %d API requests: %s", len(firstRun), strings.Join(firstRun, ", "))
	// SSAR ×3, get node, list EndpointSlices, create, watch, exec, delete.
	if len(firstRun) > 10 {
		t.Errorf("one collect of one node took %d requests", len(firstRun))
	}
	t.Logf("helper pods created %d, deleted %d; %d plugin events in all", len(created), len(deleted), len(events))
}

// readAudit returns the ResponseComplete events sent with the plugin's user
// agent since the given time.
func readAudit(t *testing.T, path string, since time.Time) []auditEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"kubectl-svc-trace/`)) {
			continue
		}
		var e auditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("audit log line: %v", err)
		}
		if e.Stage == "ResponseComplete" && strings.HasPrefix(e.UserAgent, "kubectl-svc-trace/") && !e.RequestReceived.Before(since) {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
