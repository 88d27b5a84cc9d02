package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestDNSGolden runs `svc-trace dns` offline (-f) on objects recorded from
// the real harness cluster with the real CoreDNS (testdata/dns/objects.yaml
// and node-resolv.conf, by hack/record-dns-objects.sh) and compares the
// output byte for byte with testdata/dns/*.golden (go test ./pkg/cmd -run
// DNSGolden -update to accept a change). records.yaml is the user's what-if
// input for the upstream names (written by hand, as users write it).
func TestDNSGolden(t *testing.T) {
	dir := filepath.Join("testdata", "dns")
	common := []string{"-f", filepath.Join(dir, "objects.yaml"), "--node-resolv-conf", filepath.Join(dir, "node-resolv.conf"), "--records", filepath.Join(dir, "records.yaml")}
	cases := []struct {
		name string
		args []string
	}{
		// The seed material's examples (issue #4): 1 round, 2 rounds, 4
		// rounds with 3 NXDOMAIN, 1 round with a trailing dot, as-is first
		// for a 5-dot name.
		{"nginx-svc-glibc", []string{"nginx-svc", "--from", "pod/dns-client", "--resolver", "glibc"}},
		{"prometheus-go", []string{"prometheus-k8s.monitoring", "--from", "pod/dns-client", "--resolver", "go"}},
		{"baidu-glibc-json", []string{"www.baidu.com", "--from", "pod/dns-client", "--resolver", "glibc", "-o", "json"}},
		{"baidu-musl", []string{"www.baidu.com", "--from", "pod/dns-client", "--resolver", "musl"}},
		{"baidu-fqdn", []string{"www.baidu.com.", "--from", "pod/dns-client", "--resolver", "glibc"}},
		{"five-dots-glibc", []string{"sls.doc.dc.wiki.tbchip.com", "--from", "pod/dns-client", "--resolver", "glibc"}},
		// Divergences and cluster records, on the recorded cluster.
		{"externalname-dead-glibc", []string{"ngx-external", "--from", "pod/dns-client", "--resolver", "glibc"}},
		{"externalname-dead-color", []string{"ngx-external", "--from", "pod/dns-client", "--resolver", "go", "--color", "always"}},
		{"own-hostname", []string{"web-0", "--from", "pod/web-0", "-n", "svct-dns", "--resolver", "glibc"}},
		{"headless-ndots2-musl123", []string{"web.svct-dns", "--from", "pod/client-cfg", "-n", "svct-dns", "--resolver", "musl-1.2.3"}},
		{"namespace-nodata-musl", []string{"svct-dns-empty", "--from", "pod/client", "-n", "svct-dns", "--resolver", "musl"}},
		{"dnspolicy-default-yaml", []string{"api.svct-dns", "--from", "pod/client-default", "-n", "svct-dns", "--resolver", "glibc", "-o", "yaml"}},
		{"srv-headless", []string{"_http._tcp.web.svct-dns.svc.cluster.local", "--from", "pod/dns-client", "--type", "SRV"}},
		{"ptr-kube-dns", []string{"10.96.0.10", "--from", "pod/dns-client", "--type", "PTR"}},
		{"ns-dns", []string{"ns.dns.cluster.local", "--from", "pod/dns-client", "--type", "A"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
			cf := genericclioptions.NewConfigFlags(true)
			ns := "default"
			cf.Namespace = &ns
			var args []string
			for i := 0; i < len(c.args); i++ {
				if c.args[i] == "-n" {
					ns = c.args[i+1]
					i++
					continue
				}
				args = append(args, c.args[i])
			}
			cmd := NewCmdDNS(streams, cf)
			args = append(args, common...)
			if !strings.Contains(strings.Join(c.args, " "), "--color") {
				args = append(args, "--color", "never")
			}
			cmd.SetArgs(args)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			golden := filepath.Join(dir, c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/cmd -run DNSGolden -update)", err)
			}
			if out.String() != string(want) {
				t.Errorf("output differs from %s (-update to accept):\n--- got\n%s\n--- want\n%s", golden, out.String(), want)
			}
		})
	}
}

func TestDNSFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"x"}, "give --from pod/NAME"},
		{[]string{"x", "--from", "deploy/x"}, "want pod/NAME"},
		{[]string{"x", "--from", "pod/a", "--resolver", "uclibc"}, "unknown resolver"},
		{[]string{"x", "--from", "pod/a", "--family", "ipx"}, "unknown address family"},
		{[]string{"x", "--from", "pod/a", "--type", "MX"}, "invalid --type"},
		{[]string{"x", "--from", "pod/a", "--cluster-dns", "not-ip"}, "invalid --cluster-dns"},
		{[]string{"x", "--from", "pod/missing", "-f", "testdata/dns/objects.yaml"}, "pod default/missing not found"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		cf := genericclioptions.NewConfigFlags(true)
		ns := "default"
		cf.Namespace = &ns
		cmd := NewCmdDNS(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, cf)
		cmd.SetArgs(c.args)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
