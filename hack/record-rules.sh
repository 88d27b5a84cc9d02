#!/usr/bin/env bash
# record-rules.sh [cluster|upstream] [OUTDIR] — record what real kube-proxy
# writes, for pkg/rules' golden tests. Nothing here is hand-written rule
# text. PROXY_MODE=nftables records kube-proxy's nftables mode (default
# OUTDIR pkg/rules/testdata/kube-proxy-nft); the default is iptables mode.
#
# upstream: runs kube-proxy's own unit tests (k8s.io/kubernetes v1.36.3,
#   pkg/proxy/iptables) from a scratch copy of the module with one hook
#   added to their runPacketFlowTests helper, which writes every rule set the
#   real proxier code generated there together with the upstream authors'
#   expected packet flows (verdict/endpoints/masquerade) to
#   pkg/rules/testdata/upstream/. Needs Go and the module proxy, not root.
#   The module cache itself is never modified.
#
# cluster (default):
#  1. Uses the running harness cluster (hack/cluster.sh) if it is up in
#     iptables mode, else brings one up (and takes it down again at the end).
#  2. Applies pkg/rules/testdata/record/scenarios.yaml (namespace svct-rules):
#     ClusterIP, single endpoint, named ports, NodePort, LoadBalancer with and
#     without source ranges (status set through the status subresource, as a
#     cloud controller would), externalIPs, eTP=Local with local and with only
#     remote endpoints, iTP=Local likewise, ClientIP affinity, no endpoints,
#     terminating-only endpoints, dual-stack. Waits until kube-proxy has
#     programmed every one of them.
#  3. Saves the node's iptables-save and ip6tables-save (the nft backend the
#     harness pins), loads each into real iptables-legacy-restore and
#     iptables-nft-restore inside fresh network namespaces and saves it back
#     with the matching -save (plain, with -c counters, and as `iptables -S`
#     per table), so OUTDIR holds what real nodes of both backends print.
#     In nftables mode: the node's whole `nft list ruleset` and
#     `nft -j list ruleset`, its iptables-nft-save (the other tables:
#     CNI, kubelet, the harness's safety rules), and kube-proxy's two
#     tables loaded with real `nft -f` into a fresh network namespace and
#     listed back as text and JSON.
#  4. Records the API objects, the node's addresses and routes, and real
#     traffic: requests from the node, from a pod and from an "outside"
#     network namespace (bridged onto the node's network, two source
#     addresses: one inside the LoadBalancer source range, one outside) to
#     every scenario, and which pod answered each. The golden tests require the
#     evaluator's predicted endpoint set to equal the set real connections
#     reached.
#
# Needs root. Everything it creates (namespace svct-rules, the netns, the veth
# and the routes for the outside addresses) is removed on exit; KEEP=1 keeps
# the scenarios. Typical run: 1-2 minutes on a warm cluster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
. "$here/lib-upstream.sh"

MODE=cluster
case ${1:-} in
  cluster|upstream) MODE=$1; shift ;;
esac
PMODE=${PROXY_MODE:-iptables}
case $PMODE in
  iptables|nftables) ;;
  *) echo "PROXY_MODE=$PMODE: want iptables or nftables" >&2; exit 1 ;;
esac

