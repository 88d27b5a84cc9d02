//go:build linux

// Package dnscluster checks pkg/dnssim's CoreDNS model against the real
// CoreDNS (built from the release module by hack/coredns.sh, running as the
// harness cluster's DNS with kubeadm's Corefile), and `svc-trace dns --live`
// and `--exec` against the real cluster. See README.md in test/dns.
//
// It needs the harness cluster up (hack/cluster.sh up); it applies the seed
// scenarios, CoreDNS and its own objects itself (all idempotent). Run it with
// hack/dns-cluster.sh (brings a cluster up and down for itself), or by hand:
//
//	SVCTRACE_DNS_CLUSTER=1 go test ./test/dns/cluster/ -count=1 -v
package dnscluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	svccmd "github.com/svctrace/kubectl-svc-trace/pkg/cmd"
	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

const enableEnv = "SVCTRACE_DNS_CLUSTER"

// env is what setup prepared; written once under setupOnce, then only read.
type env struct {
	repo       string
	kubeconfig string
	kubectl    string
	dual       bool
	client     kubernetes.Interface
	err        error
}

var (
	setupOnce sync.Once
	shared    env
)

// cluster returns the prepared cluster, skipping loudly when the suite is not
// enabled and failing when it is enabled but the cluster cannot be prepared.
func cluster(t *testing.T) *env {
	t.Helper()
	if os.Getenv(enableEnv) != "1" {
		t.Skipf("SKIPPED model-vs-real-CoreDNS suite: set %s=1 with the harness cluster up (hack/cluster.sh up), or run hack/dns-cluster.sh", enableEnv)
	}
	setupOnce.Do(func() { shared = prepare() })
	if shared.err != nil {
		t.Fatalf("preparing the cluster: %v", shared.err)
	}
	return &shared
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// run runs a command with the cluster's KUBECONFIG and kubectl on PATH.
func (e *env) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig, "PATH="+filepath.Dir(e.kubectl)+":"+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func prepare() env {
	e := env{repo: repoRoot()}
	if os.Geteuid() != 0 {
		e.err = fmt.Errorf("%s=1 but not root: CoreDNS is imported into the harness's containerd and queried through kube-proxy from the node", enableEnv)
		return e
	}
	out, err := exec.Command(filepath.Join(e.repo, "hack", "cluster.sh"), "env").Output()
	if err != nil {
		e.err = fmt.Errorf("hack/cluster.sh env: %v", err)
		return e
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "export KUBECONFIG="); ok {
			e.kubeconfig = v
		}
		if v, ok := strings.CutPrefix(line, "export PATH="); ok {
			dir, _, _ := strings.Cut(v, ":")
			e.kubectl = filepath.Join(dir, "kubectl")
		}
	}
	clusterEnv, err := os.ReadFile(filepath.Join(stateRoot(), "run", "cluster.env"))
	if err != nil {
		e.err = fmt.Errorf("the harness cluster is not up (%v): run hack/cluster.sh up, or hack/dns-cluster.sh", err)
		return e
	}
	e.dual = strings.Contains(string(clusterEnv), "SVCT_IP_FAMILY=dual")
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		e.err = err
		return e
	}
	if e.client, err = kubernetes.NewForConfig(cfg); err != nil {
		e.err = err
		return e
	}
	steps := []struct {
		what string
		args []string
	}{
		{"hack/scenarios.sh apply", []string{filepath.Join(e.repo, "hack", "scenarios.sh"), "apply"}},
		{"hack/coredns.sh apply", []string{filepath.Join(e.repo, "hack", "coredns.sh"), "apply"}},
		{"kubectl apply -f test/dns/cluster/manifests", []string{e.kubectl, "apply", "-f", filepath.Join(e.repo, "test", "dns", "cluster", "manifests")}},
	}
	for _, s := range steps {
		logf("%s", s.what)
		if out, err := e.run(10*time.Minute, s.args[0], s.args[1:]...); err != nil {
			e.err = fmt.Errorf("%s: %v\n%s", s.what, err, out)
			return e
		}
	}
	e.err = e.settle()
	return e
}

func (e *env) timeout() time.Duration { return time.Minute }

func stateRoot() string {
	if r := os.Getenv("SVCT_ROOT"); r != "" {
		return r
	}
	return "/var/lib/svc-trace-e2e"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] dns-cluster: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// settle waits until the objects of test/dns/cluster/manifests are in the
// state the tests assert on: every pod running, web-0/web-x ready and web-1
// not, the EndpointSlice controller done with web and web-pnra, and CoreDNS's
// informers caught up (its answers for them have the right size).
func (e *env) settle() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	check := func() error {
		for _, ns := range []string{"svct-dns", "default"} {
			pods, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, p := range pods.Items {
				if p.Status.Phase != corev1.PodRunning {
					return fmt.Errorf("pod %s/%s is %s", p.Namespace, p.Name, p.Status.Phase)
				}
				want := p.Name != "web-1"
				if ns == "svct-dns" && podReady(&p) != want {
					return fmt.Errorf("pod %s/%s ready=%v, want %v", p.Namespace, p.Name, podReady(&p), want)
				}
			}
		}
		for svc, want := range map[string]int{"web": 2, "web-pnra": 3} {
			sl, err := e.client.DiscoveryV1().EndpointSlices("svct-dns").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
			if err != nil {
				return err
			}
			ready := 0
			for _, s := range sl.Items {
				if s.AddressType != discoveryv1.AddressTypeIPv4 {
					continue
				}
				for _, ep := range s.Endpoints {
					if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
						ready++
					}
				}
			}
			if ready != want {
				return fmt.Errorf("service svct-dns/%s: %d ready IPv4 endpoints, want %d", svc, ready, want)
			}
			r, err := askUDP(dnssim.Question{Name: svc + ".svct-dns.svc.cluster.local.", Type: "A"}, "10.96.0.10:53")
			if err != nil {
				return err
			}
			if len(r.Response.Answers) != want {
				return fmt.Errorf("CoreDNS has %d A records for %s.svct-dns, want %d (informers not synced yet)", len(r.Response.Answers), svc, want)
			}
		}
		return nil
	}
	var last error
	for {
		if last = check(); last == nil {
			logf("settled")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not settled after 3 minutes: %v", last)
		case <-time.After(time.Second):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// svcTrace runs `kubectl svc-trace dns ARGS...` in-process (the same
// NewCmdDNS the plugin's main wires) against the cluster and returns stdout.
func (e *env) svcTrace(t *testing.T, namespace string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cf := genericclioptions.NewConfigFlags(true)
	cf.KubeConfig = &e.kubeconfig
	cf.Namespace = &namespace
	cmd := svccmd.NewCmdDNS(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, cf)
	cmd.SetArgs(append(append([]string{}, args...), "--color", "never"))
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	if err != nil {
		return out.String(), fmt.Errorf("%v\n%s", err, errOut.String())
	}
	return out.String(), nil
}

// report runs the command with -o json and decodes its report.
func (e *env) report(t *testing.T, namespace string, args ...string) *dnssim.Report {
	t.Helper()
	out, err := e.svcTrace(t, namespace, append(args, "-o", "json")...)
	if err != nil {
		t.Fatalf("svc-trace dns %s: %v", strings.Join(args, " "), err)
	}
	var rep dnssim.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("svc-trace dns %s: decoding JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return &rep
}
