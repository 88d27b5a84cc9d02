package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
	"github.com/svctrace/kubectl-svc-trace/pkg/render"
	"github.com/svctrace/kubectl-svc-trace/pkg/rules"
	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

const checkExample = `  # Check every Service in the current namespace; fail (exit 3) on errors
  kubectl svc-trace check

  # All namespaces, selected Services, JUnit for the CI system
  kubectl svc-trace check -A -l tier=frontend -o junit > svc-trace.xml

  # Known exceptions: by flag, or per Service with an annotation
  kubectl svc-trace check --ignore LoadBalancerPending,HeadlessService
  kubectl annotate service legacy svc-trace.io/ignore=SelectorMatchesNoPods`

// CheckFlags are the flags of `check`.
type CheckFlags struct {
	ConfigFlags   *genericclioptions.ConfigFlags
	AllNamespaces bool
	Selector      string
	Filenames     []string
	Recursive     bool
	Output        string
	FailOn        string
	Ignore        []string
	Color         string
	WithNodes     int
	Dataplane     DataplaneFlags
}

// CheckOptions are check's validated options.
type CheckOptions struct {
	Scope   cluster.Scope
	Names   []string
	Format  render.Format
	Color   bool
	FailOn  trace.Severity
	Ignore  map[string]bool
	files   *cluster.FileSource
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	// withNodes > 0 inspects the dataplane of up to that many nodes.
	withNodes int
	dataplane *DataplaneFlags
}

// NewCmdCheck builds `kubectl svc-trace check`: every Service in scope,
// judged, with an exit code for CI.
func NewCmdCheck(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	f := &CheckFlags{ConfigFlags: cf}
	cmd := &cobra.Command{
		Use:   "check [SERVICE...] [flags]",
		Short: "Check every Service in scope and fail on findings (for CI)",
		Long: `Check Services with the same engine as the trace: every finding, with its stable code and
severity. Scope: the current namespace, -n NAMESPACE, -A for all namespaces, -l to select Services by
label, or named Services. Findings can be silenced with --ignore CODE or, per Service, with the
annotation svc-trace.io/ignore: "CODE,CODE".

Objects are read with a fixed number of list requests whatever the number of Services, or from
files with -f. A check never passes when it could not read what it was asked to check.

Output: table (default), json, yaml, junit (one testcase per Service, one failure per finding at or
above --fail-on) or markdown (a summary table and a Mermaid diagram per failing Service, for a GitHub
Actions step summary).

Exit status:
  0  every Service passed (no finding at or above --fail-on, default error)
  1  the check could not run: bad flags, unreadable files, forbidden or unreachable API
  3  at least one Service has a finding at or above --fail-on`,
		Example:       checkExample,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			o, err := f.ToOptions(args, streams)
			if err != nil {
				return err
			}
			return o.Run(c.Context())
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			tf := &TraceFlags{ConfigFlags: f.ConfigFlags, Filenames: f.Filenames, Recursive: f.Recursive}
			return completeServices(c.Context(), tf, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
	}
	f.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(formatNames(render.CheckFormats())...))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletion("error", "warning", "info", "never"))
	_ = cmd.RegisterFlagCompletionFunc("ignore", fixedCompletion(allCodes()...))
	_ = cmd.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))
	return cmd
}

func allCodes() []string {
	var out []string
	for _, c := range append(trace.AllCodes(), trace.DataplaneCodes()...) {
		out = append(out, c.Code)
	}
	return out
}

// AddFlags registers check's flags.
func (f *CheckFlags) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&f.AllNamespaces, "all-namespaces", "A", false, "Check Services in all namespaces.")
	fs.StringVarP(&f.Selector, "selector", "l", "", "Only Services matching this label selector (e.g. -l tier=web,env!=dev).")
	fs.StringSliceVarP(&f.Filenames, "filename", "f", nil, "Read objects from these files instead of the cluster (- for stdin). Repeatable.")
	fs.BoolVarP(&f.Recursive, "recursive", "R", false, "Process the directories given with -f recursively.")
	fs.StringVarP(&f.Output, "output", "o", "table", "Output format: table, json, yaml, junit or markdown.")
	fs.StringVar(&f.FailOn, "fail-on", "error", "Exit with status 3 when a Service has a finding of at least this severity: error, warning, info or never.")
	fs.StringSliceVar(&f.Ignore, "ignore", nil, "Finding codes to ignore (repeatable or comma-separated).")
	fs.StringVar(&f.Color, "color", "auto", "Colour the table: auto, always or never.")
	fs.IntVar(&f.WithNodes, "with-nodes", 0, "Also check the dataplane of up to N nodes (those hosting the most endpoints first): each Service's ClusterIP (and NodePort) through the node's real kube-proxy rules, via a short-lived helper pod per node. --with-nodes alone means 3.")
	fs.Lookup("with-nodes").NoOptDefVal = "3"
	f.Dataplane.AddHelperFlags(fs)
}

