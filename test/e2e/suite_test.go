//go:build e2e

// Package e2e runs kubectl-svc_trace against a real single-node Kubernetes
// cluster (hack/cluster.sh: real etcd, kube-apiserver, controller-manager,
// scheduler, kubelet, containerd and kube-proxy) with the seed scenarios of
// test/e2e/manifests applied, and checks the plugin's JSON against the
// cluster's own state and against what the data plane actually does.
//
// Run it with hack/e2e.sh (installs and builds everything, tears down on any
// exit), or by hand as root:
//
//	go test -tags e2e ./test/e2e/ -count=1 -v -timeout 30m
//
// Environment:
//
//	SVCT_E2E_REUSE_CLUSTER=1  use the cluster already up (hack/cluster.sh up) and leave it up
//	SVCT_E2E_KEEP=1           bring the cluster up but leave it up afterwards
//	SVCT_CLUSTER_OWNER=TOKEN  owner token for the cluster this run brings up (hack/e2e.sh sets it)
//
// The suite tears down only a cluster it brought up itself: if one is
// already running (another script's), `up` fails and that cluster is left alone.
//
//	SVCT_E2E_OPTIONAL=1       skip (loudly) instead of failing when the machine can't run it
//	SVCT_E2E_PLUGIN=PATH      test this kubectl-svc_trace binary instead of building ./cmd/kubectl-svc_trace
//	PROXY_MODE, SVCT_IP_FAMILY passed to hack/cluster.sh up
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// suite is everything TestMain prepared. It is written once, before m.Run,
// and only read by tests.
type suite struct {
	repo       string // repository root
	kubeconfig string
	kubectlDir string // directory holding the kubectl the cluster was built with
	proxyMode  string
	dualStack  bool
	client     kubernetes.Interface
	plugin     string // path of the freshly built kubectl-svc_trace

	// What hack/cluster-extras.sh adds (its `env` lines, through cluster.sh env).
	restrictedKubeconfig string // a read-only user's kubeconfig: no pods/create
	baselineNamespace    string // labelled pod-security.kubernetes.io/enforce=baseline
	outsideNetns         string // a netns that reaches the node only through its address
	outsideIP4           string
	auditLog             string // the API server's audit log (JSON lines)

	owner          string // cluster.sh OWNER token this process brings the cluster up with
	startedCluster bool   // this process brought the cluster up, so it tears it down

	clusterErr error // the cluster could not be brought up or settled
	pluginErr  error // the plugin could not be built
	optional   bool  // SVCT_E2E_OPTIONAL=1: missing prerequisites skip instead of fail
}

var env suite

func TestMain(m *testing.M) {
	env = setup()
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: teardown:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// errPrereq marks setup failures that mean "this machine can't run the
// suite" (not root, nothing built), as opposed to a broken cluster.
var errPrereq = errors.New("e2e prerequisites missing")

func setup() suite {
	s := suite{optional: os.Getenv("SVCT_E2E_OPTIONAL") == "1"}
	repo, err := repoRoot()
	if err != nil {
		s.clusterErr, s.pluginErr = err, err
		return s
	}
	s.repo = repo
	s.pluginErr = s.buildPlugin()
	s.clusterErr = s.startCluster()
	return s
}

func (s *suite) startCluster() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: the e2e cluster needs root (network, mounts, containerd)", errPrereq)
	}
	cluster := filepath.Join(s.repo, "hack", "cluster.sh")
	if os.Getenv("SVCT_E2E_REUSE_CLUSTER") != "1" {
		// The machine may be shared: own the cluster by a token so teardown
		// never stops a cluster another script brought up (hack/e2e.sh
		// passes its own token down).
		s.owner = os.Getenv("SVCT_CLUSTER_OWNER")
		if s.owner == "" {
			s.owner = fmt.Sprintf("go-test-e2e:%d", os.Getpid())
		}
		logf("bringing the cluster up (hack/cluster.sh up, PROXY_MODE=%s, owner %s)", os.Getenv("PROXY_MODE"), s.owner)
		if out, err := runLogged(10*time.Minute, []string{"SVCT_CLUSTER_OWNER=" + s.owner}, cluster, "up"); err != nil {
			return fmt.Errorf("hack/cluster.sh up: %v\n%s", err, tail(out, 40))
		}
		s.startedCluster = true
	}
	out, err := exec.Command(cluster, "env").Output()
	if err != nil {
		return fmt.Errorf("hack/cluster.sh env: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "export KUBECONFIG="); ok {
			s.kubeconfig = v
		}
		if v, ok := strings.CutPrefix(line, "export PATH="); ok {
			s.kubectlDir, _, _ = strings.Cut(v, ":")
		}
		for prefix, dst := range map[string]*string{
			"export SVCT_RESTRICTED_KUBECONFIG=": &s.restrictedKubeconfig, "export SVCT_BASELINE_NAMESPACE=": &s.baselineNamespace,
			"export SVCT_OUTSIDE_NETNS=": &s.outsideNetns, "export SVCT_OUTSIDE_IP4=": &s.outsideIP4, "export SVCT_AUDIT_LOG=": &s.auditLog,
		} {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				*dst = v
			}
		}
	}
	if s.kubeconfig == "" || s.kubectlDir == "" {
		return fmt.Errorf("hack/cluster.sh env printed no KUBECONFIG/PATH: %q", out)
	}
	clusterEnv, err := os.ReadFile(filepath.Join(stateRoot(), "run", "cluster.env"))
	if err != nil {
		return fmt.Errorf("cluster is not up (%v): run hack/cluster.sh up or unset SVCT_E2E_REUSE_CLUSTER", err)
	}
	for _, line := range strings.Split(string(clusterEnv), "\n") {
		if v, ok := strings.CutPrefix(line, "PROXY_MODE="); ok {
			s.proxyMode = v
		}
		if v, ok := strings.CutPrefix(line, "SVCT_IP_FAMILY="); ok {
			s.dualStack = v == "dual"
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", s.kubeconfig, err)
	}
	if s.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	logf("applying and settling the scenarios (hack/scenarios.sh apply)")
	if out, err := runLogged(10*time.Minute, nil, filepath.Join(s.repo, "hack", "scenarios.sh"), "apply"); err != nil {
		return fmt.Errorf("hack/scenarios.sh apply: %v\n%s", err, tail(out, 40))
	}
	return nil
}

