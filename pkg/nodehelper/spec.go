// Package nodehelper owns the node helper pod's whole life: its spec,
// creation, the wait until it runs, reading its dumps, and its deletion —
// always, on success, error, timeout and signal. It returns raw dumps and
// knows nothing of rules: pkg/cmd hands them to pkg/rules.
package nodehelper

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// Labels and annotations on every helper pod. `kubectl svc-trace cleanup`
// deletes pods by ManagedByLabel.
const (
	ManagedByLabel      = "app.kubernetes.io/managed-by"
	ManagedByValue      = "kubectl-svc-trace"
	ComponentLabel      = "app.kubernetes.io/component"
	ComponentValue      = "node-helper"
	NodeLabel           = "svc-trace.io/node"
	RequestedByAnnot    = "svc-trace.io/requested-by"
	CommandAnnot        = "svc-trace.io/command"
	DefaultNamespace    = "kube-system"
	DefaultImage        = "ghcr.io/svctrace/node-helper:v1"
	containerName       = "helper"
	DefaultActiveDeadln = 10 * time.Minute
)

// Config describes the helper pods to create.
type Config struct {
	// Namespace for the helper pods (default kube-system, where Pod
	// Security admission usually allows privileged pods).
	Namespace string
	// Image of the helper (default DefaultImage); air-gapped clusters
	// mirror it and pass --helper-image.
	Image string
	// PullPolicy, default IfNotPresent.
	PullPolicy corev1.PullPolicy
	// ActiveDeadline is the backstop after which the kubelet kills the pod
	// even if the plugin died before deleting it.
	ActiveDeadline time.Duration
	// RequestedBy and Command are recorded as annotations, so that a
	// cluster admin who finds a helper pod knows who ran what.
	RequestedBy string
	Command     string
	// NameSuffix returns the random suffix of pod names (a test hook).
	NameSuffix func() string
	// Tools chooses whose binaries read netfilter state (--helper-tools):
	// auto (default), image or host.
	Tools Tools
	// SyntheticRules adds a generated iptables-save of that many lines to
	// the dump, to measure a large node's transfer (test only).
	SyntheticRules int
}

func (c Config) withDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.PullPolicy == "" {
		c.PullPolicy = corev1.PullIfNotPresent
	}
	if c.ActiveDeadline <= 0 {
		c.ActiveDeadline = DefaultActiveDeadln
	}
	if c.Tools == "" {
		c.Tools = ToolsAuto
	}
	return c
}

// PodName is svc-trace-<node>-<suffix>, with the node part shortened so the
// name stays a valid DNS label (63 characters).
func PodName(node, suffix string) string {
	n := strings.ToLower(node)
	n = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			return r
		}
		return '-'
	}, n)
	max := validation.DNS1123LabelMaxLength - len("svc-trace--") - len(suffix)
	if len(n) > max {
		n = n[:max]
	}
	n = strings.Trim(n, "-")
	return fmt.Sprintf("svc-trace-%s-%s", n, suffix)
}

// PodSpec is the helper pod for one node. Why each field:
//   - nodeName pins it to the node (no scheduler involved) and a toleration
//     with operator Exists lets it run on tainted and control-plane nodes;
//   - hostNetwork reads the node's netfilter, IPVS, addresses and routes;
//     hostPID lets it read the node's own files (/proc/1/root) and fall back
//     to the host's binaries with nsenter when its tools cannot read the
//     node's state;
//   - privileged: netfilter dumps need CAP_NET_ADMIN and nsenter needs
//     CAP_SYS_ADMIN/SYS_PTRACE; narrower capabilities do not cover nsenter;
//   - a read-only root filesystem with one small emptyDir for the dump,
//     no service account token, small limits, restartPolicy Never, and
//     activeDeadlineSeconds as a backstop if the plugin dies.
func PodSpec(node string, cfg Config, suffix string) *corev1.Pod {
	cfg = cfg.withDefaults()
	deadline := int64(cfg.ActiveDeadline / time.Second)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      PodName(node, suffix),
			Namespace: cfg.Namespace,
			Labels: map[string]string{
				ManagedByLabel: ManagedByValue,
				ComponentLabel: ComponentValue,
				NodeLabel:      labelValue(node),
			},
			Annotations: map[string]string{
				RequestedByAnnot: cfg.RequestedBy,
				CommandAnnot:     cfg.Command,
			},
		},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			HostNetwork:                   true,
			HostPID:                       true,
			DNSPolicy:                     corev1.DNSDefault,
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			ActiveDeadlineSeconds:         &deadline,
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			EnableServiceLinks:            ptr.To(false),
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name:            containerName,
				Image:           cfg.Image,
				ImagePullPolicy: cfg.PullPolicy,
				// The pod only waits; the plugin execs the collection script
				// it carries itself, so the script and the parser that reads
				// its output always have the same version. The shell exits
				// on SIGTERM (a plain sleep as PID 1 would ignore it and hold
				// the deletion for the kubelet's minimum grace period), and
				// on its own when the deadline passes.
				Command: []string{"sh", "-c", fmt.Sprintf("trap 'exit 0' TERM; sleep %d & wait", deadline)},
				SecurityContext: &corev1.SecurityContext{
					Privileged:             ptr.To(true),
					ReadOnlyRootFilesystem: ptr.To(true),
				},
				// Small requests (the pod idles but for seconds) and limits
				// that a very large node still fits: iptables-nft-save of
				// 700k rules peaks at ~805 MiB and takes ~11 s of one core
				// (BenchmarkIptablesNftSave700k).
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1536Mi")},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/tmp"}},
			}},
			Volumes: []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
				SizeLimit: ptr.To(resource.MustParse("1Gi")),
			}}}},
		},
	}
}

// labelValue makes a node name usable as a label value (63 characters).
func labelValue(s string) string {
	if len(s) > validation.LabelValueMaxLength {
		s = s[:validation.LabelValueMaxLength]
	}
	return strings.Trim(s, "-_.")
}
