package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
)

const collectExample = `  # Save what node1's kube-proxy really programmed, to trace offline later
  kubectl svc-trace collect --node node1 -o ./dumps
  kubectl svc-trace web -f objects.yaml --node-dump ./dumps --node node1

  # Every node, three at a time, with an image mirrored for an air-gapped cluster
  kubectl svc-trace collect --all-nodes -o ./dumps --max-concurrent-nodes 3 \
    --helper-image registry.example.com/svctrace/node-helper:v1

  # Remove helper pods left by an interrupted --keep-helper session
  kubectl svc-trace cleanup`

// maxRouteTargets caps the `ip route get` lookups collect asks for when it
// derives them from every EndpointSlice: each is one process on the node.
const maxRouteTargets = 1024

// CollectFlags are the flags of `collect`, as given.
type CollectFlags struct {
	ConfigFlags     *genericclioptions.ConfigFlags
	Nodes           []string
	AllNodes        bool
	OutDir          string
	HelperNamespace string
	HelperImage     string
	HelperTools     string
	Timeout         time.Duration
	KeepHelper      bool
	Concurrency     int
	RouteTo         []string
	ConntrackFor    []string
}

// CollectOptions are collect's validated options.
type CollectOptions struct {
	Nodes        []string // explicit --node values, sorted; nil with AllNodes
	AllNodes     bool
	OutDir       string
	Helper       nodehelper.Config
	Timeout      time.Duration // 0: none
	Keep         bool
	Concurrency  int
	RouteTo      []string // nil: every endpoint address in the cluster
	ConntrackFor []string

	streams genericiooptions.IOStreams
	// connect builds the API client and the exec transport (a test hook).
	connect func() (kubernetes.Interface, nodehelper.Executor, error)
	// progress receives the helper pods' lifecycle (default: stderr).
	progress *progressPrinter
}