func (s *suite) buildPlugin() error {
	if p := os.Getenv("SVCT_E2E_PLUGIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("SVCT_E2E_PLUGIN: %w", err)
		}
		s.plugin = abs
		return nil
	}
	dir, err := os.MkdirTemp("", "svctrace-e2e-")
	if err != nil {
		return err
	}
	s.plugin = filepath.Join(dir, "kubectl-svc_trace")
	cmd := exec.Command("go", "build", "-o", s.plugin, "./cmd/kubectl-svc_trace")
	cmd.Dir = s.repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/kubectl-svc_trace: %v\n%s", err, out)
	}
	return nil
}

func teardown() error {
	if env.plugin != "" && os.Getenv("SVCT_E2E_PLUGIN") == "" {
		os.RemoveAll(filepath.Dir(env.plugin))
	}
	if !env.startedCluster {
		return nil // reused, or someone else's: not ours to stop
	}
	if os.Getenv("SVCT_E2E_KEEP") == "1" {
		logf("SVCT_E2E_KEEP=1: leaving the cluster up; hack/cluster.sh down when done")
		return nil
	}
	logf("tearing the cluster down (hack/cluster.sh down)")
	out, err := runLogged(5*time.Minute, []string{"SVCT_DOWN_ONLY_IF_OWNER=" + env.owner}, filepath.Join(env.repo, "hack", "cluster.sh"), "down")
	if err != nil {
		return fmt.Errorf("hack/cluster.sh down: %v\n%s", err, tail(out, 40))
	}
	return nil
}

// needCluster stops a test that needs the cluster when setup failed: a
// failure normally, a loud skip when SVCT_E2E_OPTIONAL=1 and the machine
// simply lacks the prerequisites.
func needCluster(t *testing.T) {
	t.Helper()
	if env.clusterErr == nil {
		return
	}
	if env.optional && errors.Is(env.clusterErr, errPrereq) {
		t.Skipf("SKIPPING e2e (SVCT_E2E_OPTIONAL=1): %v", env.clusterErr)
	}
	t.Fatalf("e2e cluster unavailable: %v", env.clusterErr)
}

// needPlugin is needCluster plus a built plugin.
func needPlugin(t *testing.T) {
	t.Helper()
	needCluster(t)
	if env.pluginErr != nil {
		t.Fatalf("plugin unavailable: %v", env.pluginErr)
	}
}

// result is one plugin invocation.
type result struct {
	stdout, stderr string
	exit           int
}

// runPlugin runs the built plugin against the e2e cluster.
func runPlugin(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.plugin, args...)
	cmd.Dir = env.repo
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig, "PATH="+env.kubectlDir+":"+os.Getenv("PATH"), "NO_COLOR=1")
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
	if ctx.Err() != nil {
		t.Fatalf("kubectl-svc_trace %s: timed out", strings.Join(args, " "))
	}
	return r
}

// kubectl runs the cluster's kubectl and returns its combined output. The
// output is captured whole before anyone looks at it: piping kubectl into
// `grep -q` under pipefail turned into SIGPIPE flakes (docs/local-cluster.md).
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(env.kubectlDir, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runLogged runs a harness script with extra environment, mirroring its
// stderr to ours as it goes, and returns its combined output.
func runLogged(timeout time.Duration, extraEnv []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &prefixWriter{dst: os.Stderr, also: &buf}
	err := cmd.Run()
	return buf.String(), err
}

// prefixWriter mirrors a script's progress to the test log as it happens and
// keeps a copy for the error message.
type prefixWriter struct {
	dst  *os.File
	also *bytes.Buffer
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.also.Write(p)
	return w.dst.Write(p)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "hack", "cluster.sh")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod + hack/cluster.sh) not found above the working directory")
		}
		dir = parent
	}
}

// stateRoot mirrors hack/lib.sh's SVCT_ROOT default.
func stateRoot() string {
	if v := os.Getenv("SVCT_ROOT"); v != "" {
		return v
	}
	return "/var/lib/svc-trace-e2e"
}
