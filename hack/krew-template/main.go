// Command krew-template renders the krew manifest template (plugins.yaml) the
// way krew-release-bot renders it on a release, but against archives on disk
// instead of the assets of a published GitHub release, so that
// hack/release-test.sh can validate and install the manifest of a snapshot
// build with krew's own tools, offline.
//
// The semantics mirror krew-release-bot's pkg/source/template.go
// (RenderTemplate): the file is parsed with Go's text/template under its base
// name, executed with the release request (.TagName), and offers two
// functions:
//
//   - addURIAndSha URL TAG renders URL as a template with .TagName = TAG and
//     .Version = the first dotted run of digits in TAG (extractVersionFromTag),
//     and returns "uri: <URL>\n    sha256: <hex>": the sha256 line is indented
//     by four spaces, so the call has to sit where a platform's keys start.
//     The bot downloads the asset to hash it; here the asset is the file of the
//     same base name in -assets.
//   - indent N TEXT indents TEXT by N spaces after undoing the 4-space sha256
//     indentation above (the bot's fixShaIndentation), then trims it.
//
// With -base-url the uri lines point at BASE/<file> instead of the template's
// URL (same sha256), for installing every platform from a loopback server.
//
// With -serve DIR it is that server: it serves DIR on 127.0.0.1 at a free
// port, prints the base URL on stdout and stops by itself after -serve-for.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "krew-template:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("krew-template", flag.ContinueOnError)
	tmpl := fs.String("template", "plugins.yaml", "krew-release-bot template to render")
	tag := fs.String("tag", "", "release tag (.TagName), e.g. v0.3.0")
	assets := fs.String("assets", "dist", "directory holding the release archives")
	baseURL := fs.String("base-url", "", "if set, uri lines point at BASE/<archive> instead of the template's URL")
	out := fs.String("o", "-", "output file (- for stdout)")
	serve := fs.String("serve", "", "serve this directory on 127.0.0.1 instead of rendering")
	serveFor := fs.Duration("serve-for", 15*time.Minute, "with -serve: stop after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serve != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, *serveFor)
		defer cancel()
		return serveDir(ctx, *serve, stdout)
	}
	if *tag == "" {
		return errors.New("-tag is required")
	}
	manifest, err := Render(*tmpl, *tag, *assets, *baseURL)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = stdout.Write(manifest)
		return err
	}
	return os.WriteFile(*out, manifest, 0o644)
}

// releaseRequest is the data the bot executes the template with (its
// ReleaseRequest); plugins.yaml uses only TagName.
type releaseRequest struct {
	TagName string
}

// versionRE is the bot's extractVersionFromTag pattern: v0.3.0-rc.1 → 0.3.0.
var versionRE = regexp.MustCompile(`\d+(\.\d+)+`)

// extractVersionFromTag returns the first dotted run of digits in tag, or the
// tag itself when it has none, as the bot does for addURIAndSha's .Version.
func extractVersionFromTag(tag string) string {
	if v := versionRE.FindString(tag); v != "" {
		return v
	}
	return tag
}

// indent is the bot's template function: undo addURIAndSha's four-space
// sha256 indentation, prefix every line with n spaces and trim the result.
func indent(n int, v string) string {
	v = strings.ReplaceAll(v, "    sha256:", "sha256:")
	pad := strings.Repeat(" ", n)
	return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
}

// Render renders the template file for tag, hashing the archives in assets.
func Render(templateFile, tag, assets, baseURL string) ([]byte, error) {
	hashes := map[string]string{}
	addURIAndSha := func(rawURL, tag string) (string, error) {
		u, err := template.New("url").Parse(rawURL)
		if err != nil {
			return "", fmt.Errorf("addURIAndSha: URL template %q: %w", rawURL, err)
		}
		var b bytes.Buffer
		err = u.Execute(&b, struct{ TagName, Version string }{tag, extractVersionFromTag(tag)})
		if err != nil {
			return "", fmt.Errorf("addURIAndSha: URL template %q: %w", rawURL, err)
		}
		uri := b.String()
		parsed, err := url.Parse(uri)
		if err != nil || parsed.Scheme == "" || parsed.Host == "" {
			return "", fmt.Errorf("addURIAndSha: %q is not an absolute URL", uri)
		}
		name := path.Base(parsed.Path)
		sum, err := sha256File(filepath.Join(assets, name))
		if err != nil {
			return "", fmt.Errorf("addURIAndSha: no asset %s for %s in %s (have: %s): %w",
				name, uri, assets, strings.Join(listFiles(assets), ", "), err)
		}
		hashes[name] = sum
		if baseURL != "" {
			uri = strings.TrimSuffix(baseURL, "/") + "/" + url.PathEscape(name)
		}
		return fmt.Sprintf("uri: %s\n    sha256: %s", uri, sum), nil
	}
	t, err := template.New(filepath.Base(templateFile)).Funcs(template.FuncMap{
		"indent":       indent,
		"addURIAndSha": addURIAndSha,
	}).ParseFiles(templateFile)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, releaseRequest{TagName: tag}); err != nil {
		return nil, err
	}
	// The bot reads metadata.name back from the result (krew.GetPluginName)
	// before it opens a pull request; fail the same way on broken YAML.
	var meta struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(buf.Bytes(), &meta); err != nil {
		return nil, fmt.Errorf("%s rendered for %s is not valid YAML: %w", templateFile, tag, err)
	}
	if meta.Metadata.Name == "" {
		return nil, fmt.Errorf("%s rendered for %s has no metadata.name", templateFile, tag)
	}
	if len(hashes) == 0 {
		return nil, fmt.Errorf("%s has no addURIAndSha call: no platform would get a sha256", templateFile)
	}
	return buf.Bytes(), nil
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func listFiles(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// serveDir serves dir on a free loopback port until ctx ends, after printing
// the base URL as one line on stdout.
func serveDir(ctx context.Context, dir string, stdout io.Writer) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("-serve %s: not a directory", dir)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	if _, err := fmt.Fprintf(stdout, "http://%s\n", ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
