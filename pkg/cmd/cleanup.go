package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/svctrace/kubectl-svc-trace/pkg/nodehelper"
)

// CleanupFlags are the flags of `cleanup`.
type CleanupFlags struct {
	ConfigFlags     *genericclioptions.ConfigFlags
	HelperNamespace string
	AllNamespaces   bool
}

// CleanupOptions are cleanup's validated options.
type CleanupOptions struct {
	Namespace string // "" = all namespaces
	streams   genericiooptions.IOStreams
	connect   func() (kubernetes.Interface, error)
}

// NewCmdCleanup builds `kubectl svc-trace cleanup`: delete helper pods left
// behind (--keep-helper, or a plugin killed with SIGKILL before its own
// cleanup ran), found by their managed-by label.
func NewCmdCleanup(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	f := &CleanupFlags{ConfigFlags: cf}
	cmd := &cobra.Command{
		Use:   "cleanup [--helper-namespace NS | -A]",
		Short: "Delete node helper pods left behind",
		Long: `Delete the node helper pods kubectl svc-trace created and did not delete: those kept with
--keep-helper, or left by a plugin that was killed before it could clean up (an
activeDeadlineSeconds backstop stops them after 10 minutes anyway). They are found by the label
` + nodehelper.Selector + `, in --helper-namespace (default kube-system) or, with -A, everywhere.

Exit status:
  0  nothing left (whether or not there was anything to delete)
  1  listing or deleting failed`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, _ []string) error {
			o, err := f.ToOptions(c.Flags(), streams)
			if err != nil {
				return usageError(c, err.Error())
			}
			return o.Run(c.Context())
		},
	}
	f.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers cleanup's flags.
func (f *CleanupFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.HelperNamespace, "helper-namespace", nodehelper.DefaultNamespace, "Namespace of the node helper pods.")
	fs.BoolVarP(&f.AllNamespaces, "all-namespaces", "A", false, "Delete helper pods in every namespace.")
}

// ToOptions validates cleanup's flags (fs tells a given --helper-namespace
// from its default).
func (f *CleanupFlags) ToOptions(fs *pflag.FlagSet, streams genericiooptions.IOStreams) (*CleanupOptions, error) {
	o := &CleanupOptions{Namespace: f.HelperNamespace, streams: streams}
	if f.AllNamespaces {
		if fs != nil && fs.Changed("helper-namespace") {
			return nil, errors.New("--helper-namespace and --all-namespaces cannot be combined")
		}
		o.Namespace = ""
	} else if o.Namespace == "" {
		return nil, errors.New("--helper-namespace must not be empty (or use -A)")
	}
	cf := f.ConfigFlags
	o.connect = func() (kubernetes.Interface, error) {
		cfg, err := restConfig(cf)
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(cfg)
	}
	return o, nil
}

// Run deletes the helper pods and lists them on stdout.
func (o *CleanupOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	client, err := o.connect()
	if err != nil {
		return err
	}
	deleted, err := nodehelper.Cleanup(ctx, client, o.Namespace)
	for _, p := range deleted {
		fmt.Fprintf(o.streams.Out, "pod %s deleted\n", p)
	}
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		where := "namespace " + o.Namespace
		if o.Namespace == "" {
			where = "any namespace"
		}
		fmt.Fprintf(o.streams.ErrOut, "No node helper pods found in %s.\n", where)
	}
	return nil
}
