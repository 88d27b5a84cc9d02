package cmd

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/svctrace/kubectl-svc-trace/pkg/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// examples returns the recorded seed scenarios: examples/<service>.yaml,
// saved from the real test cluster by hack/record-examples.sh.
func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if filepath.Base(f) != "all.yaml" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("no examples under examples/: run hack/record-examples.sh")
	}
	return out
}

// run executes the plugin in-process and returns stdout, stderr and the
// exit code.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	in := strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	code := Execute(args, genericiooptions.IOStreams{In: in, Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/cmd -run Golden -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file (go test ./pkg/cmd -run Golden -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenTraceOutputs(t *testing.T) {
	for _, file := range examples(t) {
		svc := strings.TrimSuffix(filepath.Base(file), ".yaml")
		for _, format := range []string{"tree", "wide", "json", "yaml"} {
			t.Run(svc+"/"+format, func(t *testing.T) {
				out, errOut, code := run(t, "", "-f", file, svc, "-o", format, "--color=never")
				if code != ExitOK {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				golden(t, svc+"."+format, []byte(out))
			})
		}
	}
}

func TestGoldenColor(t *testing.T) {
	file := "../../examples/readiness-svc.yaml"
	out, errOut, code := run(t, "", "-f", file, "readiness-svc", "--color=always")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "\x1b[") {
		t.Fatal("--color=always printed no colour")
	}
	golden(t, "readiness-svc.tree.color", []byte(out))
	// Machine formats never carry colour, even when forced.
	out, _, _ = run(t, "", "-f", file, "readiness-svc", "-o", "json", "--color=always")
	if strings.Contains(out, "\x1b[") {
		t.Error("colour codes in JSON output")
	}
	// NO_COLOR and a non-terminal writer keep auto off.
	t.Setenv("NO_COLOR", "1")
	out, _, _ = run(t, "", "-f", file, "readiness-svc")
	if strings.Contains(out, "\x1b[") {
		t.Error("colour with NO_COLOR / not a terminal")
	}
}

// TestJSONContract pins the field names CI scripts depend on.
func TestJSONContract(t *testing.T) {
	out, _, code := run(t, "", "-f", "../../examples/readiness-svc.yaml", "readiness-svc", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["apiVersion"] != trace.APIVersion || doc["kind"] != "ServiceTrace" {
		t.Errorf("apiVersion/kind: %v %v", doc["apiVersion"], doc["kind"])
	}
	svc := doc["service"].(map[string]any)
	for _, k := range []string{"namespace", "name", "type"} {
		if _, ok := svc[k]; !ok {
			t.Errorf("service.%s missing", k)
		}
	}
	eps := doc["endpoints"].([]any)
	if len(eps) == 0 {
		t.Fatal("no endpoints")
	}
	for _, e := range eps {
		m := e.(map[string]any)
		for _, k := range []string{"ip", "port", "state", "pod", "node"} {
			if _, ok := m[k]; !ok {
				t.Errorf("endpoints[].%s missing in %v", k, m)
			}
		}
		switch m["state"] {
		case "ready", "serving-terminating", "not-ready":
		default:
			t.Errorf("bad state %v", m["state"])
		}
	}
	fs := doc["findings"].([]any)
	if len(fs) == 0 {
		t.Fatal("readiness-svc should have findings")
	}
	for _, f := range fs {
		m := f.(map[string]any)
		for _, k := range []string{"code", "severity", "message"} {
			if _, ok := m[k]; !ok {
				t.Errorf("findings[].%s missing", k)
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	file := "../../examples/nomatch-svc.yaml"
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"-f", file, "nomatch-svc"}, ExitOK, ""},
		{[]string{"-f", file, "nomatch-svc", "--fail-on=error"}, ExitFindings, "--fail-on=error"},
		{[]string{"-f", file, "nomatch-svc", "--fail-on=never"}, ExitOK, ""},
		{[]string{"-f", file, "missing-svc"}, ExitFailure, `services "missing-svc" not found`},
		{[]string{"-f", file, "nomatch-svc", "--fail-on=fatal"}, ExitFailure, "invalid --fail-on"},
		{[]string{"-f", file, "nomatch-svc", "-o", "xml"}, ExitFailure, "allowed formats are"},
		{[]string{"-f", file, "nomatch-svc", "--port", "nope"}, ExitFailure, `has no port "nope"`},
		{[]string{"--no-such-flag"}, ExitFailure, "unknown flag"},
		{[]string{}, ExitFailure, "SERVICE is required"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, errOut, code := run(t, "", c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, errOut)
			}
			if c.err != "" && !strings.Contains(errOut, c.err) {
				t.Errorf("stderr %q lacks %q", errOut, c.err)
			}
		})
	}
}

func TestStdinAndVersion(t *testing.T) {
	data, err := os.ReadFile("../../examples/ngx-dep-svc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, string(data), "-f", "-", "ngx-dep-svc", "-o", "json")
	if code != ExitOK || !strings.Contains(out, `"name": "ngx-dep-svc"`) {
		t.Fatalf("stdin: exit %d %s", code, errOut)
	}
	out, _, code = run(t, "", "version", "-o", "json")
	var v VersionInfo
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" {
		t.Fatalf("version: %d %q", code, out)
	}
}
