// Command coredns-manifests renders kubeadm's CoreDNS add-on manifests
// exactly as `kubeadm init` does, from the k8s.io/kubernetes source in the Go
// module cache, for hack/record-coredns-manifests.sh.
//
// It reads the string constants of
// cmd/kubeadm/app/phases/addons/dns/manifests.go (CoreDNSServiceAccount,
// CoreDNSClusterRole, CoreDNSClusterRoleBinding, CoreDNSConfigMap,
// CoreDNSDeployment, CoreDNSService) and the values kubeadm fills them with
// (cmd/kubeadm/app/constants/constants.go: CoreDNSDeploymentName,
// CoreDNSVersion, LabelNodeRoleControlPlane) with go/parser, and executes the
// templates with the same parameter structs as dns.go coreDNSAddon, so the
// output is kubeadm's, not a transcription that could drift. The parameters
// kubeadm takes from its configuration are kubeadm's defaults: DNSDomain
// cluster.local, image registry.k8s.io/coredns/coredns:<CoreDNSVersion>
// (images.GetDNSImage), 2 replicas (coreDNSReplicas), DNSIP the 10th address
// of the service CIDR (10.96.0.10 for 10.96.0.0/16).
//
// Usage: coredns-manifests KUBERNETES_SOURCE_DIR DNS_IP DNS_DOMAIN
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/template"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "coredns-manifests:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: coredns-manifests KUBERNETES_SOURCE_DIR DNS_IP DNS_DOMAIN")
	}
	src, dnsIP, domain := args[0], args[1], args[2]
	manifests, err := stringConsts(filepath.Join(src, "cmd/kubeadm/app/phases/addons/dns/manifests.go"))
	if err != nil {
		return err
	}
	consts, err := stringConsts(filepath.Join(src, "cmd/kubeadm/app/constants/constants.go"))
	if err != nil {
		return err
	}
	need := func(m map[string]string, k string) (string, error) {
		v, ok := m[k]
		if !ok {
			return "", fmt.Errorf("constant %s not found in the kubeadm source", k)
		}
		return v, nil
	}
	version, err := need(consts, "CoreDNSVersion")
	if err != nil {
		return err
	}
	deployName, err := need(consts, "CoreDNSDeploymentName")
	if err != nil {
		return err
	}
	taint, err := need(consts, "LabelNodeRoleControlPlane")
	if err != nil {
		return err
	}
	replicas := int32(2) // dns.go coreDNSReplicas

	docs := []struct {
		name string
		data any
	}{
		{"CoreDNSServiceAccount", nil},
		{"CoreDNSClusterRole", nil},
		{"CoreDNSClusterRoleBinding", nil},
		{"CoreDNSConfigMap", struct{ DNSDomain, UpstreamNameserver, StubDomain string }{DNSDomain: domain}},
		{"CoreDNSDeployment", struct {
			DeploymentName, Image, ControlPlaneTaintKey string
			Replicas                                    *int32
		}{deployName, "registry.k8s.io/coredns/coredns:" + version, taint, &replicas}},
		{"CoreDNSService", struct{ DNSIP string }{dnsIP}},
	}
	var b bytes.Buffer
	for _, d := range docs {
		text, err := need(manifests, d.name)
		if err != nil {
			return err
		}
		// kubeadmutil.ParseTemplate: text/template, executed into a buffer.
		t, err := template.New(d.name).Parse(text)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		fmt.Fprintf(&b, "---\n# kubeadm %s\n", d.name)
		var doc bytes.Buffer
		if err := t.Execute(&doc, d.data); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		b.Write(bytes.TrimLeft(doc.Bytes(), "\n"))
	}
	_, err = out.Write(b.Bytes())
	return err
}

// stringConsts returns every string constant of a Go file, by name.
func stringConsts(path string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", path, n.Name, err)
				}
				out[n.Name] = s
			}
		}
	}
	return out, nil
}