record_upstream() {
  local out=${1:-$repo/pkg/rules/testdata/upstream} ver=${K8S_VERSION:-v1.36.3} work dir
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  mkdir -p "$work/flows"
  dir=$(upstream_module "$work")
  (
    cd "$work/mod"
    pkg=$work/k8s/pkg/proxy/iptables
    # The hook: runPacketFlowTests first records what it was given.
    sed 's/^func runPacketFlowTests(t \*testing.T, line int, ipt \*iptablestest.FakeIPTables, nodeIPs \[\]string, testCases \[\]packetFlowTest) {$/&\n\tsvctraceRecordFlows(t, line, ipt, nodeIPs, testCases)/' \
      "$dir/pkg/proxy/iptables/proxier_test.go" >"$pkg/proxier_test.go"
    grep -q svctraceRecordFlows "$pkg/proxier_test.go" || { log "ERROR: runPacketFlowTests not found in $pkg/proxier_test.go"; exit 1; }
    cat >"$pkg/zz_svctrace_record_test.go" <<'GO'
package iptables

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	iptablestest "k8s.io/kubernetes/pkg/util/iptables/testing"
)

// svctraceRecordFlows writes the rules kube-proxy's proxier generated for a
// packet-flow test, and the test's expected flows, for kubectl-svc-trace.
func svctraceRecordFlows(t *testing.T, line int, ipt *iptablestest.FakeIPTables, nodeIPs []string, cases []packetFlowTest) {
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
	rec := struct {
		Test    string   `json:"test"`
		Line    int      `json:"line"`
		NodeIPs []string `json:"nodeIPs"`
		Rules   string   `json:"rules"`
		Flows   []flow   `json:"flows"`
	}{Test: t.Name(), Line: line, NodeIPs: nodeIPs, Rules: ipt.Dump.String()}
	for _, c := range cases {
		rec.Flows = append(rec.Flows, flow{c.name, c.sourceIP, string(c.protocol), c.destIP, c.destPort, c.output, c.masq})
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-L%d.json", name, line)), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
GO
    log "running kube-proxy $ver's iptables proxier tests with the recording hook (compiles the proxier; minutes when cold)"
    SVCT_FLOWS_OUT=$work/flows go test -mod=mod -count=1 k8s.io/kubernetes/pkg/proxy/iptables >&2
  )
  rm -rf "$out"; mkdir -p "$out"
  cp "$work"/flows/*.json "$out"/
  log "recorded $(ls "$out" | wc -l) upstream rule sets with $(grep -c '"sourceIP"' "$out"/*.json | awk -F: '{s+=$2} END {print s}') packet flows in $out"
}

if [[ $MODE == upstream ]]; then
  record_upstream "${1:-}"
  exit 0
fi

OUT=${1:-$repo/pkg/rules/testdata/kube-proxy}
[[ $PMODE == nftables ]] && OUT=${1:-$repo/pkg/rules/testdata/kube-proxy-nft}
MANIFEST=$repo/pkg/rules/testdata/record/scenarios.yaml
NS=svct-rules
REQS=${REQS:-30}   # requests per (scenario, source): P(missing one of 3 endpoints) < 1e-4
TAG=svct-rec-$$
VETH=svr$$              # interface names are limited to 15 characters
OUTSIDE_NS=$TAG-out
OUT_ALLOWED=203.0.113.5   # inside lb-ranges' loadBalancerSourceRanges
OUT_DENIED=198.51.100.5   # outside every source range

die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root (iptables, network namespaces)"

# --- tools -------------------------------------------------------------------
# nfacct: kube-proxy's KUBE-FORWARD rule uses -m nfacct, and a rule naming an
# accounting object cannot be restored into a fresh netns until the object
# exists there.
need=()
for t in iptables-legacy-restore:iptables iptables-nft-restore:iptables ip:iproute2 nfacct:nfacct curl:curl nft:nftables python3:python3; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if ((${#need[@]})); then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# --- cluster -----------------------------------------------------------------
# The cluster is shared with the e2e suite: we record our ownership when we
# bring one up, and `down` leaves alone a cluster someone else owns.
OWNER="record-rules.sh:$$"
brought_up=0
netns_made=()
cleanup() {
  local rc=$?
  set +e
  for n in "${netns_made[@]}"; do ip netns del "$n" 2>/dev/null; done
  ip link del "${VETH}o0" 2>/dev/null
  ip route del "$OUT_ALLOWED/32" 2>/dev/null
  ip route del "$OUT_DENIED/32" 2>/dev/null
  if [[ ${KEEP:-0} != 1 ]] && command -v kubectl >/dev/null && [[ -n ${KUBECONFIG:-} ]]; then
    kubectl delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1
  fi
  if ((brought_up)); then SVCT_DOWN_ONLY_IF_OWNER=$OWNER "$here/cluster.sh" down >&2; fi
  exit $rc
}
trap cleanup EXIT INT TERM

# A running cluster of the other mode is someone else's: wait (up to
# SVCT_WAIT_FOR_CLUSTER seconds, default 20 minutes) for it to go down,
# never tear it down.
deadline=$((SECONDS + ${SVCT_WAIT_FOR_CLUSTER:-1200}))
while :; do
  if "$here/cluster.sh" status >/dev/null 2>&1; then
    mode=$(sed -n 's/^PROXY_MODE=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || echo iptables)
    if [[ $mode == "$PMODE" ]]; then
      log "using the running cluster"
      break
    fi
    ((SECONDS < deadline)) || die "the running cluster's kube-proxy is in $mode mode (owner $(sed -n 's/^OWNER=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null)); this records $PMODE mode"
    log "a cluster in $mode mode is up (owner $(sed -n 's/^OWNER=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null)); waiting for it to go down"
    sleep 20
    continue
  fi
  log "bringing up a cluster (PROXY_MODE=$PMODE)"
  # Only a cluster this script started is taken down at the end: if `up`
  # fails (another run started one meanwhile), try again while waiting.
  if PROXY_MODE=$PMODE SVCT_CLUSTER_OWNER=$OWNER "$here/cluster.sh" up >&2; then
    brought_up=1
    break
  fi
  ((SECONDS < deadline)) || die "could not bring up a cluster"
  sleep 20
done
eval "$("$here/cluster.sh" env)"
family=$(sed -n 's/^SVCT_IP_FAMILY=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || echo dual)
node_ip4=10.250.0.10
node_ip6=fd00:10:250::10

# --- scenarios ---------------------------------------------------------------
kubectl delete namespace "$NS" --ignore-not-found --wait=true --timeout=120s >&2
kubectl apply -f "$MANIFEST" >&2
lbpatch() { # SERVICE IP
  kubectl -n "$NS" patch service "$1" --subresource=status --type=merge \
    -p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$2\",\"ipMode\":\"VIP\"}]}}}" >&2
}
lbpatch lb 10.250.0.120
lbpatch lb-ranges 10.250.0.121
lbpatch lb-ranges-node 10.250.0.122
kubectl -n "$NS" wait --for=condition=Available deployment/web deployment/solo --timeout=180s >&2
kubectl -n "$NS" wait --for=condition=Ready pod/client --timeout=180s >&2

# settled: kube-proxy wrote the expected number of DNAT rules for each
# Service (comments are on: this cluster is far below 1000 endpoints) and the
# REJECT/DROP rules of the endpoint-less ones.
dnat_count() { # DUMP SERVICE[:PORT]
  grep -c -- "--comment \"$NS/$2\" .*-j DNAT" <<<"$1" || true
}
settled() {
  local d4 d6 s n
  d4=$(iptables-nft-save -t nat 2>/dev/null; iptables-nft-save -t filter 2>/dev/null)
  for s in clusterip:3 single:1 multiport:http:3 multiport:metrics:3 nodeport:3 lb:3 lb-ranges:3 \
           lb-ranges-node:3 externalip:3 etp-local:3 etp-local-remote:2 itp-local:3 affinity:3 \
           terminating:1 dualstack:3; do
    n=${s##*:}
    [[ $(dnat_count "$d4" "${s%:*}") == "$n" ]] || return 1
  done
  grep -q -- "\"$NS/noendpoints has no endpoints\" .*-j REJECT" <<<"$d4" || return 1
  grep -q -- "\"$NS/itp-local-remote has no local endpoints\" .*-j DROP" <<<"$d4" || return 1
  grep -q -- "\"$NS/etp-local-remote has no local endpoints\" .*-j DROP" <<<"$d4" || return 1
  grep -q -- "KUBE-FW-.*\"$NS/lb-ranges-node loadbalancer IP\" -j KUBE-EXT" <<<"$d4" || return 1
  if [[ $family == dual ]]; then
    d6=$(ip6tables-nft-save -t nat 2>/dev/null)
    [[ $(dnat_count "$d6" dualstack) == 3 ]] || return 1
  fi
}
# nftables mode: the same facts in kube-proxy's nft table — the numgen
# spread of each service's policy chain (dnat map or endpoint vmap), the
# no-endpoint verdicts, and the firewall chain holding the node network.
nft_count() { # LISTING SERVICE[:PORTNAME] -> endpoints in its service-/local- chain
  local svc=${2%%:*} pn=
  [[ $2 == *:* ]] && pn=${2#*:}
  awk -v want="svct-rules/$svc/tcp/$pn" '
    /^\tchain (service|local)-/ { split($2, a, "-"); name = substr($2, index($2, "-") + 1); name = substr(name, index(name, "-") + 1); inchain = (name == want) }
    inchain && /numgen random mod/ { for (i = 1; i <= NF; i++) if ($i == "mod") { print $(i+1); exit } }
    /^\t}/ { inchain = 0 }' <<<"$1"
}
settled_nft() {
  local d4 d6 s n
  d4=$(nft list table ip kube-proxy 2>/dev/null) || return 1
  for s in clusterip:3 single:1 multiport:http:3 multiport:metrics:3 nodeport:3 lb:3 lb-ranges:3 \
           lb-ranges-node:3 externalip:3 etp-local:3 etp-local-remote:2 itp-local:3 affinity:3 \
           terminating:1 dualstack:3; do
    n=${s##*:}
    [[ $(nft_count "$d4" "${s%:*}") == "$n" ]] || return 1
  done
  grep -q "comment \"$NS/noendpoints\" : goto reject-chain" <<<"$d4" || return 1
  grep -q "comment \"$NS/itp-local-remote\" : drop" <<<"$d4" || return 1
  grep -q "comment \"$NS/etp-local-remote\" : drop" <<<"$d4" || return 1
  grep -A3 "chain firewall-.*-$NS/lb-ranges-node/" <<<"$d4" | grep -q "10.250.0.0/24" || return 1
  if [[ $family == dual ]]; then
    d6=$(nft list table ip6 kube-proxy 2>/dev/null) || return 1
    [[ $(nft_count "$d6" dualstack) == 3 ]] || return 1
  fi
}
[[ $PMODE == nftables ]] && settled() { settled_nft; }
deadline=$((SECONDS + 180))
until settled; do
  ((SECONDS < deadline)) || die "kube-proxy did not program the scenarios within 180s"
  sleep 1
done
# One more sync period, so the saved rules are a settled sync, not a partial one.
sleep 2
log "kube-proxy programmed every scenario"

# --- save the node's rules and round-trip them through both backends ---------
mkdir -p "$OUT"
tmp=$(mktemp -d)
strip_time() { sed -E -e 's/^(# (Generated by|Completed on) [^ ]*( v[^ ]+( \([a-z_]+\))?)?) on .*/\1/' -e 's/^# Completed on .*/# Completed on/'; }
if [[ $PMODE == nftables ]]; then
  # The node as the helper sees it, and kube-proxy's tables through a
  # real `nft -f` into a fresh netns and back (the listing of the other
  # tables holds xt expressions nft cannot read back, so only
  # kube-proxy's own tables make the round trip; iptables-nft-save gives
  # the others in their own syntax). JSON is re-indented by python3 only
  # for readable diffs.
  nft list ruleset >"$OUT/node.nft"
  nft -j list ruleset | python3 -m json.tool --indent 1 >"$OUT/node.nft.json"
  iptables-nft-save 2>/dev/null | strip_time >"$OUT/node-iptables-nft-v4.save"
  [[ $family == dual ]] && ip6tables-nft-save 2>/dev/null | strip_time >"$OUT/node-iptables-nft-v6.save"
  { nft list table ip kube-proxy; [[ $family == dual ]] && nft list table ip6 kube-proxy; } >"$tmp/kp.nft"
  ns=$TAG-nft; ip netns add "$ns"; netns_made+=("$ns")
  ip netns exec "$ns" nft -f "$tmp/kp.nft" || die "nft -f rejected kube-proxy's tables"
  ip netns exec "$ns" nft list ruleset >"$OUT/kube-proxy.nft"
  ip netns exec "$ns" nft -j list ruleset | python3 -m json.tool --indent 1 >"$OUT/kube-proxy.nft.json"
  ip netns del "$ns"
  log "saved the node's nftables ruleset and kube-proxy's tables round-tripped in $OUT"
else
  iptables-nft-save >"$tmp/node-v4" 2>/dev/null
  [[ $family == dual ]] && ip6tables-nft-save >"$tmp/node-v6" 2>/dev/null
  nfacct_names=$(grep -ho -- '--nfacct-name  *[^ ]*' "$tmp"/node-v* | awk '{print $2}' | sort -u)

  # strip_time (above) removes the run-dependent "on <date>" of the header
  # and footer lines, so re-recording an unchanged cluster gives a clean diff.
  strip_time <"$tmp/node-v4" >"$OUT/node-nft-v4.save"
  [[ $family == dual ]] && strip_time <"$tmp/node-v6" >"$OUT/node-nft-v6.save"

  roundtrip() { # BACKEND FAMILY(4|6) INPUT
    local b=$1 f=$2 in=$3 ns=$TAG-$1-$2 pfx=iptables
    [[ $f == 6 ]] && pfx=ip6tables
    ip netns add "$ns"; netns_made+=("$ns")
    for n in $nfacct_names; do ip netns exec "$ns" nfacct add "$n" >/dev/null 2>&1 || true; done
    ip netns exec "$ns" "$pfx-$b-restore" <"$in" || die "$pfx-$b-restore rejected the node's dump"
    ip netns exec "$ns" "$pfx-$b-save" 2>/dev/null | strip_time >"$OUT/$b-v$f.save"
    ip netns exec "$ns" "$pfx-$b-save" -c 2>/dev/null | strip_time >"$OUT/$b-v$f-counters.save"
    for t in nat filter; do
      ip netns exec "$ns" "$pfx-$b" -t "$t" -S >"$OUT/$b-v$f-$t.S" 2>/dev/null
    done
    ip netns del "$ns"
  }
  for b in nft legacy; do
    roundtrip "$b" 4 "$tmp/node-v4"
    [[ $family == dual ]] && roundtrip "$b" 6 "$tmp/node-v6"
  done
  log "saved the rules of both backends in $OUT"
fi

# --- API objects and node facts -------------------------------------------
kubectl -n "$NS" get services,endpointslices,pods -o json >"$OUT/objects.json"
{
  echo "{"
  echo "  \"nodeName\": \"node1\","
  echo "  \"nodeIPs\": [\"$node_ip4\"$([[ $family == dual ]] && echo ", \"$node_ip6\"")],"
  echo "  \"clusterCIDRs\": [\"10.244.0.0/16\"$([[ $family == dual ]] && echo ", \"fd00:10:244::/56\"")],"
  echo "  \"kubernetes\": \"$(kubectl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1)\","
  echo "  \"proxyMode\": \"$PMODE\","
  echo "  \"iptables\": \"$(iptables --version)\","
  echo "  \"nft\": \"$(nft --version)\","
  echo "  \"kernel\": \"$(uname -r)\","
  echo "  \"routes4\": $(ip -j route show),"
  echo "  \"routes6\": $(ip -6 -j route show)"
  echo "}"
} >"$OUT/node.json"

