//go:build !e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestE2ENeedsTag makes the fast suite say out loud that the real-cluster
// suite exists and did not run.
func TestE2ENeedsTag(t *testing.T) {
	t.Skip("SKIPPING the real-cluster e2e suite: it needs root and -tags e2e; run hack/e2e.sh (see test/e2e/README.md)")
}

// TestExamplesAreRecorded checks, without a cluster, that every Service in
// test/e2e/manifests has a recorded example and that every example is what
// hack/record-examples.sh writes: the provenance header, and a kind: List
// holding the Service it is named after.
func TestExamplesAreRecorded(t *testing.T) {
	examples := filepath.Join("..", "..", "examples")
	if _, err := os.Stat(examples); err != nil {
		t.Skipf("SKIPPING: %s not present (record with hack/record-examples.sh)", examples)
	}
	manifests, err := filepath.Glob(filepath.Join("manifests", "*.yaml"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no manifests found: %v", err)
	}
	for _, m := range manifests {
		for _, svc := range servicesIn(t, m) {
			t.Run(svc, func(t *testing.T) {
				path := filepath.Join(examples, svc+".yaml")
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("Service %s (%s) has no recorded example: %v", svc, m, err)
				}
				if !strings.HasPrefix(string(data), "# Recorded by hack/record-examples.sh") {
					t.Errorf("%s lacks the provenance header: re-record it, don't hand-write it", path)
				}
				var list struct {
					Kind  string `json:"kind"`
					Items []struct {
						Kind     string `json:"kind"`
						Metadata struct {
							Name string `json:"name"`
						} `json:"metadata"`
					} `json:"items"`
				}
				if err := yaml.Unmarshal(data, &list); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if list.Kind != "List" || len(list.Items) == 0 || list.Items[0].Kind != "Service" || list.Items[0].Metadata.Name != svc {
					t.Errorf("%s: want a List starting with Service %s, got kind %q with %d items", path, svc, list.Kind, len(list.Items))
				}
			})
		}
	}
}

// servicesIn lists the names of the Services in a multi-document manifest.
func servicesIn(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if obj.Kind == "Service" {
			out = append(out, obj.Metadata.Name)
		}
	}
	return out
}
