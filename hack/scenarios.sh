#!/usr/bin/env bash
# scenarios.sh apply|delete — the e2e seed scenarios on the running cluster.
#
#   apply   kubectl apply test/e2e/manifests/, then do what no manifest can:
#           give ngx-lb-ingress a load-balancer ingress (as a cloud controller
#           would, through the status subresource) and make exactly ONE of the
#           two ready-dep pods ready (kubectl exec … touch /var/ready). Then
#           wait until the EndpointSlices show the settled state the tests
#           assert on, and until kube-proxy has synced it. Idempotent.
#   delete  remove everything the manifests created.
#
# Uses KUBECONFIG and kubectl from `hack/cluster.sh env` unless already set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
manifests=$repo/test/e2e/manifests
if [[ -z ${KUBECONFIG:-} ]] || ! command -v kubectl >/dev/null; then
  eval "$("$here/cluster.sh" env)"
fi
SETTLE_TIMEOUT=${SETTLE_TIMEOUT:-180}

die() { log "ERROR: $*"; exit 1; }

# jp ARGS... JSONPATH: kubectl get … -o jsonpath, empty on error.
jp() { local q=${*: -1}; kubectl get "${@:1:$#-1}" -o "jsonpath=$q" 2>/dev/null || true; }

# wait_until DESC CMD...: poll CMD (0.5 s) until it succeeds or SETTLE_TIMEOUT.
wait_until() {
  local desc=$1; shift
  local deadline=$((SECONDS + SETTLE_TIMEOUT))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${SETTLE_TIMEOUT}s waiting for: $desc"
      kubectl get pods,endpointslices -o wide >&2 || true
      return 1
    fi
    sleep 0.5
  done
  log "settled: $desc"
}

# slice_triples SERVICE prints "addressType address ready" per endpoint of
# every EndpointSlice of SERVICE.
slice_triples() {
  kubectl get endpointslices -l "kubernetes.io/service-name=$1" -o go-template='{{range .items}}{{$t := .addressType}}{{range .endpoints}}{{$t}} {{index .addresses 0}} {{.conditions.ready}}{{"\n"}}{{end}}{{end}}' 2>/dev/null || true
}

# settled_ready SERVICE WANT_READY WANT_TOTAL [FAMILY]: the slices hold
# WANT_TOTAL distinct endpoints, WANT_READY of them ready. Distinct, because the
# mirrored and the hand-written manual-svc slices list the same addresses.
settled_ready() {
  local svc=$1 want_ready=$2 want_total=$3 fam=${4:-} got
  got=$(slice_triples "$svc" | awk -v f="$fam" 'f == "" || $1 == f' | sort -u |
        awk '{ t++; if ($3 == "true") r++ } END { printf "%d %d", r, t }')
  [[ $got == "$want_ready $want_total" ]]
}

pods_running() { # LABEL COUNT: COUNT pods with LABEL are Running (ready or not)
  local n
  n=$(jp pods -l "$1" '{range .items[?(@.status.phase=="Running")]}{.metadata.name}{"\n"}{end}' | grep -c . || true)
  [[ $n == "$2" ]]
}

lb_ingress_set() {
  [[ $(jp svc ngx-lb-ingress '{.status.loadBalancer.ingress[0].ip}') == 10.250.0.100 ]]
}

