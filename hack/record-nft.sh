#!/usr/bin/env bash
# record-nft.sh [upstream|cluster] [OUTDIR] — record what real kube-proxy
# writes in nftables mode, for pkg/rules' golden tests, and what the real
# kernel and nft print for it. Nothing here is hand-written rule text.
#
# upstream: runs kube-proxy's own unit tests (k8s.io/kubernetes v1.36.3,
#   pkg/proxy/nftables) from a scratch copy of the module with one hook added
#   to their runPacketFlowTests helper, which writes every ruleset the real
#   proxier code generated there (knftables.Fake.Dump(): the `nft -f`
#   transaction kube-proxy would send) with the upstream authors' expected
#   packet flows. Each transaction is then loaded into the real kernel with
#   `nft -f` in a fresh network namespace and listed back with
#   `nft list ruleset` and `nft -j list ruleset`: those two listings are the
#   fixtures (testdata/upstream-nft/<test>.{nft,nft.json}, the flows and the
#   transaction in <test>.json). Needs root (netns), Go and the module proxy.
#
# cluster: kube-proxy in nftables mode on the harness cluster, the same
#   scenarios and traffic as iptables mode — that recorder is shared:
#   this runs `PROXY_MODE=nftables hack/record-rules.sh cluster`.
#
# Everything created (network namespaces) is removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
. "$here/lib-upstream.sh"

MODE=upstream
case ${1:-} in
  cluster|upstream) MODE=$1; shift ;;
esac
if [[ $MODE == cluster ]]; then
  PROXY_MODE=nftables exec "$here/record-rules.sh" cluster "$@"
fi

die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root (nft in network namespaces)"
command -v nft >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nftables >&2; }

TAG=svct-nft-$$
netns_made=()
cleanup_netns() {
  local n
  for n in "${netns_made[@]}"; do ip netns del "$n" 2>/dev/null || true; done
}

# list_back IN OUTBASE: load the nft transaction IN into a fresh netns and
# write what the kernel holds as OUTBASE.nft (nft list ruleset) and
# OUTBASE.nft.json (nft -j list ruleset, one JSON document, pretty-printed
# by python3 only to keep diffs readable: the content is untouched).
list_back() {
  local in=$1 out=$2 ns=$TAG-l$((${#netns_made[@]}))
  ip netns add "$ns"; netns_made+=("$ns")
  ip netns exec "$ns" nft -f "$in" || { ip netns del "$ns"; return 1; }
  ip netns exec "$ns" nft list ruleset >"$out.nft"
  ip netns exec "$ns" nft -j list ruleset | python3 -m json.tool --indent 1 >"$out.nft.json"
  ip netns del "$ns"
}

work=
trap 'cleanup_netns; [[ -z $work ]] || rm -rf "$work"' EXIT

record_upstream() {
  local out=${1:-$repo/pkg/rules/testdata/upstream-nft} ver=${K8S_VERSION:-v1.36.3} dir pkg f base n=0
  work=$(mktemp -d)
  mkdir -p "$work/flows"
  dir=$(upstream_module "$work")
  pkg=$work/k8s/pkg/proxy/nftables
  # The hook: runPacketFlowTests first records what it was given.
  sed 's/^func runPacketFlowTests(t \*testing.T, line string, nft \*knftables.Fake, nodeIPs \[\]string, testCases \[\]packetFlowTest) {$/&\n\tsvctraceRecordFlows(t, line, nft, nodeIPs, testCases)/' \
    "$dir/pkg/proxy/nftables/helpers_test.go" >"$pkg/helpers_test.go"
  grep -q svctraceRecordFlows "$pkg/helpers_test.go" || die "runPacketFlowTests not found in $pkg/helpers_test.go"
  cat >"$pkg/zz_svctrace_record_test.go" <<'GO'
package nftables

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"sigs.k8s.io/knftables"
)

// svctraceRecordFlows writes the ruleset kube-proxy's proxier generated for
// a packet-flow test (as the nft transaction knftables would run) and the
// test's expected flows, for kubectl-svc-trace.
func svctraceRecordFlows(t *testing.T, line string, nft *knftables.Fake, nodeIPs []string, cases []packetFlowTest) {
	dir := os.Getenv("SVCT_FLOWS_OUT")
	if dir == "" {
		return
	}
	type flow struct {
		Name     string `json:"name"`
		SourceIP string `json:"sourceIP"`
		Protocol string `json:"protocol,omitempty"`
		DestIP   string `json:"destIP"`
		DestPort int    `json:"destPort"`
		Output   string `json:"output"`
		Masq     bool   `json:"masq"`
	}
	ln := 0
	if m := regexp.MustCompile(`:(\d+)\)?$`).FindStringSubmatch(line); m != nil {
		ln, _ = strconv.Atoi(m[1])
	}
	rec := struct {
		Test        string   `json:"test"`
		Line        int      `json:"line"`
		NodeIPs     []string `json:"nodeIPs"`
		Transaction string   `json:"transaction"`
		Flows       []flow   `json:"flows"`
	}{Test: t.Name(), Line: ln, NodeIPs: nodeIPs, Transaction: nft.Dump()}
	for _, c := range cases {
		rec.Flows = append(rec.Flows, flow{c.name, c.sourceIP, string(c.protocol), c.destIP, c.destPort, c.output, c.masq})
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-L%d.json", name, ln)), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
GO
  log "running kube-proxy $ver's nftables proxier tests with the recording hook (compiles the proxier; minutes when cold)"
  (cd "$work/mod" && SVCT_FLOWS_OUT=$work/flows go test -mod=mod -count=1 k8s.io/kubernetes/pkg/proxy/nftables >&2)
  rm -rf "$out"; mkdir -p "$out"
  for f in "$work"/flows/*.json; do
    base=$out/$(basename "$f" .json)
    cp "$f" "$base.json"
    python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["transaction"])' "$f" >"$work/tx.nft"
    list_back "$work/tx.nft" "$base" || die "the kernel rejected kube-proxy's transaction of $(basename "$f")"
    n=$((n + 1))
  done
  log "recorded $n upstream nftables rulesets with $(grep -c '"sourceIP"' "$out"/*.json | awk -F: '{s+=$2} END {print s}') packet flows in $out"
}

record_upstream "${1:-}"
