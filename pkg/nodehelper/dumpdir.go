package nodehelper

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// metaFile holds the dump's own metadata in a saved directory.
const metaFile = "svc-trace-dump.json"

// DumpMeta is written next to the raw files by Save, so that a saved dump
// says where, when and with what it was collected.
type DumpMeta struct {
	Node         string    `json:"node"`
	Pod          string    `json:"pod,omitempty"`
	Namespace    string    `json:"namespace,omitempty"`
	Image        string    `json:"image,omitempty"`
	Collected    time.Time `json:"collected"`
	ElapsedMS    int64     `json:"elapsedMs,omitempty"`
	ArchiveBytes int64     `json:"archiveBytes,omitempty"`
	ProxyMode    string    `json:"proxyMode,omitempty"`
	Backend      string    `json:"iptablesBackend,omitempty"`
	BackendWhy   string    `json:"iptablesBackendReason,omitempty"`
	Fallbacks    []string  `json:"hostToolFallbacks,omitempty"`
	Info         *NodeInfo `json:"nodeInfo,omitempty"`
	Files        []string  `json:"files"`
}

// Save writes the dump under dir/<node>/ (what `kubectl svc-trace collect
// --node N -o DIR` saves): every raw file as collected, plus
// svc-trace-dump.json. A node directory that already holds files is
// refused rather than mixed with a new dump. now is the time recorded when
// the dump has none.
func (d *Dump) Save(dir string, now time.Time) (string, error) {
	if n := safeName(d.Node); n == "" || n == "." || n == ".." {
		return "", fmt.Errorf("cannot save a dump of node %q", d.Node)
	}
	nodeDir := filepath.Join(dir, safeName(d.Node))
	if entries, err := os.ReadDir(nodeDir); err == nil && len(entries) > 0 {
		return "", fmt.Errorf("%s already holds files: save to another directory or remove it", nodeDir)
	}
	for _, name := range d.Names() {
		p := filepath.Join(nodeDir, filepath.FromSlash(escapeName(name)))
		if !strings.HasPrefix(p, nodeDir+string(filepath.Separator)) || filepath.Base(p) == metaFile {
			return "", fmt.Errorf("dump file name %q escapes the directory", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, d.Files[name], 0o644); err != nil {
			return "", err
		}
	}
	collected := d.Collected
	if collected.IsZero() {
		collected = now
	}
	backend, why := d.Backend()
	m := DumpMeta{Node: d.Node, Pod: d.Pod, Namespace: d.Namespace, Image: d.Image, Collected: collected.UTC(),
		ElapsedMS: d.Elapsed.Milliseconds(), ArchiveBytes: d.ArchiveBytes, ProxyMode: d.ProxyMode(),
		Backend: backend, BackendWhy: why, Info: d.Info, Files: d.Names()}
	for _, f := range d.Fallbacks() {
		m.Fallbacks = append(m.Fallbacks, f.File+": "+f.Cmd)
	}
	meta, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(nodeDir, 0o755); err != nil {
		return "", err
	}
	return nodeDir, os.WriteFile(filepath.Join(nodeDir, metaFile), append(meta, '\n'), 0o644)
}

// LoadDumps reads every node dump saved under dir (dir itself may be one
// node's directory). The node name comes from the metadata, else from the
// directory name.
func LoadDumps(dir string) ([]*Dump, error) {
	var dirs []string
	if _, err := os.Stat(filepath.Join(dir, metaFile)); err == nil {
		dirs = []string{dir}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(dir, e.Name()))
			}
		}
	}
	var out []*Dump
	for _, nd := range dirs {
		d := &Dump{Node: filepath.Base(nd), Files: map[string][]byte{}}
		if b, err := os.ReadFile(filepath.Join(nd, metaFile)); err == nil {
			var m DumpMeta
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(nd, metaFile), err)
			}
			d.Node, d.Pod, d.Namespace, d.Image, d.Info = m.Node, m.Pod, m.Namespace, m.Image, m.Info
			d.Collected, d.Elapsed, d.ArchiveBytes = m.Collected, time.Duration(m.ElapsedMS)*time.Millisecond, m.ArchiveBytes
		}
		err := filepath.WalkDir(nd, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || (e.Name() == metaFile && filepath.Dir(p) == nd) {
				return err
			}
			rel, err := filepath.Rel(nd, p)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			d.Files[unescapeName(filepath.ToSlash(rel))] = b
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(d.Files) > 0 {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no node dump under %s (expected what `kubectl svc-trace collect -o DIR` saves)", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// escapeName makes a dump file name safe on every file system and in a Go
// module zip, which refuse ':' (route-get/fd00::1 becomes
// route-get/fd00%3A%3A1); unescapeName reverses it.
func escapeName(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "%", "%25"), ":", "%3A")
}

func unescapeName(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "%3A", ":"), "%25", "%")
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}
