package cmd

import (
	"context"
	"slices"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
)

// completionTimeout keeps shell completion snappy on a slow cluster.
const completionTimeout = 5 * time.Second

// completeServices lists Service names for shell completion: from the -f
// files when given, else from the cluster's namespace.
func completeServices(ctx context.Context, f *TraceFlags, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ns, _ := namespaceOf(f.ConfigFlags)
	var names []string
	if len(f.Filenames) > 0 {
		objs, err := cluster.ReadFiles(cluster.FileSource{Filenames: f.Filenames, Recursive: f.Recursive})
		if err != nil {
			return nil
		}
		for _, s := range objs.Services {
			names = append(names, s.Name)
		}
	} else {
		client, err := newClient(f.ConfigFlags)
		if err != nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		list, err := client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil
		}
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
	}
	sort.Strings(names)
	// cobra's __complete parses the flags twice (getCompletions: once with a
	// trailing "--" to count arguments, then for real), so a slice flag such
	// as -f holds every file twice here; and one Service may also be in two
	// files. Offer each name once.
	names = slices.Compact(names)
	return filterPrefix(names, prefix)
}

func completeNamespaces(ctx context.Context, cf *genericclioptions.ConfigFlags, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	client, err := newClient(cf)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var names []string
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return filterPrefix(names, prefix)
}
