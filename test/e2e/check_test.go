//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svctrace/kubectl-svc-trace/pkg/cluster"
)

// TestCheck runs `check` against the real control plane with the seed
// scenarios: the known-broken Services fail, the healthy ones pass, the
// exit code says so, and the JUnit report is valid.
func TestCheck(t *testing.T) {
	needPlugin(t)
	broken := map[string]string{
		"nomatch-svc":     "SelectorMatchesNoPods",
		"allgated-svc":    "NoReadyEndpoints",
		"broken-port-svc": "NamedPortUnresolved",
		"orphan-svc":      "NoSelectorNoEndpoints",
	}
	healthy := []string{"ngx-dep-svc", "nginx-svc", "multi-port-svc", "ngx-nodeport", "affinity-svc", "dual-svc", "pnra-svc"}

	r := runPlugin(t, "check", "-n", "default", "-o", "json")
	if r.exit != 3 {
		t.Fatalf("check with broken Services: exit %d, want 3 (stderr %s)", r.exit, r.stderr)
	}
	var rep struct {
		Kind     string
		Summary  struct{ Services, Failed int }
		Services []struct {
			Name, Status string
			Findings     []struct{ Code, Severity string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, r.stdout)
	}
	status := map[string]string{}
	codes := map[string][]string{}
	for _, s := range rep.Services {
		status[s.Name] = s.Status
		for _, f := range s.Findings {
			codes[s.Name] = append(codes[s.Name], f.Code)
		}
	}
	for svc, code := range broken {
		if status[svc] != "fail" || !strings.Contains(strings.Join(codes[svc], ","), code) {
			t.Errorf("%s: status %q findings %v, want fail with %s", svc, status[svc], codes[svc], code)
		}
	}
	for _, svc := range healthy {
		if status[svc] != "pass" {
			t.Errorf("%s: status %q (findings %v), want pass", svc, status[svc], codes[svc])
		}
	}
	if rep.Summary.Failed != len(broken) {
		t.Errorf("summary failed=%d, want %d", rep.Summary.Failed, len(broken))
	}

	// Named healthy Services pass with exit 0; ignoring the broken codes
	// turns the whole namespace green.
	if r := runPlugin(t, append([]string{"check", "-n", "default"}, healthy...)...); r.exit != 0 {
		t.Errorf("healthy services: exit %d\n%s%s", r.exit, r.stdout, r.stderr)
	}
	ignore := []string{}
	for _, c := range broken {
		ignore = append(ignore, c)
	}
	if r := runPlugin(t, "check", "-n", "default", "--ignore", strings.Join(ignore, ",")); r.exit != 0 {
		t.Errorf("with --ignore: exit %d\n%s", r.exit, r.stdout)
	}
	// A check that cannot read what it was asked to check never passes.
	if r := runPlugin(t, "check", "-n", "default", "-l", "no-such=label"); r.exit != 1 {
		t.Errorf("selector matching nothing: exit %d, want 1", r.exit)
	}

	// JUnit: parses, one testcase per Service, valid against docs/junit.xsd
	// when xmllint is installed (hack/release-deps.sh installs it).
	r = runPlugin(t, "check", "-n", "default", "-o", "junit")
	if r.exit != 3 {
		t.Fatalf("junit: exit %d", r.exit)
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name     string `xml:"name,attr"`
				Failures []struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("junit: %v", err)
	}
	cases := 0
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			cases++
			if _, bad := broken[c.Name]; bad != (len(c.Failures) > 0) {
				t.Errorf("junit testcase %s: %d failures", c.Name, len(c.Failures))
			}
		}
	}
	if cases != rep.Summary.Services {
		t.Errorf("junit has %d testcases for %d services", cases, rep.Summary.Services)
	}
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		f := filepath.Join(t.TempDir(), "report.xml")
		if err := os.WriteFile(f, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join(env.repo, "docs", "junit.xsd"), f).CombinedOutput()
		if err != nil {
			t.Errorf("junit report is not valid against docs/junit.xsd: %v\n%s", err, out)
		}
	} else {
		t.Log("xmllint not installed: schema validation of the live report is done by hack/release-test.sh on the offline examples")
	}
}

// countingTransport counts the requests a client sends.
type countingTransport struct {
	mu    sync.Mutex
	next  http.RoundTripper
	calls []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.calls = append(c.calls, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// TestAPIRequestsPerTrace counts, with a client-go round-tripper against the
// real API server, the requests one trace costs: a small constant,
// whatever the cluster holds.
func TestAPIRequestsPerTrace(t *testing.T) {
	needCluster(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"ngx-dep-svc", "readiness-svc", "ngx-external", "manual-svc"} {
		ct := &countingTransport{}
		c := rest.CopyConfig(cfg)
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper { ct.next = rt; return ct })
		client, err := kubernetes.NewForConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&cluster.Live{Client: client}).Snapshot(context.Background(), "default", svc); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d requests: %s", svc, len(ct.calls), strings.Join(ct.calls, ", "))
		if len(ct.calls) > 4+cluster.DefaultMaxNodeGets {
			t.Errorf("%s: %d requests", svc, len(ct.calls))
		}
		for _, call := range ct.calls {
			if strings.HasPrefix(call, "GET /api/v1/pods") {
				t.Errorf("%s: listed pods cluster-wide: %s", svc, call)
			}
			if !strings.HasPrefix(call, "GET ") {
				t.Errorf("%s: a trace must only read: %s", svc, call)
			}
		}
	}
}