# --- real traffic ------------------------------------------------------------
# The outside world: a netns bridged onto the node's network (svctnode), with
# one address inside lb-ranges' source range and one outside every range.
ip netns add "$OUTSIDE_NS"; netns_made+=("$OUTSIDE_NS")
ip link add "${VETH}o0" type veth peer name "${VETH}o1"
ip link set "${VETH}o1" netns "$OUTSIDE_NS"
ip link set "${VETH}o0" master svctnode up
ip -n "$OUTSIDE_NS" link set lo up
ip -n "$OUTSIDE_NS" link set "${VETH}o1" up
ip -n "$OUTSIDE_NS" addr add "$OUT_ALLOWED/32" dev "${VETH}o1"
ip -n "$OUTSIDE_NS" addr add "$OUT_DENIED/32" dev "${VETH}o1"
# The node is the next hop for its network (load-balancer and external IPs
# are not on any interface: like an upstream router, send them to the node).
ip -n "$OUTSIDE_NS" route add "$node_ip4/32" dev "${VETH}o1"
ip -n "$OUTSIDE_NS" route add 10.250.0.0/24 via "$node_ip4" dev "${VETH}o1"
ip route add "$OUT_ALLOWED/32" dev svctnode
ip route add "$OUT_DENIED/32" dev svctnode

