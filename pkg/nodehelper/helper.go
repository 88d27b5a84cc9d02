package nodehelper

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// Executor runs a command in a container and streams its output: the seam
// between the helper's lifecycle and client-go's remotecommand (WebSocket or
// SPDY), so the lifecycle can be tested without a kubelet.
type Executor interface {
	Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdout, stderr io.Writer) error
}

// Progress receives lifecycle events for the user's stderr. Phases, in
// order: "creating", "scheduled", "pulling", "running", "transferring"
// (repeated, detail is the byte count so far), "collected", then "deleted"
// or "kept"; "error" carries a failure before the deletion.
type Progress func(node, phase, detail string)

// Limits on what one node may send: far above the 50-100 MB a very large
// node's dump takes (700k iptables lines, ~10x smaller compressed), low
// enough that a broken helper cannot exhaust the plugin's memory.
const (
	maxArchiveBytes  = 1 << 30
	maxExtractedSize = 4 << 30
	// progressEvery is how often "transferring" is reported.
	progressEvery = 4 << 20
)

// Helper creates helper pods and collects dumps through them.
type Helper struct {
	Client   kubernetes.Interface
	Exec     Executor
	Config   Config
	Progress Progress
	// Keep leaves the pod in place (--keep-helper), for debugging.
	Keep bool
	// DeleteTimeout bounds the deletion, which runs on a fresh context so
	// that it also happens after a timeout or a signal (default 30 s).
	DeleteTimeout time.Duration
	// Concurrency bounds how many nodes CollectAll inspects at once
	// (default 4): each helper pod costs the API server a create, a watch,
	// an exec stream and a delete, and the plugin holds each dump in memory.
	Concurrency int
}

// ErrNoPermission says the user may not create helper pods or exec into
// them; callers fall back to the API-only trace with a warning.
type ErrNoPermission struct {
	Namespace string
	Missing   []string
}

func (e *ErrNoPermission) Error() string {
	return fmt.Sprintf("no permission to %s in namespace %s: node inspection skipped", strings.Join(e.Missing, " and "), e.Namespace)
}

// ErrPodSecurity says Pod Security admission rejected the privileged helper.
type ErrPodSecurity struct {
	Namespace string
	Level     string
	Detail    string
}

func (e *ErrPodSecurity) Error() string {
	return fmt.Sprintf("Pod Security admission in namespace %q (enforce level %q) rejects the node helper, which must be privileged and use the host network and PID namespace: %s. "+
		"Fix: pass --helper-namespace with a namespace whose enforce level is privileged (kube-system usually is), "+
		"or label this one: kubectl label namespace %s pod-security.kubernetes.io/enforce=privileged",
		e.Namespace, e.Level, e.Detail, e.Namespace)
}

// psaLevel finds the level in the admission message, e.g.
// `violates PodSecurity "baseline:latest": host namespaces (...)`, as
// k8s.io/pod-security-admission's admission.Validate words it.
var psaLevel = regexp.MustCompile(`violates PodSecurity "([a-z]+)(:[^"]*)?"`)

// CheckAccess asks the API server (SelfSubjectAccessReview) whether the
// user may create, delete and exec into pods in the helper namespace, the
// three things Collect does. It is one round trip per verb and runs before
// any pod exists, so a user without the rights gets *ErrNoPermission and
// nothing is created.
func (h *Helper) CheckAccess(ctx context.Context) error {
	cfg := h.Config.withDefaults()
	var missing []string
	for _, ra := range []authorizationv1.ResourceAttributes{
		{Namespace: cfg.Namespace, Verb: "create", Resource: "pods"},
		{Namespace: cfg.Namespace, Verb: "delete", Resource: "pods"},
		{Namespace: cfg.Namespace, Verb: "create", Resource: "pods", Subresource: "exec"},
	} {
		r, err := h.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("checking permissions for the node helper: %w", err)
		}
		if !r.Status.Allowed {
			what := ra.Verb + " " + ra.Resource
			if ra.Subresource != "" {
				what += "/" + ra.Subresource
			}
			missing = append(missing, what)
		}
	}
	if len(missing) > 0 {
		return &ErrNoPermission{Namespace: cfg.Namespace, Missing: missing}
	}
	return nil
}

func (h *Helper) progress(node, phase, detail string) {
	if h.Progress != nil {
		h.Progress(node, phase, detail)
	}
}

