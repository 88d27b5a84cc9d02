// Package cmd holds the cobra commands of kubectl-svc-trace: flags are
// parsed here into typed options, and the engine packages (cluster, trace,
// render) get plain values. It is the only package that imports cobra.
package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // exec, OIDC and other auth plugins, as kubectl has them

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
	"github.com/svctrace/kubectl-svc-trace/pkg/render"
	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

const traceExample = `  # Explain how Service ngx-dep-svc in the current namespace is wired
  kubectl svc-trace ngx-dep-svc

  # One port of a Service in another namespace, as a table
  kubectl svc-trace kube-dns -n kube-system --port dns-tcp -o wide

  # From saved objects, no cluster needed (kubectl get ... -o yaml output)
  kubectl svc-trace -f objects.yaml ngx-dep-svc

  # In CI: machine-readable, failing on errors
  kubectl svc-trace ngx-dep-svc -o json --fail-on=error`

// TraceFlags are the flags of the trace (root) command, as given.
type TraceFlags struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Output      string
	Port        string
	Filenames   []string
	Recursive   bool
	Color       string
	FailOn      string
	Dataplane   DataplaneFlags
}

// TraceOptions are the validated, typed options Run uses.
type TraceOptions struct {
	Namespace         string
	ExplicitNamespace bool
	Name              string
	Format            render.Format
	Color             bool
	FailOn            trace.Severity // "" = never
	Files             *cluster.FileSource
	Engine            trace.Options
	reader            cluster.Reader
	dataplane         *dataplaneRun
	streams           genericiooptions.IOStreams
}

// NewCmdSvcTrace builds the root command: `kubectl svc-trace SERVICE`.
func NewCmdSvcTrace(streams genericiooptions.IOStreams) *cobra.Command {
	f := &TraceFlags{ConfigFlags: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   "svc-trace SERVICE [flags]",
		Short: "Explain why traffic to a Service does or doesn't reach its pods",
		Long: `Explain how a Service is wired: its addresses and ports, its endpoints split the way
kube-proxy splits them (ready, serving-terminating, not ready) with the reason for each,
the pods behind it, and findings with stable codes and advice.

Objects are read from the cluster in the current context, or from files with -f
(kubectl get -o yaml|json output, Lists or multi-document YAML; - for stdin).
` + exitCodesHelp,
		Example:       traceExample,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl svc-trace"},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(c, "SERVICE is required")
			}
			o, err := f.ToOptions(c, args, streams)
			if err != nil {
				return err
			}
			return o.Run(c.Context())
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeServices(c.Context(), f, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c, err.Error())
	})
	f.AddFlags(cmd.Flags())
	f.Dataplane.AddFlags(cmd.Flags())
	f.ConfigFlags.AddFlags(cmd.PersistentFlags())
	hideKubeFlags(cmd.PersistentFlags())
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(formatNames(render.TraceFormats())...))
	_ = cmd.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletion("never", "error", "warning", "info"))
	_ = cmd.RegisterFlagCompletionFunc("namespace", func(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeNamespaces(c.Context(), f.ConfigFlags, toComplete), cobra.ShellCompDirectiveNoFileComp
	})

	cmd.AddCommand(NewCmdVersion(streams))
	cmd.AddCommand(NewCmdCheck(streams, f.ConfigFlags))
	cmd.AddCommand(NewCmdDNS(streams, f.ConfigFlags))
	cmd.AddCommand(NewCmdEval(streams))
	cmd.AddCommand(NewCmdCollect(streams, f.ConfigFlags))
	cmd.AddCommand(NewCmdCleanup(streams, f.ConfigFlags))
	return cmd
}

// AddFlags registers the trace flags.
func (f *TraceFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Output, "output", "o", "tree", "Output format: tree, wide, json, yaml, mermaid or dot.")
	fs.StringVar(&f.Port, "port", "", "Trace only this service port, by name or number.")
	fs.StringSliceVarP(&f.Filenames, "filename", "f", nil, "Read objects from these files, directories or URLs instead of the cluster (kubectl get -o yaml|json output; - for stdin). Repeatable.")
	fs.BoolVarP(&f.Recursive, "recursive", "R", false, "Process the directories given with -f recursively.")
	fs.StringVar(&f.Color, "color", "auto", "Colour the human output: auto (on a terminal, unless NO_COLOR is set), always or never.")
	fs.StringVar(&f.FailOn, "fail-on", "never", "Exit with status 3 when a finding has at least this severity: error, warning, info or never.")
}

// hideKubeFlags keeps the rarely used kubeconfig overrides working but out
// of --help, as stern does.
func hideKubeFlags(fs *pflag.FlagSet) {
	for _, n := range []string{"as-group", "as-uid", "cache-dir", "certificate-authority", "client-certificate", "client-key",
		"insecure-skip-tls-verify", "tls-server-name", "token", "user", "username", "password", "disable-compression", "server", "cluster"} {
		_ = fs.MarkHidden(n)
	}
}