// ToOptions validates check's flags.
func (f *CheckFlags) ToOptions(args []string, streams genericiooptions.IOStreams) (*CheckOptions, error) {
	o := &CheckOptions{Names: args, flags: f.ConfigFlags, streams: streams, Ignore: map[string]bool{}, withNodes: f.WithNodes, dataplane: &f.Dataplane}
	if f.WithNodes < 0 {
		return nil, fmt.Errorf("invalid --with-nodes %d: give a number of nodes", f.WithNodes)
	}
	var err error
	if o.Format, err = render.ParseFormat(f.Output, render.CheckFormats()); err != nil {
		return nil, err
	}
	if o.FailOn, err = parseFailOn(f.FailOn); err != nil {
		return nil, err
	}
	if o.Color, err = useColor(f.Color, o.Format, streams.Out); err != nil {
		return nil, err
	}
	if o.Format != render.FormatTable {
		o.Color = false
	}
	known := map[string]bool{}
	for _, c := range allCodes() {
		known[c] = true
	}
	for _, c := range f.Ignore {
		c = strings.TrimSpace(c)
		if !known[c] {
			return nil, fmt.Errorf("unknown finding code %q in --ignore (known: %s)", c, strings.Join(allCodes(), ", "))
		}
		o.Ignore[c] = true
	}
	ns, explicit := namespaceOf(f.ConfigFlags)
	if f.AllNamespaces && explicit && len(args) > 0 {
		return nil, fmt.Errorf("a namespace and --all-namespaces cannot be combined with Service names")
	}
	o.Scope = cluster.Scope{Namespace: ns, AllNamespaces: f.AllNamespaces, LabelSelector: f.Selector}
	if len(f.Filenames) > 0 {
		o.files = &cluster.FileSource{Filenames: f.Filenames, Recursive: f.Recursive, Stdin: streams.In}
	}
	return o, nil
}

// Run reads the objects, analyzes each Service and renders the report.
func (o *CheckOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var objs *cluster.Objects
	var err error
	var client kubernetes.Interface
	if o.files != nil {
		objs, err = cluster.ReadFiles(*o.files)
	} else {
		var cerr error
		if client, cerr = newClient(o.flags); cerr != nil {
			return cerr
		}
		objs, err = cluster.ReadLive(ctx, client, o.Scope)
	}
	if err != nil {
		return err
	}
	svcs, err := objs.ServicesInScope(o.Scope, o.Names)
	if err != nil {
		return err
	}
	if len(svcs) == 0 && o.Scope.LabelSelector != "" {
		// A selector that matches nothing is most likely a typo in a CI
		// job: never report it as a pass.
		return fmt.Errorf("no services match the selector %q %s: nothing was checked", o.Scope.LabelSelector, scopeWhere(o.Scope))
	}
	var traces []*trace.ServiceTrace
	var snaps []*trace.Snapshot
	for _, s := range svcs {
		snap := objs.Snapshot(s)
		t, err := trace.Analyze(snap, trace.Options{})
		if err != nil {
			return fmt.Errorf("service %s/%s: %w", s.Namespace, s.Name, err)
		}
		traces = append(traces, t)
		snaps = append(snaps, snap)
	}
	if o.withNodes > 0 {
		if err := o.checkNodes(ctx, client, objs, traces, snaps); err != nil {
			return err
		}
	}
	annotations := map[string]map[string]bool{}
	for _, s := range svcs {
		annotations[s.Namespace+"/"+s.Name] = parseIgnore(s.Annotations[trace.IgnoreAnnotation])
	}
	report := trace.BuildCheckReport(traces, o.FailOn, func(t *trace.ServiceTrace, code string) bool {
		return o.Ignore[code] || annotations[t.Service.Namespace+"/"+t.Service.Name][code]
	})
	report.Warnings = objs.Warnings
	if err := render.CheckReport(o.streams.Out, report, render.Options{Format: o.Format, Color: o.Color}); err != nil {
		return err
	}
	if report.Summary.Failed > 0 {
		n := 0
		for _, r := range report.Services {
			n += len(trace.Failing(r.Findings, o.FailOn))
		}
		return &FindingsError{Count: n, FailOn: string(o.FailOn)}
	}
	return nil
}

