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

// TestDNSGolden runs `svc-trace dns` offline (-f) and compares the output
// byte for byte with testdata/dns/*.golden (go test ./pkg/cmd -run DNSGolden
// -update to accept a change).
func TestDNSGolden(t *testing.T) {
	dir := filepath.Join("testdata", "dns")
	common := []string{"-f", filepath.Join(dir, "objects.yaml"), "--node-resolv-conf", filepath.Join(dir, "node-resolv.conf"), "--records", filepath.Join(dir, "records.yaml")}
	cases := []struct {
		name string
		args []string
	}{
		{"baidu-auto-musl", []string{"www.baidu.com", "--from", "pod/client"}},
		{"baidu-glibc-json", []string{"www.baidu.com", "--from", "pod/client", "--resolver", "glibc", "-o", "json"}},
		{"prometheus-go", []string{"prometheus-k8s.monitoring", "--from", "pod/client", "--resolver", "go"}},
		{"externalname-dead-glibc", []string{"kafka-ext", "--from", "pod/client", "--resolver", "glibc"}},
		{"own-hostname", []string{"web-0", "--from", "pod/web-0", "--resolver", "glibc"}},
		{"headless-ndots2", []string{"web.default", "--from", "pod/web-0", "--resolver", "musl-1.2.3"}},
		{"srv-single", []string{"_http._tcp.web.default.svc.cluster.local", "--from", "pod/client", "--type", "SRV"}},
		{"ptr-single", []string{"10.96.10.10", "--from", "pod/client", "--type", "PTR"}},
		{"kafka-glibc-color", []string{"kafka-ext", "--from", "pod/client", "--resolver", "glibc", "--color", "always"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
			cf := genericclioptions.NewConfigFlags(true)
			ns := "default"
			cf.Namespace = &ns
			cmd := NewCmdDNS(streams, cf)
			args := append(append([]string{}, c.args...), common...)
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
