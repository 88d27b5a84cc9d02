//go:build e2e

package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
)

// Benchmarks of the node helper against the real cluster (warm image:
// imported by hack/cluster.sh up). Run them with
//
//	SVCT_E2E_REUSE_CLUSTER=1 go test -tags e2e ./test/e2e/ -run '^$' -bench Helper -benchtime 10x
//
// or through hack/e2e.sh with SVCT_E2E_BENCH=1.

// benchHelper is a nodehelper.Helper on the e2e cluster, in collectNS,
// recording when each lifecycle phase began.
func benchHelper(b *testing.B, cfg nodehelper.Config) (*nodehelper.Helper, *phaseClock) {
	b.Helper()
	if env.clusterErr != nil {
		b.Fatalf("e2e cluster unavailable: %v", env.clusterErr)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "kubectl-svc-trace/e2e-bench"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	_, err = client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: collectNS}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	cfg.Namespace, cfg.Image = collectNS, helperImage
	clock := &phaseClock{at: map[string][]time.Time{}}
	return &nodehelper.Helper{Client: client, Exec: &nodehelper.RemoteExecutor{Config: rc, Client: client}, Config: cfg, Progress: clock.event}, clock
}

// phaseClock records the first time each phase was reported per run.
type phaseClock struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (c *phaseClock) event(_, phase, _ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at[phase] = append(c.at[phase], time.Now())
}

// report adds the mean time from one phase to the next as a metric.
func (c *phaseClock) report(b *testing.B, from, to, unit string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, t := c.at[from], c.at[to]
	if len(f) == 0 || len(f) != len(t) {
		return
	}
	var sum time.Duration
	for i := range f {
		sum += t[i].Sub(f[i])
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(f)), unit)
}

// BenchmarkHelperLifecycle is one helper pod's whole life on node1 with a
// warm image and the real collection: create → scheduled → running →
// collected → deleted. ns/op is creation to deletion.
func BenchmarkHelperLifecycle(b *testing.B) {
	h, clock := benchHelper(b, nodehelper.Config{})
	ctx := context.Background()
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := h.Collect(ctx, "node1", nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		bytes += d.ArchiveBytes
	}
	b.StopTimer()
	clock.report(b, "creating", "running", "ms-to-running")
	clock.report(b, "running", "collected", "ms-collecting")
	clock.report(b, "collected", "deleted", "ms-deleting")
	b.ReportMetric(float64(bytes)/float64(b.N)/1024, "KiB-compressed")
}

// BenchmarkHelperTransfer700k measures a very large node's dump through the
// real exec stream: the collection script adds a generated, kube-proxy-shaped
// iptables-save of 700,000 lines (random chain hashes, so it compresses like
// the real thing) to node1's real dump, and the plugin receives, checks and
// unpacks it. What iptables-nft-save itself takes on 700k rules is
// BenchmarkIptablesNftSave700k in pkg/nodehelper.
func BenchmarkHelperTransfer700k(b *testing.B) {
	const lines = 700_000
	h, clock := benchHelper(b, nodehelper.Config{SyntheticRules: lines})
	ctx := context.Background()
	var compressed, raw int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := h.Collect(ctx, "node1", nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		syn := d.Files["synthetic-iptables-save"]
		if n := strings.Count(string(syn), "\n"); n < lines {
			b.Fatalf("synthetic dump has %d lines, want %d", n, lines)
		}
		compressed += d.ArchiveBytes
		for _, f := range d.Files {
			raw += int64(len(f))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(compressed)/float64(b.N)/(1<<20), "MiB-compressed")
	b.ReportMetric(float64(raw)/float64(b.N)/(1<<20), "MiB-raw")
	clock.report(b, "running", "collected", "ms-collect+transfer")
	clock.report(b, "collected", "deleted", "ms-deleting")
}