// Collect runs the helper on one node and returns its dump. The pod is
// deleted before Collect returns, whatever happens — success, error,
// ctx's deadline (--timeout) or cancellation (SIGINT/SIGTERM) — unless Keep.
// A pod whose creation was cut short by ctx is deleted by name too: the API
// server may have stored it although the client gave up waiting.
func (h *Helper) Collect(ctx context.Context, node string, routeTargets, conntrackTargets []string) (dump *Dump, err error) {
	start := time.Now()
	cfg := h.Config.withDefaults()
	suffix := rand.String(5)
	if cfg.NameSuffix != nil {
		suffix = cfg.NameSuffix()
	}
	pod := PodSpec(node, cfg, suffix)
	h.progress(node, "creating", pod.Namespace+"/"+pod.Name)
	created, err := h.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		var status apierrors.APIStatus
		if ctx.Err() != nil || !errors.As(err, &status) {
			// No answer from the API server: the pod may exist.
			_ = h.delete(pod, false)
		}
		switch {
		case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "PodSecurity"):
			level := "unknown"
			if m := psaLevel.FindStringSubmatch(err.Error()); m != nil {
				level = m[1]
			}
			return nil, &ErrPodSecurity{Namespace: pod.Namespace, Level: level, Detail: apiMessage(err)}
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("creating the helper pod on node %s: namespace %q not found (--helper-namespace): %w", node, pod.Namespace, err)
		}
		return nil, fmt.Errorf("creating the helper pod on node %s: %w", node, err)
	}
	defer func() {
		if err != nil {
			h.progress(node, "error", err.Error())
		}
		if h.Keep {
			h.progress(node, "kept", created.Namespace+"/"+created.Name)
			return
		}
		if derr := h.delete(created, true); derr != nil && err == nil {
			err = derr
		}
	}()
	if err := h.waitRunning(ctx, created); err != nil {
		return nil, err
	}
	h.progress(node, "running", "collecting")
	files, size, err := h.collect(ctx, created, ScriptParams{
		RouteTargets: routeTargets, ConntrackTargets: conntrackTargets, Tools: cfg.Tools, SyntheticRules: cfg.SyntheticRules,
	})
	if err != nil {
		return nil, err
	}
	h.progress(node, "collected", fmt.Sprintf("%d files, %d bytes compressed", len(files), size))
	return &Dump{Node: node, Pod: created.Name, Namespace: created.Namespace, Image: cfg.Image, Files: files,
		Collected: time.Now().UTC(), Elapsed: time.Since(start), ArchiveBytes: size}, nil
}

// collect execs the collection script and reads its archive from the
// stream: the bytes are counted and hashed as they arrive and checked
// against the script's trailer before anything is unpacked.
func (h *Helper) collect(ctx context.Context, pod *corev1.Pod, p ScriptParams) (map[string][]byte, int64, error) {
	node := pod.Spec.NodeName
	sink := &archiveSink{h: sha256.New(), report: func(n int64) { h.progress(node, "transferring", strconv.FormatInt(n, 10)) }}
	errOut := &tailBuffer{max: 64 << 10}
	err := h.Exec.Exec(ctx, pod.Namespace, pod.Name, containerName, []string{"sh", "-c", Script(p)}, sink, errOut)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("collecting from node %s: %w", node, ctx.Err())
		}
		return nil, 0, fmt.Errorf("collecting from node %s: %w (helper stderr: %s)", node, err, errOut.lastLines(5))
	}
	if sink.overflow {
		return nil, 0, fmt.Errorf("dump from node %s exceeds %d bytes; not parsed", node, maxArchiveBytes)
	}
	size, sum, err := parseTrailer(errOut.String())
	if err != nil {
		return nil, 0, fmt.Errorf("node %s: %w after %d bytes (helper stderr: %s)", node, err, sink.n, errOut.lastLines(5))
	}
	if sink.n != size {
		return nil, 0, fmt.Errorf("dump from node %s is truncated: got %d of %d bytes; not parsed", node, sink.n, size)
	}
	if got := hex.EncodeToString(sink.h.Sum(nil)); got != sum {
		return nil, 0, fmt.Errorf("dump from node %s is corrupt: sha256 %s, the node says %s; not parsed", node, got, sum)
	}
	files, err := untar(sink.buf.Bytes())
	if err != nil {
		return nil, 0, fmt.Errorf("dump from node %s: %w", node, err)
	}
	return files, size, nil
}

// archiveSink receives the archive: kept, hashed and counted as it streams.
type archiveSink struct {
	buf      bytes.Buffer
	h        hash.Hash
	n        int64
	next     int64
	overflow bool
	report   func(int64)
}

