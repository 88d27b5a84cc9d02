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
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
// between the helper's lifecycle and client-go's remotecommand (SPDY or
// WebSocket), so the lifecycle can be tested without a kubelet.
type Executor interface {
	Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdout, stderr io.Writer) error
}

// Progress receives lifecycle events ("creating", "scheduled", "pulling",
// "running", "collected", "deleted") for the user's stderr.
type Progress func(node, phase, detail string)

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
}

// Dump is everything collected from one node: the files the script wrote
// (name → content), keyed as in the archive ("iptables-nft-save",
// "nft.json", "route-get/10.244.0.5", ...).
type Dump struct {
	Node    string
	Pod     string
	Files   map[string][]byte
	Elapsed time.Duration
}

// File returns a dump file's content ("" if absent).
func (d *Dump) File(name string) string { return string(d.Files[name]) }

// RC returns the exit status the script recorded for a file (-1 if none).
func (d *Dump) RC(name string) int {
	rc, err := strconv.Atoi(strings.TrimSpace(d.File(name + ".rc")))
	if err != nil {
		return -1
	}
	return rc
}

// Names lists the dump's files, sorted.
func (d *Dump) Names() []string {
	var out []string
	for n := range d.Files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
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
		"Fix: pass --helper-namespace with a namespace that allows privileged pods (label pod-security.kubernetes.io/enforce=privileged), e.g. kube-system",
		e.Namespace, e.Level, e.Detail)
}

var psaLevel = regexp.MustCompile(`violates PodSecurity "([a-z]+)(:[^"]*)?"`)

// CheckAccess asks the API server (SelfSubjectAccessReview) whether the
// user may create pods and pods/exec, and delete pods, in the helper
// namespace.
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
// deleted before Collect returns, whatever happens (unless Keep).
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
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "PodSecurity") {
			level := "unknown"
			if m := psaLevel.FindStringSubmatch(err.Error()); m != nil {
				level = m[1]
			}
			return nil, &ErrPodSecurity{Namespace: pod.Namespace, Level: level, Detail: apiMessage(err)}
		}
		return nil, fmt.Errorf("creating helper pod on node %s: %w", node, err)
	}
	defer func() {
		if h.Keep {
			h.progress(node, "kept", created.Namespace+"/"+created.Name)
			return
		}
		if derr := h.delete(created); derr != nil && err == nil {
			err = derr
		}
	}()
	if err := h.waitRunning(ctx, created); err != nil {
		return nil, err
	}
	h.progress(node, "running", "collecting")
	var out, errOut bytes.Buffer
	if err := h.Exec.Exec(ctx, created.Namespace, created.Name, containerName, []string{"sh", "-c", Script(routeTargets, conntrackTargets)}, &out, &errOut); err != nil {
		return nil, fmt.Errorf("running the collection on node %s: %w (stderr: %s)", node, err, strings.TrimSpace(errOut.String()))
	}
	size, sum, err := parseTrailer(out.String())
	if err != nil {
		return nil, fmt.Errorf("node %s: %w (stderr: %s)", node, err, strings.TrimSpace(errOut.String()))
	}
	var archive bytes.Buffer
	errOut.Reset()
	if err := h.Exec.Exec(ctx, created.Namespace, created.Name, containerName, []string{"cat", "/tmp/svc-trace/dump.tgz"}, &archive, &errOut); err != nil {
		return nil, fmt.Errorf("reading the dump from node %s: %w", node, err)
	}
	if int64(archive.Len()) != size {
		return nil, fmt.Errorf("dump from node %s is truncated: got %d of %d bytes; not parsed", node, archive.Len(), size)
	}
	got := sha256.Sum256(archive.Bytes())
	if hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("dump from node %s is corrupt: sha256 %x, the node says %s; not parsed", node, got, sum)
	}
	files, err := untar(archive.Bytes())
	if err != nil {
		return nil, fmt.Errorf("dump from node %s: %w", node, err)
	}
	h.progress(node, "collected", fmt.Sprintf("%d files, %d bytes compressed", len(files), size))
	return &Dump{Node: node, Pod: created.Name, Files: files, Elapsed: time.Since(start)}, nil
}

// parseTrailer reads the script's last line: "<bytes> <sha256>".
func parseTrailer(out string) (int64, string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.Fields(lines[len(lines)-1])
	if len(last) != 2 || len(last[1]) != 64 {
		return 0, "", fmt.Errorf("the collection script did not finish (last output %q)", lines[len(lines)-1])
	}
	n, err := strconv.ParseInt(last[0], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("bad size in collection trailer %q", lines[len(lines)-1])
	}
	return n, last[1], nil
}

func untar(b []byte) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
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
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		files[name] = data
	}
	return files, nil
}

// waitRunning watches the pod until its container runs, reporting
// scheduling and pulling, and fails fast on pull errors or termination.
func (h *Helper) waitRunning(ctx context.Context, pod *corev1.Pod) error {
	node := pod.Spec.NodeName
	w, err := h.Client.CoreV1().Pods(pod.Namespace).Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
		ResourceVersion: pod.ResourceVersion,
	})
	if err != nil {
		return fmt.Errorf("watching helper pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	defer w.Stop()
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
			return false, fmt.Errorf("helper pod %s/%s on node %s ended (%s): %s", p.Namespace, p.Name, node, p.Status.Phase, p.Status.Message)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				switch w.Reason {
				case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName":
					return false, fmt.Errorf("node %s cannot pull the helper image %s (%s): %s; mirror it and pass --helper-image", node, cs.Image, w.Reason, w.Message)
				case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
					return false, fmt.Errorf("helper pod on node %s cannot start (%s): %s", node, w.Reason, w.Message)
				}
				if w.Reason != last {
					last = w.Reason
					phase := "starting"
					if w.Reason == "ContainerCreating" {
						phase = "pulling"
					}
					h.progress(node, phase, w.Reason)
				}
			}
		}
		if last == "" && p.Spec.NodeName != "" {
			last = "scheduled"
			h.progress(node, "scheduled", "")
		}
		return false, nil
	}
	if ok, err := check(pod); ok || err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for helper pod on node %s: %w", node, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				// The watch closed (timeout on the server side): poll once
				// and watch again.
				p, err := h.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
				if err != nil {
					return fmt.Errorf("helper pod on node %s: %w", node, err)
				}
				return h.waitRunning(ctx, p)
			}
			switch ev.Type {
			case watch.Deleted:
				return fmt.Errorf("helper pod %s/%s was deleted before it ran", pod.Namespace, pod.Name)
			case watch.Error:
				return fmt.Errorf("watching helper pod on node %s: %v", node, apierrors.FromObject(ev.Object))
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ok, err := check(p); ok || err != nil {
				return err
			}
		}
	}
}

func (h *Helper) delete(pod *corev1.Pod) error {
	timeout := h.DeleteTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := h.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting helper pod %s/%s: %w (delete it with: kubectl svc-trace cleanup -n %s)", pod.Namespace, pod.Name, err, pod.Namespace)
	}
	h.progress(pod.Spec.NodeName, "deleted", pod.Namespace+"/"+pod.Name)
	return nil
}

// Cleanup deletes every helper pod left in namespace ("" = all namespaces)
// and returns their names.
func Cleanup(ctx context.Context, client kubernetes.Interface, namespace string) ([]string, error) {
	sel := ManagedByLabel + "=" + ManagedByValue + "," + ComponentLabel + "=" + ComponentValue
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
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
