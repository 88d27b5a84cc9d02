//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNodeHelper runs the node-helper image the way the plugin's node helper
// will (privileged, host network, pinned to the node) and checks that
// node-dump shows the live kube-proxy programming of the current proxy mode,
// that `kubectl exec` into it works, and that dumping created no
// iptables-legacy table on the node (docs/local-cluster.md, pitfall 7).
func TestNodeHelper(t *testing.T) {
	needCluster(t)
	legacyBefore := legacyTables(t)
	manifest := filepath.Join(env.repo, "test", "e2e", "testdata", "node-helper.yaml")
	kubectl(t, "apply", "-f", manifest)
	t.Cleanup(func() {
		kubectl(t, "delete", "-f", manifest, "--ignore-not-found", "--wait=true", "--timeout=120s")
	})
	kubectl(t, "wait", "-n", "svct-e2e-helper", "pod/node-helper", "--for=condition=Ready", "--timeout=120s")

	ip := clusterIP(t, "ngx-dep-svc", 0)
	dump := kubectl(t, "exec", "-n", "svct-e2e-helper", "node-helper", "--", "node-dump")
	sections := splitDump(t, dump)
	for _, name := range []string{"iptables-nft-save", "ip6tables-nft-save", "nft list ruleset", "nft -j list ruleset", "ip route"} {
		s, ok := sections[name]
		if !ok {
			t.Errorf("node-dump has no %q section", name)
			continue
		}
		if s.rc != "0" {
			t.Errorf("%s exited %s:\n%s", name, s.rc, tail(s.body, 10))
		}
	}
	switch env.proxyMode {
	case "nftables":
		nft := sections["nft list ruleset"].body
		if !strings.Contains(nft, "table ip kube-proxy") || !strings.Contains(nft, ip+" . tcp . 80") {
			t.Errorf("nft ruleset lacks the kube-proxy table or ngx-dep-svc's %s . tcp . 80:\n%s", ip, tail(nft, 40))
		}
	default:
		ipt := sections["iptables-nft-save"].body
		if !strings.Contains(ipt, ":KUBE-SERVICES") || !strings.Contains(ipt, "-d "+ip+"/32") {
			t.Errorf("iptables-nft-save lacks KUBE-SERVICES or ngx-dep-svc's %s:\n%s", ip, tail(ipt, 40))
		}
	}
	if env.dualStack && env.proxyMode != "nftables" && !strings.Contains(sections["ip6tables-nft-save"].body, ":KUBE-SERVICES") {
		t.Errorf("ip6tables-nft-save lacks the IPv6 KUBE-SERVICES chain")
	}

	// The same through a plain exec of the pinned `iptables-save` name.
	if env.proxyMode != "nftables" {
		nat := kubectl(t, "exec", "-n", "svct-e2e-helper", "node-helper", "--", "iptables-save", "-t", "nat")
		if !strings.Contains(nat, "-d "+ip+"/32") {
			t.Errorf("iptables-save -t nat in the helper lacks %s", ip)
		}
	}
	if after := legacyTables(t); after != legacyBefore {
		t.Errorf("the helper created iptables-legacy tables: before %q, after %q", legacyBefore, after)
	}
}

type dumpSection struct{ body, rc string }

var dumpMarker = regexp.MustCompile(`(?m)^===== BEGIN (.+) =====\n((?s:.*?))^===== END (.+) \(rc=(\d+)\) =====$`)

// splitDump parses node-dump's framed output into its sections.
func splitDump(t *testing.T, out string) map[string]dumpSection {
	t.Helper()
	m := map[string]dumpSection{}
	for _, g := range dumpMarker.FindAllStringSubmatch(out, -1) {
		if g[1] != g[3] {
			t.Errorf("node-dump section BEGIN %q closed by END %q", g[1], g[3])
		}
		m[g[1]] = dumpSection{body: g[2], rc: g[4]}
	}
	if len(m) == 0 {
		t.Fatalf("node-dump output has no sections:\n%s", tail(out, 30))
	}
	return m
}

// legacyTables is the node's list of iptables-legacy tables, both families.
func legacyTables(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"} {
		data, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		b.WriteString(f + ":" + strings.Join(strings.Fields(string(data)), ",") + ";")
	}
	return b.String()
}