// NewCmdCollect builds `kubectl svc-trace collect`: run the node helper on
// nodes and save the raw dumps for offline traces (--node-dump).
func NewCmdCollect(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	f := &CollectFlags{ConfigFlags: cf}
	cmd := &cobra.Command{
		Use:   "collect (--node NODE... | --all-nodes) -o DIR [flags]",
		Short: "Save nodes' kube-proxy rules, routes and DNS config for offline traces",
		Long: `Run the node helper pod on each node and save everything it reads, raw, under DIR/<node>/:
iptables-save of both backends (and which one kube-proxy uses, decided as kube-proxy's
iptables-wrapper decides), nft tables, IPVS and ipset state, addresses, routes and the route to
every endpoint, kube-proxy's mode and the node's resolv.conf, with svc-trace-dump.json describing
the collection. 'kubectl svc-trace SERVICE --node-dump DIR' traces from it without a cluster.

The helper pod is privileged, uses the host network and PID namespace, and is deleted when the
collection ends: on success, on any error, when --timeout expires and on Ctrl-C. Its namespace
(--helper-namespace) must allow privileged pods under Pod Security admission. The user needs
create/delete on pods and create on pods/exec there (checked first).

Exit status:
  0  every node collected and saved
  1  a node could not be collected (the others are saved), or the collection could not start`,
		Example:       collectExample,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, _ []string) error {
			o, err := f.ToOptions(streams)
			if err != nil {
				return usageError(c, err.Error())
			}
			return o.Run(c.Context())
		},
	}
	f.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("helper-tools", fixedCompletion("auto", "image", "host"))
	_ = cmd.RegisterFlagCompletionFunc("node", func(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeNodes(c.Context(), cf, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.MarkFlagDirname("output")
	return cmd
}

// AddFlags registers collect's flags.
func (f *CollectFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.Nodes, "node", nil, "Node to collect from (repeatable or comma-separated).")
	fs.BoolVar(&f.AllNodes, "all-nodes", false, "Collect from every node.")
	fs.StringVarP(&f.OutDir, "output", "o", "", "Directory to save the dumps in (one subdirectory per node; created if needed).")
	addHelperFlags(fs, &f.HelperNamespace, &f.HelperImage, &f.HelperTools, &f.Timeout, &f.KeepHelper, &f.Concurrency)
	fs.StringSliceVar(&f.RouteTo, "route-to", nil, "Addresses to record the node's route to (default: every endpoint address in the cluster, up to 1024).")
	fs.StringSliceVar(&f.ConntrackFor, "conntrack-for", nil, "Addresses (e.g. Service IPs) whose conntrack entries to record.")
}

// addHelperFlags registers the node helper flags collect shares with the
// trace command.
func addHelperFlags(fs *pflag.FlagSet, namespace, image, tools *string, timeout *time.Duration, keep *bool, concurrency *int) {
	fs.StringVar(namespace, "helper-namespace", nodehelper.DefaultNamespace, "Namespace of the node helper pods (Pod Security must allow privileged pods there).")
	fs.StringVar(image, "helper-image", nodehelper.DefaultImage, "Image of the node helper (mirror it for air-gapped clusters; see docs/node-helper.md).")
	fs.StringVar(tools, "helper-tools", string(nodehelper.ToolsAuto), "Whose binaries read netfilter state: auto (the image's, the node's own through nsenter when the image's cannot read it), image or host.")
	fs.DurationVar(timeout, "timeout", 5*time.Minute, "Give up after this long; the helper pods are deleted (0: no limit).")
	fs.BoolVar(keep, "keep-helper", false, "Leave the helper pods running, for debugging (remove them with: kubectl svc-trace cleanup).")
	fs.IntVar(concurrency, "max-concurrent-nodes", 4, "How many nodes to inspect at once.")
}

// ToOptions validates collect's flags; it needs no cluster.
func (f *CollectFlags) ToOptions(streams genericiooptions.IOStreams) (*CollectOptions, error) {
	o := &CollectOptions{AllNodes: f.AllNodes, OutDir: f.OutDir, Timeout: f.Timeout, Keep: f.KeepHelper, Concurrency: f.Concurrency, streams: streams}
	switch {
	case len(f.Nodes) == 0 && !f.AllNodes:
		return nil, errors.New("give --node NODE (repeatable) or --all-nodes")
	case len(f.Nodes) > 0 && f.AllNodes:
		return nil, errors.New("--node and --all-nodes cannot be combined")
	case f.OutDir == "":
		return nil, errors.New("give -o DIR: where to save the dumps")
	case f.Timeout < 0:
		return nil, fmt.Errorf("invalid --timeout %s: must not be negative", f.Timeout)
	case f.Concurrency < 1:
		return nil, fmt.Errorf("invalid --max-concurrent-nodes %d: must be at least 1", f.Concurrency)
	case f.HelperNamespace == "":
		return nil, errors.New("--helper-namespace must not be empty")
	case f.HelperImage == "":
		return nil, errors.New("--helper-image must not be empty")
	}
	seen := map[string]bool{}
	for _, n := range f.Nodes {
		n = strings.TrimSpace(n)
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, `/\`) {
			return nil, fmt.Errorf("invalid --node %q", n)
		}
		if !seen[n] {
			seen[n] = true
			o.Nodes = append(o.Nodes, n)
		}
	}
	sort.Strings(o.Nodes)
	tools, err := nodehelper.ParseTools(f.HelperTools)
	if err != nil {
		return nil, fmt.Errorf("invalid --helper-tools %q: use auto, image or host", f.HelperTools)
	}
	if o.RouteTo, err = parseAddrs("--route-to", f.RouteTo); err != nil {
		return nil, err
	}
	if o.ConntrackFor, err = parseAddrs("--conntrack-for", f.ConntrackFor); err != nil {
		return nil, err
	}
	if err := checkOutDir(o.OutDir, o.Nodes); err != nil {
		return nil, err
	}
	deadline := nodehelper.DefaultActiveDeadln
	if o.Timeout > 0 && o.Timeout+time.Minute > deadline {
		deadline = o.Timeout + time.Minute
	}
	o.Helper = nodehelper.Config{Namespace: f.HelperNamespace, Image: f.HelperImage, Tools: tools, ActiveDeadline: deadline,
		RequestedBy: requesterOf(f.ConfigFlags), Command: "kubectl svc-trace " + strings.Join(os.Args[1:], " ")}
	cf := f.ConfigFlags
	o.connect = func() (kubernetes.Interface, nodehelper.Executor, error) {
		cfg, err := restConfig(cf)
		if err != nil {
			return nil, nil, err
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, nil, err
		}
		return client, &nodehelper.RemoteExecutor{Config: cfg, Client: client}, nil
	}
	return o, nil
}

// restConfig is the client configuration with the plugin's user agent, so
// the API server's audit log tells the plugin's requests (exec included)
// from kubectl's.
func restConfig(cf *genericclioptions.ConfigFlags) (*rest.Config, error) {
	cfg, err := cf.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kubectl-svc-trace/" + version
	return cfg, nil
}

func parseAddrs(flag string, in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q: not an IP address", flag, s)
		}
		out = append(out, a.Unmap().String())
	}
	return out, nil
}

// checkOutDir refuses, before any pod exists, a node directory that already
// holds a dump: Save would refuse it anyway, after the work.
func checkOutDir(dir string, nodes []string) error {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("-o %s is not a directory", dir)
	}
	for _, n := range nodes {
		p := filepath.Join(dir, n)
		if entries, err := os.ReadDir(p); err == nil && len(entries) > 0 {
			return fmt.Errorf("%s already holds files: save to another directory or remove it", p)
		}
	}
	return nil
}

// Run checks permissions, resolves the nodes and the addresses to look up,
// collects with bounded concurrency and saves every dump it got. --timeout
// bounds all of it.
func (o *CollectOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	client, ex, err := o.connect()
	if err != nil {
		return err
	}
	progress := o.progress
	if progress == nil {
		progress = newProgressPrinter(o.streams.ErrOut)
	}
	h := &nodehelper.Helper{Client: client, Exec: ex, Config: o.Helper, Keep: o.Keep, Concurrency: o.Concurrency, Progress: progress.Event}
	if err := h.CheckAccess(cctx); err != nil {
		return stoppedError(ctx, cctx, err, o.Timeout, "no helper pod was created")
	}
	nodes, infos, err := o.resolveNodes(cctx, client)
	if err != nil {
		return stoppedError(ctx, cctx, err, o.Timeout, "no helper pod was created")
	}
	targets := o.RouteTo
	if targets == nil {
		targets = endpointAddresses(cctx, client, o.streams.ErrOut)
	}
	dumps, cerr := h.CollectAll(cctx, nodes, targets, o.ConntrackFor)
	progress.Done()

	tw := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	saved := 0
	for _, d := range dumps {
		if d == nil {
			continue
		}
		d.Info = infos[d.Node]
		dir, err := d.Save(o.OutDir, time.Now())
		if err != nil {
			return fmt.Errorf("saving node %s: %w", d.Node, err)
		}
		if saved == 0 {
			fmt.Fprintln(tw, "NODE\tSAVED IN\tFILES\tCOMPRESSED\tPROXY MODE\tIPTABLES BACKEND\tHOST TOOLS\tTOOK")
		}
		saved++
		backend, _ := d.Backend()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%.1fs\n", d.Node, dir, len(d.Files), humanBytes(d.ArchiveBytes),
			orDash(d.ProxyMode()), orDash(backend), len(d.Fallbacks()), d.Elapsed.Seconds())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if cerr != nil {
		return stoppedError(ctx, cctx, cerr, o.Timeout, "the helper pods were deleted")
	}
	return nil
}

// stoppedError says what stopped the command: the user (a signal), the
// --timeout, or the error itself; outcome says what became of the helper
// pods (Collect deletes them before it returns). An interruption's cause is
// flattened to text: a cut request's *url.Error would otherwise make the
// error read as "Unable to connect to the server".
func stoppedError(parent, cctx context.Context, err error, timeout time.Duration, outcome string) error {
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("interrupted; %s (%v)", outcome, err)
	case errors.Is(cctx.Err(), context.DeadlineExceeded) || timeout > 0 && strings.Contains(err.Error(), "would exceed context deadline"):
		// The second: client-go's rate limiter gives up early when the
		// deadline is closer than its wait.
		return fmt.Errorf("--timeout %s expired; %s (%v)", timeout, outcome, err)
	}
	return err
}

// resolveNodes returns the nodes to collect from, each checked against the
// API (one get per --node, one list for --all-nodes), and their NodeInfo.
func (o *CollectOptions) resolveNodes(ctx context.Context, client kubernetes.Interface) ([]string, map[string]*nodehelper.NodeInfo, error) {
	infos := map[string]*nodehelper.NodeInfo{}
	if o.AllNodes {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("listing nodes for --all-nodes: %w", err)
		}
		var names []string
		for i := range list.Items {
			n := &list.Items[i]
			names = append(names, n.Name)
			infos[n.Name] = nodehelper.NodeInfoFrom(n)
		}
		if len(names) == 0 {
			return nil, nil, errors.New("the cluster has no nodes")
		}
		sort.Strings(names)
		return names, infos, checkOutDir(o.OutDir, names)
	}
	for _, name := range o.Nodes {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, err
		}
		infos[name] = nodehelper.NodeInfoFrom(n)
	}
	return o.Nodes, infos, nil
}

// endpointAddresses lists every endpoint address in the cluster (one
// EndpointSlice list), so the saved dump has the node's route to any
// Service's endpoints. Unreadable slices only cost the route lookups: a
// warning, not a failure.
func endpointAddresses(ctx context.Context, client kubernetes.Interface, errOut io.Writer) []string {
	list, err := client.DiscoveryV1().EndpointSlices(corev1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(errOut, "warning: cannot list EndpointSlices (%v): the dumps will have no route to the endpoints; give --route-to\n", err)
		return []string{}
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil && !seen[ip.String()] {
					seen[ip.String()] = true
					out = append(out, ip.String())
				}
			}
		}
	}
	sort.Strings(out)
	if len(out) > maxRouteTargets {
		fmt.Fprintf(errOut, "warning: %d endpoint addresses; recording the route to the first %d (give --route-to for others)\n", len(out), maxRouteTargets)
		out = out[:maxRouteTargets]
	}
	return out
}

// requesterOf names the kubeconfig user of the current context, for the
// helper pod's requested-by annotation: an admin who finds the pod knows whom
// to ask.
func requesterOf(cf *genericclioptions.ConfigFlags) string {
	raw, err := cf.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	name := raw.CurrentContext
	if cf.Context != nil && *cf.Context != "" {
		name = *cf.Context
	}
	user := ""
	if c, ok := raw.Contexts[name]; ok {
		user = c.AuthInfo
	}
	if cf.Impersonate != nil && *cf.Impersonate != "" {
		user += " as " + *cf.Impersonate
	}
	return strings.TrimSpace(user)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// completeNodes offers node names for --node.
func completeNodes(ctx context.Context, cf *genericclioptions.ConfigFlags, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	client, err := newClient(cf)
	if err != nil {
		return nil
	}
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var names []string
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	return filterPrefix(names, prefix)
}
