package cmd

import (
	"bytes"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
)

// dnsExtras are the objects of -f files the dns command reads beyond what a
// trace reads (cluster.ReadFiles keeps Services, EndpointSlices, Endpoints,
// Pods, Nodes and Events): the Namespaces, because CoreDNS answers NXDOMAIN
// for any name in a namespace that does not exist and NODATA for
// "<ns>.svc.<zone>" when it does; and the CoreDNS ConfigMap
// (kube-system/coredns), whose Corefile decides pods mode, TTL and caching.
type dnsExtras struct {
	namespaces []string
	corefile   string
	corefileAt string
}

// readFilesWithExtras reads the files once for cluster.ReadFiles and once
// more for the extra kinds. Standard input can be read only once, so it is
// buffered and handed to both readers.
func readFilesWithExtras(src cluster.FileSource) (*cluster.Objects, *dnsExtras, error) {
	var stdin []byte
	for _, f := range src.Filenames {
		if f == "-" && src.Stdin != nil {
			b, err := io.ReadAll(src.Stdin)
			if err != nil {
				return nil, nil, fmt.Errorf("-f -: %w", err)
			}
			stdin = b
			break
		}
	}
	first := src
	if stdin != nil {
		first.Stdin = bytes.NewReader(stdin)
	}
	objs, err := cluster.ReadFiles(first)
	if err != nil {
		return nil, nil, err
	}
	b := resource.NewLocalBuilder().Unstructured().ContinueOnError().Flatten()
	var paths []string
	for _, f := range src.Filenames {
		if f == "-" {
			b = b.Stream(bytes.NewReader(stdin), "STDIN")
			continue
		}
		paths = append(paths, f)
	}
	if len(paths) > 0 {
		b = b.FilenameParam(false, &resource.FilenameOptions{Filenames: paths, Recursive: src.Recursive})
	}
	ex := &dnsExtras{}
	err = b.Do().Visit(func(info *resource.Info, err error) error {
		if err != nil {
			return err
		}
		u, ok := info.Object.(*unstructured.Unstructured)
		if !ok || u.GetAPIVersion() != "v1" {
			return nil
		}
		switch u.GetKind() {
		case "Namespace":
			ex.namespaces = append(ex.namespaces, u.GetName())
		case "ConfigMap":
			if u.GetNamespace() != "kube-system" || u.GetName() != "coredns" {
				return nil
			}
			cf, found, err := unstructured.NestedString(u.Object, "data", "Corefile")
			if err != nil {
				return fmt.Errorf("%s configmap kube-system/coredns: data.Corefile: %w", info.Source, err)
			}
			if found {
				ex.corefile, ex.corefileAt = cf, fmt.Sprintf("configmap kube-system/coredns in %s", info.Source)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return objs, ex, nil
}
