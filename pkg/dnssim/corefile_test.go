package dnssim

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseCorefileKubeadm(t *testing.T) {
	b, err := os.ReadFile("testdata/corefile/kubeadm-v1.36.3.Corefile")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := ParseCorefile("Corefile", string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Kubernetes, KubeadmDefaultPlugin("cluster.local")) {
		t.Errorf("got %+v\nwant %+v", cf.Kubernetes, KubeadmDefaultPlugin("cluster.local"))
	}
	if cf.Kubernetes.ClusterDomain() != "cluster.local" {
		t.Errorf("domain %q", cf.Kubernetes.ClusterDomain())
	}
}

func TestParseCorefileOptions(t *testing.T) {
	cf, err := ParseCorefile("Corefile", `
# comment
example.org:53 {
    forward . 8.8.8.8
}
.:53 {
    autopath @kubernetes
    kubernetes {
        pods verified
        ttl 10
        endpoint_pod_names
        ignore empty_service
        fallthrough
        namespaces default prod
    }
    rewrite name foo bar
}
`)
	if err != nil {
		t.Fatal(err)
	}
	k := cf.Kubernetes
	if !reflect.DeepEqual(k.Zones, []string{"."}) || k.Pods != PodsVerified || k.TTL != 10 || !k.EndpointPodNames || !k.IgnoreEmptyService ||
		!k.HasFallthru || len(k.Fallthrough) != 0 || !reflect.DeepEqual(k.Namespaces, []string{"default", "prod"}) {
		t.Errorf("%+v", k)
	}
	if !cf.Autopath || len(cf.Notes) != 2 {
		t.Errorf("autopath %v notes %q", cf.Autopath, cf.Notes)
	}
	def, err := ParseCorefile("c", "cluster.local { kubernetes\n}\n")
	if err != nil || def.Kubernetes.Pods != PodsDisabled || def.Kubernetes.TTL != 5 || def.Kubernetes.Zones[0] != "cluster.local." {
		t.Errorf("plugin defaults: %+v %v", def, err)
	}
}

func TestParseCorefileErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{".:53 {\n forward . 1.1.1.1\n}\n", "no kubernetes plugin"},
		{".:53 {\n kubernetes cluster.local {\n pods sometimes\n }\n}\n", "Corefile:3: pods: want one of"},
		{".:53 {\n kubernetes cluster.local {\n ttl 9999\n }\n}\n", "Corefile:3: ttl \"9999\""},
		{".:53 {\n kubernetes cluster.local\n", "Corefile:1: server block opened here is not closed"},
		{".:53 {\n kubernetes cluster.local {\n pods insecure\n", "Corefile:2: kubernetes block is not closed"},
		{".:53 {\n hosts \"unterminated\n}", "unterminated quoted string"},
		{".:53 {\n kubernetes cluster.local {\n frobnicate\n }\n}\n", `unknown property "frobnicate"`},
	}
	for _, c := range cases {
		_, err := ParseCorefile("Corefile", c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.in, err, c.want)
		}
	}
}

func FuzzParseCorefile(f *testing.F) {
	if b, err := os.ReadFile("testdata/corefile/kubeadm-v1.36.3.Corefile"); err == nil {
		f.Add(string(b))
	}
	f.Add(".:53 { kubernetes a.b { pods verified\n}\n}")
	f.Fuzz(func(t *testing.T, s string) {
		cf, err := ParseCorefile("fuzz", s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		_ = cf.Kubernetes.ClusterDomain()
	})
}
