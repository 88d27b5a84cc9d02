#!/usr/bin/env bash
# Renders kubeadm's CoreDNS add-on manifests (ServiceAccount, ClusterRole and
# ClusterRoleBinding system:coredns, ConfigMap coredns with the default
# Corefile, Deployment coredns, Service kube-dns) from k8s.io/kubernetes
# $K8S_VERSION exactly as `kubeadm init` does (hack/coredns-manifests), into
# test/dns/coredns/kubeadm-$K8S_VERSION.yaml: the base that
# test/dns/coredns/base/kustomization.yaml patches for the harness and
# hack/coredns.sh applies. Re-run when K8S_VERSION changes; commit the output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
K8S_VERSION=${K8S_VERSION:-v1.36.3}
DNS_IP=${DNS_IP:-10.96.0.10}   # kubeadm: the 10th address of the service CIDR (10.96.0.0/16)
DNS_DOMAIN=${DNS_DOMAIN:-cluster.local}
dir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[[ -d $dir ]] || { log "go mod download k8s.io/kubernetes@$K8S_VERSION failed"; exit 1; }
out=$repo/test/dns/coredns/base/kubeadm-$K8S_VERSION.yaml
mkdir -p "$(dirname "$out")"
{
  echo "# kubeadm's CoreDNS add-on for k8s.io/kubernetes $K8S_VERSION, rendered by"
  echo "# hack/record-coredns-manifests.sh from cmd/kubeadm/app/phases/addons/dns/manifests.go"
  echo "# with kubeadm's defaults (DNSIP $DNS_IP, DNSDomain $DNS_DOMAIN). Do not edit: re-record."
  (cd "$repo" && go run ./hack/coredns-manifests "$dir" "$DNS_IP" "$DNS_DOMAIN")
} >"$out.tmp"
mv "$out.tmp" "$out"
log "wrote ${out#$repo/}"