// ToOptions validates the flags and resolves namespace, format and source.
func (f *TraceFlags) ToOptions(c *cobra.Command, args []string, streams genericiooptions.IOStreams) (*TraceOptions, error) {
	o := &TraceOptions{Name: args[0], streams: streams, Engine: trace.Options{Port: f.Port}}
	var err error
	if o.Format, err = render.ParseFormat(f.Output, render.TraceFormats()); err != nil {
		return nil, err
	}
	if o.FailOn, err = parseFailOn(f.FailOn); err != nil {
		return nil, err
	}
	if o.Color, err = useColor(f.Color, o.Format, streams.Out); err != nil {
		return nil, err
	}
	o.Namespace, o.ExplicitNamespace = namespaceOf(f.ConfigFlags)
	if len(f.Filenames) > 0 {
		o.Files = &cluster.FileSource{Filenames: f.Filenames, Recursive: f.Recursive, Stdin: streams.In}
		objs, err := cluster.ReadFiles(*o.Files)
		if err != nil {
			return nil, err
		}
		o.reader = &cluster.FileReader{Objects: objs, ExplicitNamespace: o.ExplicitNamespace}
		if f.Dataplane.wanted() {
			o.dataplane = &dataplaneRun{flags: &f.Dataplane, cf: f.ConfigFlags, objects: objs, stderr: o.warnf}
		}
		return o, nil
	}
	client, err := newClient(f.ConfigFlags)
	if err != nil {
		return nil, err
	}
	o.reader = &cluster.Live{Client: client}
	if f.Dataplane.wanted() {
		o.dataplane = &dataplaneRun{flags: &f.Dataplane, cf: f.ConfigFlags, client: client, stderr: o.warnf}
	}
	return o, nil
}

// Run reads the snapshot, analyzes it and renders the result.
func (o *TraceOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	snap, err := o.reader.Snapshot(ctx, o.Namespace, o.Name)
	if err != nil {
		if o.Files != nil && apierrors.IsNotFound(err) {
			return &localNotFound{fmt.Errorf("%w in the objects given with -f", err)}
		}
		return err
	}
	t, err := trace.Analyze(snap, o.Engine)
	if err != nil {
		return err
	}
	if o.dataplane != nil {
		if err := o.dataplane.run(ctx, t, snap); err != nil {
			return err
		}
	}
	if err := render.ServiceTrace(o.streams.Out, t, render.Options{Format: o.Format, Color: o.Color}); err != nil {
		return err
	}
	return failOnFindings(t.Findings, o.FailOn)
}

// warnf prints progress and warnings to stderr, never stdout.
func (o *TraceOptions) warnf(format string, args ...any) {
	fmt.Fprintf(o.streams.ErrOut, format, args...)
}

func failOnFindings(fs []trace.Finding, failOn trace.Severity) error {
	if failOn == "" {
		return nil
	}
	n := 0
	for _, f := range fs {
		if f.Severity.Rank() >= failOn.Rank() {
			n++
		}
	}
	if n > 0 {
		return &FindingsError{Count: n, FailOn: string(failOn)}
	}
	return nil
}

func parseFailOn(s string) (trace.Severity, error) {
	switch s {
	case "never", "":
		return "", nil
	case "error", "warning", "info":
		return trace.Severity(s), nil
	}
	return "", fmt.Errorf("invalid --fail-on %q: use error, warning, info or never", s)
}

// useColor decides colour on the real writer: --color=always forces it,
// never and machine formats disable it, auto needs a terminal, no NO_COLOR
// and a TERM other than dumb.
func useColor(mode string, format render.Format, out io.Writer) (bool, error) {
	switch mode {
	case "always", "never", "auto":
	default:
		return false, fmt.Errorf("invalid --color %q: use auto, always or never", mode)
	}
	if format == render.FormatJSON || format == render.FormatYAML || mode == "never" {
		return false, nil
	}
	if mode == "always" {
		return true, nil
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok || os.Getenv("TERM") == "dumb" {
		return false, nil
	}
	f, ok := out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())), nil
}

// namespaceOf returns the namespace to use and whether -n set it.
func namespaceOf(cf *genericclioptions.ConfigFlags) (string, bool) {
	if cf.Namespace != nil && *cf.Namespace != "" {
		return *cf.Namespace, true
	}
	ns, _, err := cf.ToRawKubeConfigLoader().Namespace()
	if err != nil || ns == "" {
		return "default", false
	}
	return ns, false
}

func newClient(cf *genericclioptions.ConfigFlags) (kubernetes.Interface, error) {
	cfg, err := cf.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "kubectl-svc-trace/" + version
	return kubernetes.NewForConfig(cfg)
}

func usageError(c *cobra.Command, msg string) error {
	return fmt.Errorf("%s\nSee '%s -h' for help and examples", msg, c.CommandPath())
}

func formatNames(fs []render.Format) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func filterPrefix(xs []string, prefix string) []string {
	var out []string
	for _, x := range xs {
		if strings.HasPrefix(x, prefix) {
			out = append(out, x)
		}
	}
	return out
}