func (s *archiveSink) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.n > maxArchiveBytes {
		s.overflow = true
		return 0, fmt.Errorf("dump exceeds %d bytes", maxArchiveBytes)
	}
	s.buf.Write(p)
	s.h.Write(p)
	if s.report != nil && s.n >= s.next {
		s.report(s.n)
		s.next = s.n + progressEvery
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written (the script's stderr: its
// trailer and, on failure, why).
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func (t *tailBuffer) lastLines(n int) string {
	lines := strings.Split(strings.TrimSpace(t.String()), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, " | ")
	if s == "" {
		return "(empty)"
	}
	return s
}

// trailerPrefix starts the script's last stderr line.
const trailerPrefix = "svc-trace-archive "

// parseTrailer finds "svc-trace-archive <bytes> <sha256>" in the script's
// stderr; its absence means the script did not finish.
func parseTrailer(stderr string) (int64, string, error) {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), trailerPrefix)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || len(f[1]) != 64 {
			return 0, "", fmt.Errorf("bad collection trailer %q", lines[i])
		}
		if _, err := hex.DecodeString(f[1]); err != nil {
			return 0, "", fmt.Errorf("bad checksum in collection trailer %q", lines[i])
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, "", fmt.Errorf("bad size in collection trailer %q", lines[i])
		}
		return n, f[1], nil
	}
	return 0, "", errors.New("the collection script did not finish (no archive trailer)")
}

// untar unpacks the dump's regular files; names must stay inside the dump.
func untar(b []byte) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("archive entry %q escapes the dump", hdr.Name)
		}
		total += hdr.Size
		if total > maxExtractedSize {
			return nil, fmt.Errorf("archive unpacks to more than %d bytes", int64(maxExtractedSize))
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		files[name] = data
	}
	if len(files) == 0 {
		return nil, errors.New("the archive holds no files")
	}
	return files, nil
}

// waitRunning watches the pod until its container runs, reporting
// scheduling and pulling, and fails fast on pull errors or termination.
// A watch the server closes (its timeout) is reopened from the last state.
func (h *Helper) waitRunning(ctx context.Context, pod *corev1.Pod) error {
	node := pod.Spec.NodeName
	last := ""
	check := func(p *corev1.Pod) (bool, error) {
		switch p.Status.Phase {
		case corev1.PodRunning:
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == containerName && cs.State.Running != nil {
					return true, nil
				}
			}
		case corev1.PodFailed, corev1.PodSucceeded:
			return false, fmt.Errorf("helper pod %s/%s on node %s ended (%s %s): %s", p.Namespace, p.Name, node, p.Status.Phase, p.Status.Reason, p.Status.Message)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				switch w.Reason {
				case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName":
					return false, fmt.Errorf("node %s cannot pull the helper image %s (%s): %s; mirror it and pass --helper-image", node, cs.Image, w.Reason, w.Message)
				case "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff":
					return false, fmt.Errorf("helper pod on node %s cannot start (%s): %s", node, w.Reason, w.Message)
				}
				if w.Reason != last {
					last = w.Reason
					phase, detail := "starting", w.Reason
					if w.Reason == "ContainerCreating" {
						phase, detail = "pulling", "image "+cs.Image+" (if the node lacks it), then starting"
					}
					h.progress(node, phase, detail)
				}
			}
		}
		if last == "" && p.Spec.NodeName != "" {
			last = "scheduled"
			h.progress(node, "scheduled", "on node "+p.Spec.NodeName)
		}
		return false, nil
	}
	current := pod
	for {
		if ok, err := check(current); ok || err != nil {
			return err
		}
		w, err := h.Client.CoreV1().Pods(pod.Namespace).Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
			ResourceVersion: current.ResourceVersion,
		})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for the helper pod on node %s: %w", node, ctx.Err())
			}
			return fmt.Errorf("watching helper pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		next, err := h.watchUntil(ctx, w, pod, check)
		w.Stop()
		if err != nil || next == nil {
			return err
		}
		current = next
	}
}

// watchUntil reads watch events until check says running or fails. When the
// server closes the watch it returns the pod as last seen (fetched afresh),
// for waitRunning to watch again.
func (h *Helper) watchUntil(ctx context.Context, w watch.Interface, pod *corev1.Pod, check func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	node := pod.Spec.NodeName
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the helper pod on node %s: %w", node, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				p, err := h.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
				if err != nil {
					return nil, fmt.Errorf("helper pod on node %s: %w", node, err)
				}
				return p, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return nil, fmt.Errorf("helper pod %s/%s was deleted before it ran", pod.Namespace, pod.Name)
			case watch.Error:
				return nil, fmt.Errorf("watching helper pod on node %s: %v", node, apierrors.FromObject(ev.Object))
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ok, err := check(p); ok || err != nil {
				return nil, err
			}
		}
	}
}

