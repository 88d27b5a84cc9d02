#!/usr/bin/env bash
# record-dns-objects.sh — record the dns command's offline fixtures from the
# real harness cluster, into pkg/cmd/testdata/dns/:
#
#   objects.yaml     one List, one consistent snapshot of what `svc-trace dns`
#                    reads: every Namespace, Service, EndpointSlice and Pod in
#                    the cluster, and the CoreDNS ConfigMap (kubeadm's Corefile)
#   node-resolv.conf the node's resolv.conf as kubelet reads it (kubelet
#                    resolvConf: /etc/resolv.conf; this machine is the node)
#
# with the seed scenarios (test/e2e/manifests, the same objects as examples/),
# the real CoreDNS (hack/coredns.sh) and the DNS test objects
# (test/dns/cluster/manifests: pods with hostname/subdomain, headless with and
# without publishNotReadyAddresses, client pods per dnsPolicy, namespaces
# monitoring and svct-dns-empty) applied and settled. The golden tests of
# pkg/cmd (TestDNSGolden) run on these files: re-record, never edit; then
# `go test ./pkg/cmd -run DNSGolden -update` and review the diff.
#
# Needs the cluster up (hack/cluster.sh up); never brings it up or down.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
out=${1:-$repo/pkg/cmd/testdata/dns}
eval "$("$here/cluster.sh" env)"
kubectl get --raw /readyz >/dev/null 2>&1 || { log "ERROR: cluster is not up (run hack/cluster.sh up)"; exit 1; }
"$here/scenarios.sh" apply
"$here/coredns.sh" apply
kubectl apply -f "$repo/test/dns/cluster/manifests" >&2

# Settle: every DNS test pod running; web-0/web-x ready, web-1 running but
# never ready (its readiness file is never created); the slices caught up.
kubectl -n svct-dns wait --for=condition=Ready pod -l app=dns-client --timeout=120s >&2
kubectl -n default wait --for=condition=Ready pod/dns-client --timeout=120s >&2
kubectl -n svct-dns wait --for=condition=Ready pod/web-0 pod/web-x --timeout=120s >&2
kubectl -n svct-dns wait --for=jsonpath='{.status.phase}'=Running pod/web-1 --timeout=120s >&2
deadline=$((SECONDS + 120))
until [[ $(kubectl -n svct-dns get endpointslices -l kubernetes.io/service-name=web -o go-template='{{range .items}}{{range .endpoints}}{{.conditions.ready}} {{end}}{{end}}' | tr ' ' '\n' | grep -c true) -ge 2 ]]; do
  ((SECONDS < deadline)) || { log "ERROR: the web EndpointSlices never settled"; exit 1; }
  sleep 1
done

version=$(kubectl version -o yaml 2>/dev/null | sed -n 's/^  gitVersion: //p' | tail -1)
mode=$(sed -n 's/^PROXY_MODE=//p' "$SVCT_ROOT/run/cluster.env")
family=$(sed -n 's/^SVCT_IP_FAMILY=//p' "$SVCT_ROOT/run/cluster.env")
coredns=$(kubectl -n kube-system get deploy coredns -o jsonpath='{.spec.template.spec.containers[0].image}')
mkdir -p "$out"
mapfile -t objs < <(kubectl get namespaces,services,endpointslices,pods -A -o name 2>/dev/null | sort)
{
  echo "# Recorded by hack/record-dns-objects.sh from a real single-node cluster"
  echo "# (Kubernetes $version, kube-proxy $mode, $family-stack, CoreDNS $coredns with kubeadm's Corefile;"
  echo "# scenarios: test/e2e/manifests + test/dns/cluster/manifests). Re-record, do not edit by hand."
  # Two documents: the List of everything, then the ConfigMap (the dns
  # command reads multi-document YAML and flattens Lists, as kubectl does).
  kubectl get namespaces,services,endpointslices,pods -A -o yaml
  echo "---"
  kubectl -n kube-system get configmap coredns -o yaml
} >"$out/objects.yaml.tmp"
# Every object must be readable back: count them with kubectl itself.
n=$(kubectl apply --dry-run=client -f "$out/objects.yaml.tmp" -o name 2>/dev/null | wc -l)
want=$((${#objs[@]} + 1))
((n == want)) || { log "ERROR: $out/objects.yaml.tmp holds $n objects, want $want"; exit 1; }
mv "$out/objects.yaml.tmp" "$out/objects.yaml"
{
  echo "# The node's resolv.conf (kubelet resolvConf: /etc/resolv.conf), recorded by hack/record-dns-objects.sh."
  cat /etc/resolv.conf
} >"$out/node-resolv.conf"
log "recorded $want objects into ${out#$repo/}/objects.yaml and the node's resolv.conf"
