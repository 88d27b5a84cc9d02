#!/usr/bin/env bash
# dns-cluster.sh — pkg/dnssim against the real CoreDNS, and `svc-trace dns
# --live` / `--exec` against a real cluster (test/dns/cluster):
#
#   deps (hack/install-deps.sh) → Kubernetes and images (cached builds) →
#   CoreDNS from the Go module proxy (hack/coredns.sh build, cached) →
#   a harness cluster of its own (hack/cluster.sh up, owner token) →
#   SVCTRACE_DNS_CLUSTER=1 go test ./test/dns/cluster/ (the test applies the
#   seed scenarios, CoreDNS with kubeadm's manifests and Corefile, and its
#   own objects) → teardown of that cluster only, on any exit or signal.
#
# The cluster is a machine-wide singleton: when someone else's is up, this
# waits for it to go away (SVCT_WAIT_FOR_CLUSTER seconds, default 1200)
# rather than touching it. SVCT_DNS_REUSE_CLUSTER=1 uses the running cluster
# instead and leaves it up (it then gets CoreDNS and the test objects).
#
#   SVCT_IP_FAMILY=auto|dual|ipv4   passed to hack/cluster.sh (default auto)
#   DNS_RUN=regexp                  only these tests (go test -run)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
t_all=$SECONDS

[[ $(id -u) == 0 ]] || { log "ERROR: needs root (containerd, network namespaces, kube-proxy rules)"; exit 1; }

export SVCT_CLUSTER_OWNER="dns-cluster.sh:$$"
down_ours() { SVCT_DOWN_ONLY_IF_OWNER=$SVCT_CLUSTER_OWNER "$here/cluster.sh" down; }

child=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then kill -TERM -- "-$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  if [[ ${SVCT_DNS_REUSE_CLUSTER:-} != 1 ]]; then
    down_ours >/dev/null 2>&1 || log "WARNING: hack/cluster.sh down failed; run it by hand"
  fi
  log "dns-cluster: total wall time $((SECONDS - t_all))s (rc=$rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/install-deps.sh"
"$here/build-k8s.sh" >/dev/null
"$here/build-images.sh" >/dev/null
"$here/coredns.sh" build >/dev/null

if [[ ${SVCT_DNS_REUSE_CLUSTER:-} == 1 ]]; then
  "$here/cluster.sh" status >/dev/null || { log "ERROR: SVCT_DNS_REUSE_CLUSTER=1 but no cluster is up"; exit 1; }
else
  deadline=$((SECONDS + ${SVCT_WAIT_FOR_CLUSTER:-1200}))
  while :; do
    st=0; "$here/cluster.sh" status >/dev/null 2>&1 || st=$?
    if ((st == 3)); then
      if SVCT_NO_BUILD=1 "$here/cluster.sh" up >/dev/null; then break; fi
      owner=$(sed -n 's/^OWNER=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || true)
      [[ -n $owner && $owner != "$SVCT_CLUSTER_OWNER" ]] || { log "ERROR: hack/cluster.sh up failed (logs: $SVCT_ROOT/logs)"; exit 1; }
      log "lost the race to $owner; waiting"
    fi
    ((SECONDS < deadline)) || { log "ERROR: another cluster has been up for ${SVCT_WAIT_FOR_CLUSTER:-1200}s; not touching it"; exit 1; }
    log "a cluster is already up ($(sed -n 's/^OWNER=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || echo unknown owner)); waiting for it to go down"
    sleep 15
  done
fi

set +e
(cd "$repo" && SVCTRACE_DNS_CLUSTER=1 exec setsid go test ./test/dns/cluster/ -count=1 -v -timeout 30m ${DNS_RUN:+-run "$DNS_RUN"}) &
child=$!
wait "$child"; rc=$?
child=
set -e
exit "$rc"