// delete removes the pod at once (grace period 0: the pod only sleeps, and
// the plugin should not wait for it), on a context of its own so that it
// also runs after a timeout or a signal. created says pod came back from
// the API server: its UID then guards against deleting a namesake, and its
// absence is worth reporting.
func (h *Helper) delete(pod *corev1.Pod, created bool) error {
	timeout := h.DeleteTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	opts := metav1.DeleteOptions{GracePeriodSeconds: new(int64)}
	if created && pod.UID != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &pod.UID}
	}
	err := h.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	if apierrors.IsNotFound(err) {
		if created {
			h.progress(pod.Spec.NodeName, "deleted", pod.Namespace+"/"+pod.Name+" (already gone)")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting helper pod %s/%s: %w (delete it with: kubectl svc-trace cleanup --helper-namespace %s)", pod.Namespace, pod.Name, err, pod.Namespace)
	}
	h.progress(pod.Spec.NodeName, "deleted", pod.Namespace+"/"+pod.Name)
	return nil
}

// NodesError reports the nodes CollectAll could not inspect.
type NodesError struct {
	Errs map[string]error // node → why
}

func (e *NodesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d node(s) not inspected:", len(e.Errs))
	for _, n := range sortedKeys(e.Errs) {
		fmt.Fprintf(&b, "\n  %s: %v", n, e.Errs[n])
	}
	return b.String()
}

// Unwrap lets errors.As find a typed cause (e.g. a timeout) in any node's error.
func (e *NodesError) Unwrap() []error {
	var out []error
	for _, n := range sortedKeys(e.Errs) {
		out = append(out, e.Errs[n])
	}
	return out
}

// fatalForAll says an error will be the same on every node (the namespace
// or the user is the problem, not the node), so the other nodes stop.
func fatalForAll(err error) bool {
	var pse *ErrPodSecurity
	var np *ErrNoPermission
	return errors.As(err, &pse) || errors.As(err, &np) || apierrors.IsForbidden(err) || apierrors.IsNotFound(err) && strings.Contains(err.Error(), "namespace")
}

// CollectAll runs Collect on every node, at most Concurrency at a time. The
// dumps come back in nodes' order, nil for a node that failed; the error is
// then a *NodesError, except when the failure is the same for every node
// (Pod Security, permissions, a missing namespace): the other nodes are
// stopped and that one error is returned.
func (h *Helper) CollectAll(ctx context.Context, nodes []string, routeTargets, conntrackTargets []string) ([]*Dump, error) {
	limit := h.Concurrency
	if limit <= 0 {
		limit = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]*Dump, len(nodes))
	errs := make([]error, len(nodes))
	var fatalOnce sync.Once
	var fatal error
	var g errgroup.Group
	g.SetLimit(limit)
	for i, n := range nodes {
		g.Go(func() error {
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return nil
			}
			d, err := h.Collect(ctx, n, routeTargets, conntrackTargets)
			out[i], errs[i] = d, err
			if err != nil && fatalForAll(err) {
				fatalOnce.Do(func() { fatal = err; cancel() })
			}
			return nil
		})
	}
	_ = g.Wait()
	if fatal != nil {
		return out, fatal
	}
	ne := &NodesError{Errs: map[string]error{}}
	for i, err := range errs {
		if err != nil {
			ne.Errs[nodes[i]] = err
		}
	}
	if len(ne.Errs) > 0 {
		return out, ne
	}
	return out, nil
}

// Selector selects every helper pod the plugin creates.
const Selector = ManagedByLabel + "=" + ManagedByValue + "," + ComponentLabel + "=" + ComponentValue

// Cleanup deletes every helper pod left in namespace ("" = all namespaces)
// and returns their names (namespace/name).
func Cleanup(ctx context.Context, client kubernetes.Interface, namespace string) ([]string, error) {
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: Selector})
	if err != nil {
		return nil, err
	}
	var deleted []string
	for _, p := range list.Items {
		err := client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		if err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("deleting %s/%s: %w", p.Namespace, p.Name, err)
		}
		deleted = append(deleted, p.Namespace+"/"+p.Name)
	}
	return deleted, nil
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}