// checkNodes inspects up to withNodes nodes — those hosting the most
// endpoints in scope first — and evaluates every proxied Service on each:
// its ClusterIP from the node itself and, when it has one, its NodePort from
// outside. Every disagreement with the API becomes a finding of that
// Service. A node that cannot be inspected fails the check.
func (o *CheckOptions) checkNodes(ctx context.Context, client kubernetes.Interface, objs *cluster.Objects, traces []*trace.ServiceTrace, snaps []*trace.Snapshot) error {
	count := map[string]int{}
	var targets []string
	for _, t := range traces {
		for _, ep := range t.Endpoints {
			if ep.Node != "" {
				count[ep.Node]++
			}
			if !containsString(targets, ep.IP) {
				targets = append(targets, ep.IP)
			}
		}
	}
	var nodes []string
	for n := range count {
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		for _, n := range objs.Nodes {
			nodes = append(nodes, n.Name)
		}
	}
	sort.Slice(nodes, func(i, j int) bool {
		if count[nodes[i]] != count[nodes[j]] {
			return count[nodes[i]] > count[nodes[j]]
		}
		return nodes[i] < nodes[j]
	})
	if len(nodes) > o.withNodes {
		nodes = nodes[:o.withNodes]
	}
	d := &dataplaneRun{flags: o.dataplane, cf: o.flags, client: client, objects: objs,
		stderr: func(format string, args ...any) { fmt.Fprintf(o.streams.ErrOut, format, args...) }}
	var dumps []*nodehelper.Dump
	var err error
	if o.dataplane.NodeDump != "" {
		dumps, err = nodehelper.LoadDumps(o.dataplane.NodeDump)
		if err == nil && len(dumps) > o.withNodes {
			dumps = dumps[:o.withNodes]
		}
	} else {
		if client == nil {
			return fmt.Errorf("--with-nodes needs a cluster, or --node-dump DIR with -f")
		}
		dumps, err = d.collect(ctx, nodes, targets, nil)
	}
	if err != nil {
		return fmt.Errorf("--with-nodes: %w", err)
	}
	for _, dump := range dumps {
		nd, err := nodeDataplane(dump)
		if err != nil {
			return err
		}
		for i := range objs.Nodes {
			if objs.Nodes[i].Name == nd.Name {
				applyNode(&nd, &objs.Nodes[i])
			}
		}
		for i, t := range traces {
			if t.Service.Headless || t.Service.Type == "ExternalName" {
				continue
			}
			ports := map[string][]rules.ServicePortInfo{}
			for _, fam := range []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol} {
				ports[string(fam)] = trace.ServicePortsFromObjects([]corev1.Service{*snaps[i].Service}, snaps[i].Slices, snaps[i].Pods, fam)
			}
			family := "IPv4"
			if len(t.Service.IPFamilies) > 0 {
				family = t.Service.IPFamilies[0]
			}
			src := ""
			for _, ip := range nd.NodeIPs {
				if ip.Is6() == (family == "IPv6") {
					src = ip.String()
					break
				}
			}
			if src == "" {
				continue
			}
			queries := []trace.TraceQuery{{From: trace.Source{Kind: trace.FromNode, Name: nd.Name, IP: src, Node: nd.Name}, Via: trace.ViaClusterIP}}
			if hasNodePort(t.Service) {
				ext := DefaultExternalSource
				if family == "IPv6" {
					ext = "2001:db8::10"
				}
				queries = append(queries, trace.TraceQuery{From: trace.Source{Kind: trace.FromExternal, IP: ext, Node: nd.Name}, Via: trace.ViaNodePort})
			}
			for _, q := range queries {
				if err := trace.Dataplane(t, trace.DataplaneInput{Query: q, Nodes: []trace.NodeDataplane{nd}, Ports: ports}); err != nil {
					return fmt.Errorf("service %s/%s on node %s: %w", t.Service.Namespace, t.Service.Name, nd.Name, err)
				}
			}
		}
	}
	return nil
}

func parseIgnore(v string) map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c != "" {
			m[c] = true
		}
	}
	return m
}

func scopeWhere(s cluster.Scope) string {
	if s.AllNamespaces {
		return "in any namespace"
	}
	return "in namespace " + s.Namespace
}
