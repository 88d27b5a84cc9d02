package nodehelper

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Dump is everything collected from one node: the files the collection
// script wrote (name → content), keyed as in the archive. The names are a
// contract with pkg/cmd (and saved dumps):
//
//	meta                    hostname=, date=, kernel=, tools=, fallbacks=
//	helper-versions         the image's package versions ("package version")
//	tools                   each tool's --version
//	iptables-backend        one line: nft|legacy, then why (see collectScript)
//	{ip,ip6}tables-nft-save, {ip,ip6}tables-legacy-save (the latter only when
//	                        the node has legacy tables), each with .rc/.err
//	nft-tables.json         nft -j list tables
//	nft/FAMILY-TABLE.json   nft -j list table, for every table not already in
//	nft/FAMILY-TABLE.nft    iptables-nft-save (e.g. nft/ip-kube-proxy.json)
//	ipvsadm-save, proc-ip_vs, ipset-save (only where the kernel has them)
//	ip-addr.json ip-link.json ip-route.json ip6-route.json ip-rule.json ip6-rule.json
//	route-get/IP            ip -j route get IP, per route target
//	conntrack/IP            conntrack -L -d IP, per conntrack target
//	proxy-mode              kube-proxy's /proxyMode (iptables, nftables, ipvs)
//	node-resolv.conf        the node's /etc/resolv.conf
//	tools-fallback          one line per dump read with the host's binaries
//	NAME.image              the image tool's output that made it fall back
type Dump struct {
	Node         string
	Pod          string
	Namespace    string
	Image        string
	Files        map[string][]byte
	Collected    time.Time
	Elapsed      time.Duration
	ArchiveBytes int64
	// Info is the Node object's view of the node, when the caller had it.
	Info *NodeInfo
}

// NodeInfo is what the API says about the node, saved with its dump so a
// dump read back offline still knows the node's addresses and versions.
type NodeInfo struct {
	Addresses               []string `json:"addresses,omitempty"` // "InternalIP=10.0.0.1"
	PodCIDRs                []string `json:"podCIDRs,omitempty"`
	KubeletVersion          string   `json:"kubeletVersion,omitempty"`
	OSImage                 string   `json:"osImage,omitempty"`
	KernelVersion           string   `json:"kernelVersion,omitempty"`
	ContainerRuntimeVersion string   `json:"containerRuntimeVersion,omitempty"`
}

// NodeInfoFrom extracts a NodeInfo from a Node object.
func NodeInfoFrom(n *corev1.Node) *NodeInfo {
	if n == nil {
		return nil
	}
	info := &NodeInfo{
		PodCIDRs:                n.Spec.PodCIDRs,
		KubeletVersion:          n.Status.NodeInfo.KubeletVersion,
		OSImage:                 n.Status.NodeInfo.OSImage,
		KernelVersion:           n.Status.NodeInfo.KernelVersion,
		ContainerRuntimeVersion: n.Status.NodeInfo.ContainerRuntimeVersion,
	}
	for _, a := range n.Status.Addresses {
		info.Addresses = append(info.Addresses, string(a.Type)+"="+a.Address)
	}
	return info
}

// File returns a dump file's content ("" if absent).
func (d *Dump) File(name string) string { return string(d.Files[name]) }

// RC returns the exit status the script recorded for a file (-1 if none).
func (d *Dump) RC(name string) int {
	rc, err := strconv.Atoi(strings.TrimSpace(d.File(name + ".rc")))
	if err != nil {
		return -1
	}
	return rc
}

// Names lists the dump's files, sorted.
func (d *Dump) Names() []string { return sortedKeys(d.Files) }

// ProxyMode is kube-proxy's answer on /proxyMode ("" when it did not answer).
func (d *Dump) ProxyMode() string {
	if d.RC("proxy-mode") != 0 {
		return ""
	}
	return strings.TrimSpace(d.File("proxy-mode"))
}

// Backend is the iptables backend the node's kube-proxy and kubelet use,
// "nft" or "legacy", and why the helper decided so.
func (d *Dump) Backend() (backend, reason string) {
	line := strings.TrimSpace(d.File("iptables-backend"))
	backend, reason, _ = strings.Cut(line, " ")
	return backend, reason
}

// Meta returns the script's meta file as a map (hostname, date, kernel,
// tools, fallbacks).
func (d *Dump) Meta() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(d.File("meta"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Fallback records one dump read with the node's own binary.
type Fallback struct {
	File   string // the dump file, e.g. "iptables-nft-save"
	RC     int    // the host binary's exit status
	Cmd    string // the host command line
	Reason string // why the image's tool was not used
}

// Fallbacks lists the dumps the helper read with the host's binaries
// (nsenter -t 1 -m -n) instead of its own.
func (d *Dump) Fallbacks() []Fallback {
	var out []Fallback
	for _, line := range strings.Split(d.File("tools-fallback"), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[1] != "host" {
			continue
		}
		fb := Fallback{File: f[0], RC: -1}
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, f[0]), " host"))
		if v, r, ok := strings.Cut(rest, " cmd="); ok {
			fb.RC, _ = strconv.Atoi(strings.TrimPrefix(v, "rc="))
			fb.Cmd, fb.Reason, _ = strings.Cut(r, " reason=")
		}
		out = append(out, fb)
	}
	return out
}

// NftTables lists the nft tables dumped one by one, as "family name".
func (d *Dump) NftTables() []string {
	var out []string
	for _, n := range d.Names() {
		if t, ok := strings.CutPrefix(n, "nft/"); ok && strings.HasSuffix(t, ".json") && !strings.Contains(t, ".json.") {
			fam, name, _ := strings.Cut(strings.TrimSuffix(t, ".json"), "-")
			out = append(out, fam+" "+name)
		}
	}
	return out
}

// NftRuleset joins the per-table nft JSON dumps into one document shaped
// like `nft -j list ruleset` (one metainfo, then every table's objects), for
// parsers that read a whole ruleset. The iptables-nft tables are not in it:
// they are in the iptables-nft-save dumps. A table whose dump failed is
// skipped and named in the error; the rest is still returned.
func (d *Dump) NftRuleset() ([]byte, error) {
	type doc struct {
		Nftables []json.RawMessage `json:"nftables"`
	}
	all := []json.RawMessage{}
	haveMeta := false
	var bad []string
	for _, t := range d.NftTables() {
		fam, name, _ := strings.Cut(t, " ")
		file := "nft/" + fam + "-" + name + ".json"
		if d.RC(file) != 0 {
			bad = append(bad, fmt.Sprintf("%s (rc=%d)", file, d.RC(file)))
			continue
		}
		var one doc
		if err := json.Unmarshal(d.Files[file], &one); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", file, err))
			continue
		}
		for _, obj := range one.Nftables {
			if bytes.Contains(obj[:min(len(obj), 16)], []byte(`"metainfo"`)) {
				if !haveMeta {
					haveMeta = true
					all = append([]json.RawMessage{obj}, all...)
				}
				continue
			}
			all = append(all, obj)
		}
	}
	out, err := json.Marshal(doc{Nftables: all})
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("node %s: unreadable nft dumps: %s", d.Node, strings.Join(bad, "; "))
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