# kube-proxy has programmed a Service once its ClusterIP appears in the rules
# of the mode it runs in: in the nat table (or nft service-ips map) when it has
# endpoints, in the filter table's REJECT rules (or nft no-endpoint-services
# map) when it has none — so look at the whole dump.
proxy_synced() {
  local ip mode
  ip=$(jp svc "$1" '{.spec.clusterIP}')
  [[ -n $ip ]] || return 1
  mode=$(sed -n 's/^PROXY_MODE=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || echo iptables)
  local dump
  if [[ $mode == nftables ]]; then
    dump=$(nft list table ip kube-proxy 2>/dev/null) || return 1
    grep -qF "$ip . tcp" <<<"$dump"
  else
    dump=$(iptables-nft-save 2>/dev/null) || return 1
    grep -qF -- "-d $ip/32" <<<"$dump"
  fi
}

cmd_apply() {
  local family
  family=$(sed -n 's/^SVCT_IP_FAMILY=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || true)
  if [[ $family == ipv4 ]]; then
    # RequireDualStack is rejected by a single-stack cluster: degrade
    # dual-svc to PreferDualStack, which such a cluster serves as IPv4 only.
    local f
    for f in "$manifests"/*.yaml; do
      [[ $(basename "$f") == dual-svc.yaml ]] && continue
      kubectl apply -f "$f" >&2
    done
    sed -e 's/RequireDualStack/PreferDualStack/' -e '/^  ipFamilies:/d' "$manifests/dual-svc.yaml" | kubectl apply -f - >&2
    log "single-stack cluster: dual-svc applied as PreferDualStack"
  else
    kubectl apply -f "$manifests" >&2
  fi
  # ingress.ipMode needs the cluster to know the field (GA since 1.32).
  kubectl patch service ngx-lb-ingress --subresource=status --type=merge \
    -p '{"status":{"loadBalancer":{"ingress":[{"ip":"10.250.0.100","ipMode":"VIP"}]}}}' >&2
  wait_until "ngx-lb-ingress has its ingress IP" lb_ingress_set
  wait_until "deployment ngx-dep available" \
    kubectl wait --for=condition=Available deployment/ngx-dep --timeout=5s
  wait_until "2 ready-dep pods running" pods_running app=gated 2
  wait_until "1 gated-none pod running" pods_running app=gated-none 1

  # Exactly one gated pod ready: touch the alphabetically first one, unless a
  # previous apply already made one ready.
  local ready first
  ready=$(jp pods -l app=gated '{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | sort)
  if ! grep -q ' True$' <<<"$ready"; then
    first=$(head -1 <<<"$ready" | cut -d' ' -f1)
    [[ -n $first ]] || die "no ready-dep pod found"
    kubectl exec "$first" -c echo -- touch /var/ready
    log "made $first ready"
  fi

  wait_until "ngx-dep-svc: 3 of 3 endpoints ready" settled_ready ngx-dep-svc 3 3
  wait_until "readiness-svc: 1 of 2 endpoints ready" settled_ready readiness-svc 1 2
  wait_until "pnra-svc: both gated pods published" settled_ready pnra-svc 2 2
  wait_until "allgated-svc: 0 of 1 endpoints ready" settled_ready allgated-svc 0 1
  wait_until "manual-svc: mirrored + hand-written slices, 1 of 2 ready" settled_ready manual-svc 1 2
  wait_until "manual-svc: the Endpoints object was mirrored" \
    bash -c "[[ \$(kubectl get endpointslices -l kubernetes.io/service-name=manual-svc,endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io -o name | wc -l) == 1 ]]"
  wait_until "dual-svc: 3 ready IPv4 endpoints" settled_ready dual-svc 3 3 IPv4
  if [[ $(jp svc dual-svc '{.spec.ipFamilies[1]}') == IPv6 ]]; then
    wait_until "dual-svc: 3 ready IPv6 endpoints" settled_ready dual-svc 3 3 IPv6
  fi
  local s
  for s in ngx-dep-svc readiness-svc allgated-svc dual-svc local-svc ngx-lb-ingress; do
    wait_until "kube-proxy programmed $s" proxy_synced "$s"
  done
}

cmd_delete() {
  kubectl delete -f "$manifests" --ignore-not-found --wait=true --timeout=120s >&2
}

case ${1:-} in
  apply) cmd_apply ;;
  delete) cmd_delete ;;
  *) echo "usage: $0 apply|delete" >&2; exit 2 ;;
esac