svcip() { kubectl -n "$NS" get svc "$1" -o "jsonpath={.spec.clusterIPs[$2]}" 2>/dev/null; }
client_ip4=$(kubectl -n "$NS" get pod client -o jsonpath='{.status.podIPs[0].ip}')
client_ip6=$(kubectl -n "$NS" get pod client -o jsonpath='{.status.podIPs[1].ip}')

# probe FROM SRC DST PORT N: N requests, one connection each; prints, per
# request, "<pod IP> <client IP the pod saw>" (the second tells whether the
# connection was masqueraded) or "fail" when nothing answered.
probe() {
  local from=$1 src=$2 dst=$3 port=$4 n=$5 url
  url="http://$dst:$port/"
  [[ $dst == *:* ]] && url="http://[$dst]:$port/"
  case $from in
    node) for ((i = 0; i < n; i++)); do curl -s --max-time 1 "$url" || echo fail; echo; done ;;
    pod) kubectl -n "$NS" exec client -c echo -- sh -c \
           "for i in \$(seq $n); do /echo -get $url -timeout 1s 2>/dev/null || echo fail; echo; done" ;;
    outside) for ((i = 0; i < n; i++)); do
               ip netns exec "$OUTSIDE_NS" curl -s --max-time 1 --interface "$src" "$url" || echo fail; echo
             done ;;
  esac | normalize
}
normalize() {
  sed -n -E 's/.* ip=([^ ]*) .*client=([^ ]*) .*/\1 \2/p; /^fail$/p' |
    sed -E 's/ \[?([0-9a-f.:]+)\]?:[0-9]+$/ \1/'
}
# answers: count identical lines into a JSON object body.
answers() { sort | uniq -c | awk '{k=$2; if (NF > 2) k = k " " $3; printf "%s\"%s\": %d", (NR>1?", ":""), k, $1}'; }
# record SCENARIO FROM SRC DST PORT [N]
first=1
record() {
  local scen=$1 from=$2 src=$3 dst=$4 port=$5 n=${6:-$REQS} got
  got=$(probe "$from" "$src" "$dst" "$port" "$n" | answers)
  ((first)) || echo "," >>"$tmp/traffic"
  first=0
  printf '  {"scenario": "%s", "from": "%s", "src": "%s", "dst": "%s", "port": %d, "requests": %d, "answers": {%s}}' \
    "$scen" "$from" "$src" "$dst" "$port" "$n" "$got" >>"$tmp/traffic"
  log "traffic $scen from $from ($src) to $dst:$port: {$got}"
}
: >"$tmp/traffic"
for s in clusterip single nodeport lb lb-ranges externalip etp-local itp-local affinity; do
  ip=$(svcip "$s" 0)
  record "$s" node "$node_ip4" "$ip" 80
  record "$s" pod "$client_ip4" "$ip" 80
