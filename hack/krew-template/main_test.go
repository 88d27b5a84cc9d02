package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// plugin mirrors krew's index.Plugin (sigs.k8s.io/krew/pkg/index). It is
// decoded strictly: a misspelt key in plugins.yaml fails here, where krew
// would silently ignore it.
type plugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Homepage         string `json:"homepage"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			URI      string `json:"uri"`
			Sha256   string `json:"sha256"`
			Bin      string `json:"bin"`
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Files []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

var platforms = []struct{ os, arch, ext string }{
	{"linux", "amd64", "tar.gz"}, {"linux", "arm64", "tar.gz"},
	{"darwin", "amd64", "tar.gz"}, {"darwin", "arm64", "tar.gz"},
	{"windows", "amd64", "zip"},
}

// fakeRelease writes one file per platform, named as goreleaser names the
// archives for tag, with distinct contents; it returns their sha256 by name.
func fakeRelease(t *testing.T, dir, tag string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, p := range platforms {
		name := "kubectl-svc_trace_" + tag + "_" + p.os + "_" + p.arch + "." + p.ext
		content := []byte("archive " + name)
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(content)
		sums[name] = hex.EncodeToString(s[:])
	}
	return sums
}

// TestRenderPluginsYAML renders the real template (../../plugins.yaml) for a
// release and a pre-release tag and checks the manifest a krew-index pull
// request would carry.
func TestRenderPluginsYAML(t *testing.T) {
	for _, tc := range []struct{ tag, baseURL string }{
		{tag: "v1.2.3"},
		{tag: "v0.4.0-rc.1"},
		{tag: "v0.0.1-snapshot-0123abc", baseURL: "http://127.0.0.1:8080/"},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			dir := t.TempDir()
			sums := fakeRelease(t, dir, tc.tag)
			out, err := Render("../../plugins.yaml", tc.tag, dir, tc.baseURL)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(out, []byte("{{")) || bytes.Contains(out, []byte("krew-release-bot")) {
				t.Errorf("template actions or the template comment leaked into the manifest:\n%s", out)
			}
			var p plugin
			if err := yaml.UnmarshalStrict(out, &p); err != nil {
				t.Fatalf("manifest: %v\n%s", err, out)
			}
			if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "svc-trace" {
				t.Errorf("apiVersion/kind/name = %s/%s/%s", p.APIVersion, p.Kind, p.Metadata.Name)
			}
			if p.Spec.Version != tc.tag {
				t.Errorf("version %q, want %q", p.Spec.Version, tc.tag)
			}
			if p.Spec.ShortDescription == "" || strings.ContainsAny(p.Spec.ShortDescription, "\r\n") {
				t.Errorf("shortDescription %q", p.Spec.ShortDescription)
			}
			for _, want := range []string{"PRIVILEGED", "hostNetwork", "kube-system", "pods/exec", "endpointslices",
				"/store/svc-trace/" + tc.tag + "/kubectl_complete-svc_trace"} {
				if !strings.Contains(p.Spec.Caveats, want) {
					t.Errorf("caveats do not mention %q:\n%s", want, p.Spec.Caveats)
				}
			}
			if len(p.Spec.Platforms) != len(platforms) {
				t.Fatalf("%d platforms, want %d", len(p.Spec.Platforms), len(platforms))
			}
			for i, want := range platforms {
				got := p.Spec.Platforms[i]
				name := "kubectl-svc_trace_" + tc.tag + "_" + want.os + "_" + want.arch + "." + want.ext
				uri := "https://github.com/svctrace/kubectl-svc-trace/releases/download/" + tc.tag + "/" + name
				if tc.baseURL != "" {
					uri = strings.TrimSuffix(tc.baseURL, "/") + "/" + name
				}
				if got.URI != uri {
					t.Errorf("platform %d: uri %q, want %q", i, got.URI, uri)
				}
				if got.Sha256 != sums[name] {
					t.Errorf("platform %d: sha256 %q, want %q (of %s)", i, got.Sha256, sums[name], name)
				}
				if got.Selector.MatchLabels["os"] != want.os || got.Selector.MatchLabels["arch"] != want.arch || len(got.Selector.MatchLabels) != 2 {
					t.Errorf("platform %d: selector %v, want os=%s arch=%s", i, got.Selector.MatchLabels, want.os, want.arch)
				}
				bin, files := "kubectl-svc_trace", []string{"kubectl-svc_trace", "kubectl_complete-svc_trace", "LICENSE", "README.md"}
				if want.os == "windows" {
					bin, files = "kubectl-svc_trace.exe", []string{"kubectl-svc_trace.exe", "LICENSE", "README.md"}
				}
				if got.Bin != bin {
					t.Errorf("platform %d: bin %q, want %q", i, got.Bin, bin)
				}
				var from []string
				for _, f := range got.Files {
					from = append(from, f.From)
					if f.To != "." {
						t.Errorf("platform %d: file %s goes to %q, want .", i, f.From, f.To)
					}
				}
				if strings.Join(from, " ") != strings.Join(files, " ") {
					t.Errorf("platform %d: files %v, want %v", i, from, files)
				}
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	fakeRelease(t, dir, "v1.0.0")
	if err := os.Remove(filepath.Join(dir, "kubectl-svc_trace_v1.0.0_darwin_arm64.tar.gz")); err != nil {
		t.Fatal(err)
	}
	write := func(text string) string {
		p := filepath.Join(t.TempDir(), "plugins.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, template, want string
	}{
		{"missing asset", "../../plugins.yaml", "no asset kubectl-svc_trace_v1.0.0_darwin_arm64.tar.gz"},
		{"unknown field", write("metadata:\n  name: {{ .Version }}\n"), "can't evaluate field Version"},
		{"relative URL", write("metadata:\n  name: x\n  {{addURIAndSha \"kubectl-svc_trace_v1.0.0_linux_amd64.tar.gz\" .TagName}}\n"), "not an absolute URL"},
		{"no platform hashed", write("metadata:\n  name: x\n"), "no addURIAndSha call"},
		{"broken YAML", write("metadata:\n  name: x\n {{addURIAndSha \"https://h/d/kubectl-svc_trace_v1.0.0_linux_amd64.tar.gz\" .TagName}}\n"), "not valid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.template, "v1.0.0", dir, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestExtractVersionFromTag(t *testing.T) {
	for tag, want := range map[string]string{
		"v1.2.3":                  "1.2.3",
		"v0.4.0-rc.1":             "0.4.0",
		"v0.0.1-snapshot-0123abc": "0.0.1",
		"release-2.10":            "2.10",
		"latest":                  "latest",
	} {
		if got := extractVersionFromTag(tag); got != want {
			t.Errorf("extractVersionFromTag(%q) = %q, want %q", tag, got, want)
		}
	}
}

func TestIndent(t *testing.T) {
	for _, tc := range []struct {
		n        int
		in, want string
	}{
		{4, "uri: u\n    sha256: s", "uri: u\n    sha256: s"},
		{6, "uri: u\n    sha256: s", "uri: u\n      sha256: s"},
		{2, "a\nb\n", "a\n  b"},
	} {
		if got := indent(tc.n, tc.in); got != tc.want {
			t.Errorf("indent(%d, %q) = %q, want %q", tc.n, tc.in, got, tc.want)
		}
	}
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.tar.gz"), []byte("payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serveDir(ctx, dir, pw); pw.Close() }()
	line := make([]byte, 64)
	n, err := pr.Read(line)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(string(line[:n]))
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q is not on loopback", base)
	}
	for name, want := range map[string]int{"a.tar.gz": http.StatusOK, "missing.tar.gz": http.StatusNotFound} {
		resp, err := http.Get(base + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", name, resp.StatusCode, want)
		}
		if want == http.StatusOK && string(body) != "payload" {
			t.Errorf("GET %s: body %q", name, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serveDir: %v", err)
	}
}
