#!/usr/bin/env bash
# record-node-dumps.sh [OUTDIR] — records what `kubectl svc-trace collect`
# saves from the real harness cluster, for offline tests (the collect
# command's tests, --node-dump traces): OUTDIR/<proxy mode>/node1/ (default
# pkg/nodehelper/testdata/dumps). Nothing in it is hand-written.
#
# It runs the e2e TestCollect with SVCT_RECORD_DUMPS, which saves the dump
# it checked. With a cluster already up (hack/cluster.sh up) it records that
# cluster's proxy mode and leaves it up; otherwise it brings one up per mode
# in $MODES (default "iptables nftables"), with its own owner token, and
# takes each down again. The scenarios (hack/scenarios.sh) are applied first,
# so the dumps hold the seed Services' rules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
out=$(realpath -m "${1:-$repo/pkg/nodehelper/testdata/dumps}")
[[ $(id -u) == 0 ]] || { log "must run as root"; exit 1; }

record() {
  (cd "$repo" && SVCT_E2E_REUSE_CLUSTER=1 SVCT_RECORD_DUMPS=$out go test -tags e2e -count=1 -run '^TestCollect$' ./test/e2e/ >&2)
}

if "$here/cluster.sh" status >/dev/null 2>&1; then
  log "recording from the running cluster ($(sed -n 's/^PROXY_MODE=//p' "$SVCT_ROOT/run/cluster.env") mode)"
  record
else
  owner="record-node-dumps.sh:$$"
  trap 'SVCT_DOWN_ONLY_IF_OWNER=$owner "$here/cluster.sh" down >&2' EXIT
  for mode in ${MODES:-iptables nftables}; do
    PROXY_MODE=$mode SVCT_CLUSTER_OWNER=$owner "$here/cluster.sh" up >/dev/null
    record
    SVCT_DOWN_ONLY_IF_OWNER=$owner "$here/cluster.sh" down >&2
  done
fi
find "$out" -name svc-trace-dump.json -printf '%h\n' | sort | while read -r d; do log "recorded $d ($(du -sh "$d" | cut -f1))"; done