done
record multiport node "$node_ip4" "$(svcip multiport 0)" 9090
record multiport pod "$client_ip4" "$(svcip multiport 0)" 9090
record noendpoints node "$node_ip4" "$(svcip noendpoints 0)" 80 3
record noendpoints pod "$client_ip4" "$(svcip noendpoints 0)" 80 3
record itp-local-remote pod "$client_ip4" "$(svcip itp-local-remote 0)" 80 3
for np in nodeport:30090 lb:30091 etp-local:30093 dualstack:30097; do
  record "${np%%:*}" outside "$OUT_ALLOWED" "$node_ip4" "${np##*:}"
  record "${np%%:*}" node "$node_ip4" "$node_ip4" "${np##*:}"
  record "${np%%:*}" pod "$client_ip4" "$node_ip4" "${np##*:}"
done
record noendpoints outside "$OUT_ALLOWED" "$node_ip4" 30095 3
record etp-local-remote outside "$OUT_ALLOWED" "$node_ip4" 30094 3
record lb outside "$OUT_ALLOWED" 10.250.0.120 80
record lb-ranges outside "$OUT_ALLOWED" 10.250.0.121 80
record lb-ranges outside "$OUT_DENIED" 10.250.0.121 80 3
record lb-ranges node "$node_ip4" 10.250.0.121 80 3
record lb-ranges-node node "$node_ip4" 10.250.0.122 80
record lb-ranges-node outside "$OUT_DENIED" 10.250.0.122 80 3
record externalip outside "$OUT_ALLOWED" 10.250.0.130 80
record externalip node "$node_ip4" 10.250.0.130 80
# hairpin: a backend reaching its own Service
hp=$(kubectl -n "$NS" get pods -l app=solo -o jsonpath='{.items[0].metadata.name}')
hp_ip=$(kubectl -n "$NS" get pod "$hp" -o jsonpath='{.status.podIP}')
got=$(kubectl -n "$NS" exec "$hp" -c echo -- sh -c \
  "for i in \$(seq 5); do /echo -get http://$(svcip single 0)/ -timeout 1s 2>/dev/null || echo fail; echo; done" |
  normalize | answers)
echo "," >>"$tmp/traffic"
printf '  {"scenario": "single", "from": "pod", "src": "%s", "dst": "%s", "port": 80, "requests": 5, "answers": {%s}}' \
  "$hp_ip" "$(svcip single 0)" "$got" >>"$tmp/traffic"
if [[ $family == dual ]]; then
  ip6=$(svcip dualstack 1)
  record dualstack node "$node_ip6" "$ip6" 80
  record dualstack pod "$client_ip6" "$ip6" 80
fi
{ echo "["; cat "$tmp/traffic"; echo; echo "]"; } >"$OUT/traffic.json"
if [[ $PMODE == nftables ]]; then
  # The same ruleset after the traffic: kube-proxy's affinity sets now
  # hold the clients of the affinity scenario (session-affinity state, with
  # their timeouts), which the evaluator reads as state.
  nft list ruleset >"$OUT/node-after-traffic.nft"
  nft -j list ruleset | python3 -m json.tool --indent 1 >"$OUT/node-after-traffic.nft.json"
fi
rm -rf "$tmp"
log "recorded $(grep -c '"scenario"' "$OUT/traffic.json") traffic samples"
log "done: $OUT"
