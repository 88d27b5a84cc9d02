#!/usr/bin/env bash
# e2e.sh — the real-cluster integration suite, from a fresh machine to a
# verdict: install deps → build Kubernetes (cached) → build images (cached) →
# for each kube-proxy mode: cluster up (owned by this run) → `go test -tags e2e
# ./test/e2e/` on it (TestMain applies and settles the scenarios) → cluster
# down; teardown again on any exit or signal, for a killed test binary.
#
#   SVCT_PROXY_MODES="iptables nftables"   modes to run (default both)
#   SVCT_IP_FAMILY=auto|dual|ipv4          passed to hack/cluster.sh (default auto)
#   SVCT_E2E_OPTIONAL=1                    exit 0 (after a LOUD message) when the
#                                          machine can't build or run the cluster
#   E2E_RUN=regexp                         only these tests (go test -run)
#   SVCT_E2E_BENCH=1                       also run the node helper benchmarks
#                                          (lifecycle, 700k-line transfer) per mode
#
# Prints wall-clock time per step at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
modes=${SVCT_PROXY_MODES:-iptables nftables}
timings=()
t_all=$SECONDS

skip_or_fail() {
  local msg=$1
  echo "" >&2
  echo "################################################################" >&2
  echo "##  E2E SUITE NOT RUN: $msg" >&2
  echo "################################################################" >&2
  if [[ ${SVCT_E2E_OPTIONAL:-} == 1 ]]; then
    echo "##  SVCT_E2E_OPTIONAL=1: exiting 0 anyway" >&2; exit 0
  fi
  exit 1
}

step() { # step NAME CMD...: run and time CMD
  local name=$1 t0=$SECONDS; shift
  log "== $name"
  "$@" || return   # explicit: errexit is off inside a function called from `||`
  timings+=("$(printf '%-28s %4ds' "$name" $((SECONDS - t0)))")
}

[[ $(id -u) == 0 ]] || skip_or_fail "needs root (network namespaces, mounts, containerd)"
command -v go >/dev/null || skip_or_fail "no Go toolchain on PATH"

# Ownership: the machine may be shared (other scripts bring the same
# cluster up, e.g. record-rules.sh). This run only ever tears down a cluster
# it brought up itself, identified by this token (cluster.sh OWNER).
export SVCT_CLUSTER_OWNER="e2e.sh:$$"
down_ours() { SVCT_DOWN_ONLY_IF_OWNER=$SVCT_CLUSTER_OWNER "$here/cluster.sh" down; }

# Someone else's cluster is up: wait for it to go away rather than fail (or,
# worse, tear it down). SVCT_WAIT_FOR_CLUSTER seconds, default 20 minutes.
wait_for_foreign_cluster() {
  local deadline=$((SECONDS + ${SVCT_WAIT_FOR_CLUSTER:-1200})) st=0
  while :; do
    st=0; "$here/cluster.sh" status >/dev/null 2>&1 || st=$?
    ((st == 3)) && return 0
    ((SECONDS >= deadline)) && return 1
    log "a cluster is already up ($(sed -n 's/^OWNER=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || echo unknown owner)); waiting for it to go down"
    sleep 15
  done
}

child=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # go test runs in its own session (setsid below), so this reaches the test
  # binary too, not only the `go` driver.
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then kill -TERM -- "-$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  down_ours >/dev/null 2>&1 || log "WARNING: hack/cluster.sh down failed; run it by hand"
  ((${#timings[@]})) && { log "timings:"; printf '  %s\n' "${timings[@]}" >&2; }
  log "total wall time: $((SECONDS - t_all))s (rc=$rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "install deps" "$here/install-deps.sh" || skip_or_fail "hack/install-deps.sh failed (apt)"
step "build kubernetes" "$here/build-k8s.sh" >/dev/null || skip_or_fail "hack/build-k8s.sh could not build the Kubernetes binaries"
step "build images" "$here/build-images.sh" >/dev/null || skip_or_fail "hack/build-images.sh failed"

# The node helper's collection script, for real (busybox sh, the real
# iptables/nft/ip binaries, recorded kube-proxy rules) in throwaway
# namespaces: no cluster needed.
rc=0
if ! step "node helper script (netns)" bash -c "cd '$repo' && SVCT_NODEHELPER_NETNS=1 go test -count=1 -run TestScriptInNetns ./pkg/nodehelper/ >&2"; then
  rc=1
  log "the node helper's collection script FAILED in its network namespace test"
fi

# bring_up MODE: wait for a foreign cluster to go away, then bring ours up at
# once. If another script wins the race in between, wait again.
bring_up() {
  local mode=$1 owner
  while :; do
    wait_for_foreign_cluster || skip_or_fail "another cluster has been up for ${SVCT_WAIT_FOR_CLUSTER:-1200}s (hack/cluster.sh status)"
    if PROXY_MODE=$mode SVCT_NO_BUILD=1 "$here/cluster.sh" up >/dev/null; then return 0; fi
    owner=$(sed -n 's/^OWNER=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || true)
    if [[ -n $owner && $owner != "$SVCT_CLUSTER_OWNER" ]]; then
      log "lost the race to $owner; waiting again"; continue
    fi
    return 1
  done
}

for mode in $modes; do
  t0=$SECONDS
  log "== e2e suite, kube-proxy mode $mode"
  if ! bring_up "$mode"; then
    rc=1
    log "hack/cluster.sh up FAILED in mode $mode; component logs: $SVCT_ROOT/logs"
    timings+=("$(printf '%-28s %4ds (up failed)' "suite ($mode)" $((SECONDS - t0)))")
    continue
  fi
  timings+=("$(printf '%-28s %4ds' "cluster up ($mode)" $((SECONDS - t0)))")
  t0=$SECONDS
  set +e
  (cd "$repo" && SVCT_E2E_REUSE_CLUSTER=1 exec setsid go test -tags e2e ./test/e2e/ -count=1 -v -timeout 30m ${E2E_RUN:+-run "$E2E_RUN"}) &
  child=$!
  wait "$child"; r=$?
  child=
  set -e
  timings+=("$(printf '%-28s %4ds (rc=%d)' "suite ($mode)" $((SECONDS - t0)) "$r")")
  if ((r)); then
    rc=$r
    log "suite FAILED in mode $mode (rc=$r); component logs: $SVCT_ROOT/logs (previous run: $SVCT_ROOT/logs.prev)"
  fi
  if [[ ${SVCT_E2E_BENCH:-} == 1 ]]; then
    t0=$SECONDS
    set +e
    (cd "$repo" && SVCT_E2E_REUSE_CLUSTER=1 exec setsid go test -tags e2e ./test/e2e/ -count=1 -run '^$' -bench 'Helper' -benchtime 5x -timeout 30m) &
    child=$!
    wait "$child"; r=$?
    child=
    set -e
    timings+=("$(printf '%-28s %4ds (rc=%d)' "benchmarks ($mode)" $((SECONDS - t0)) "$r")")
    ((r)) && rc=$r
  fi
  t0=$SECONDS
  down_ours >/dev/null 2>&1 || true
  timings+=("$(printf '%-28s %4ds' "cluster down ($mode)" $((SECONDS - t0)))")
done
exit "$rc"
