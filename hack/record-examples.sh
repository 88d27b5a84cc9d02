#!/usr/bin/env bash
# record-examples.sh [OUT_DIR] — record the plugin's offline examples from the
# real e2e cluster.
#
# For every Service in test/e2e/manifests it writes OUT_DIR/<service>.yaml
# (default: examples/), one `kind: List` with exactly what the plugin reads
# for that Service: the Service, its EndpointSlices (label
# kubernetes.io/service-name), the pods its selector matches, the nodes
# hosting them, and the kubelet's probe-failure events (reason Unhealthy) about
# those pods, which carry the probe output the plugin shows for a not-ready
# pod. OUT_DIR/all.yaml holds the same kinds for all of namespace default plus
# Deployments, ReplicaSets and Endpoints. kubectl already omits managedFields from -o yaml output
# (--show-managed-fields=false), so the files are what `kubectl get` shows.
#
# Needs the cluster up (hack/cluster.sh up); applies and settles the scenarios
# itself (hack/scenarios.sh apply, idempotent) so what gets recorded is the
# state the e2e suite asserts on. The README's examples and the golden tests
# are built on these files: re-record them, never edit them by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
out=${1:-$repo/examples}
eval "$("$here/cluster.sh" env)"
kubectl get --raw /readyz >/dev/null 2>&1 || { log "ERROR: cluster is not up (run hack/cluster.sh up)"; exit 1; }
"$here/scenarios.sh" apply

mkdir -p "$out"
version=$(kubectl version -o yaml 2>/dev/null | sed -n 's/^  gitVersion: //p' | tail -1)
mode=$(sed -n 's/^PROXY_MODE=//p' "$SVCT_ROOT/run/cluster.env")
family=$(sed -n 's/^SVCT_IP_FAMILY=//p' "$SVCT_ROOT/run/cluster.env")
header() {
  echo "# Recorded by hack/record-examples.sh from a real single-node cluster"
  echo "# (Kubernetes $version, kube-proxy $mode, $family-stack; scenarios: test/e2e/manifests/$1)."
  echo "# Re-record with: hack/cluster.sh up && hack/record-examples.sh — do not edit by hand."
}

# unhealthy_events [FIELD_SELECTOR]: core/v1 Events (the kind the plugin
# reads) with reason Unhealthy about pods, as resource/name.
unhealthy_events() {
  kubectl get events.v1. --field-selector "involvedObject.kind=Pod,reason=Unhealthy${1:+,$1}" -o name | sort
}

services=$(kubectl get -f "$repo/test/e2e/manifests" -o name 2>/dev/null | sed -n 's|^service/||p' | sort)
[[ -n $services ]] || { log "ERROR: no Services found from test/e2e/manifests"; exit 1; }

n=0
for s in $services; do
  objs=("service/$s")
  mapfile -t slices < <(kubectl get endpointslices -l "kubernetes.io/service-name=$s" -o name | sort)
  objs+=("${slices[@]}")
  sel=$(kubectl get service "$s" -o go-template='{{range $k, $v := .spec.selector}}{{$k}}={{$v}},{{end}}')
  sel=${sel%,}
  if [[ -n $sel ]]; then
    mapfile -t pods < <(kubectl get pods -l "$sel" -o name | sort)
    objs+=("${pods[@]}")
    mapfile -t nodes < <(kubectl get pods -l "$sel" -o go-template='{{range .items}}{{if .spec.nodeName}}node/{{.spec.nodeName}}{{"\n"}}{{end}}{{end}}' | sort -u)
    objs+=("${nodes[@]}")
    for p in "${pods[@]}"; do
      mapfile -t evs < <(unhealthy_events "involvedObject.name=${p#pod/}")
      objs+=("${evs[@]}")
    done
  fi
  file=$(grep -l -E "^  name: $s\$" "$repo/test/e2e/manifests"/*.yaml | head -1)
  if ((${#objs[@]} == 1)); then
    # One name would print the bare object; a list call keeps it a List.
    get=(services --field-selector "metadata.name=$s")
  else
    get=("${objs[@]}")
  fi
  { header "$(basename "$file")"; kubectl get "${get[@]}" -o yaml; } >"$out/$s.yaml.tmp"
  mv "$out/$s.yaml.tmp" "$out/$s.yaml"
  log "recorded $s: ${objs[*]}"
  n=$((n + 1))
done

mapfile -t all < <(kubectl get services,endpoints,endpointslices,pods,deployments,replicasets,nodes -o name 2>/dev/null)
mapfile -t evs < <(unhealthy_events)
{ header "*.yaml"; kubectl get "${all[@]}" "${evs[@]}" -o yaml 2>/dev/null; } >"$out/all.yaml.tmp"
mv "$out/all.yaml.tmp" "$out/all.yaml"
log "recorded $n services + all.yaml into $out"
