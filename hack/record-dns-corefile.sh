#!/usr/bin/env bash
# Extracts kubeadm's default CoreDNS Corefile from k8s.io/kubernetes
# $K8S_VERSION (cmd/kubeadm/app/phases/addons/dns/manifests.go,
# CoreDNSConfigMap), renders its template for DNSDomain=cluster.local, and
# writes it to pkg/dnssim/testdata/corefile/kubeadm-$K8S_VERSION.Corefile,
# the fixture TestParseCorefileKubeadm reads.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
K8S_VERSION=${K8S_VERSION:-v1.36.3}
dir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
src="$dir/cmd/kubeadm/app/phases/addons/dns/manifests.go"
out="$repo/pkg/dnssim/testdata/corefile/kubeadm-$K8S_VERSION.Corefile"
mkdir -p "$(dirname "$out")"
awk '/CoreDNSConfigMap = `/{on=1; next} on && /^`/{exit} on' "$src" |
  sed -n '/Corefile: |/,$p' | tail -n +2 | sed 's/^    //' |
  perl -0pe 's/\{\{ \.DNSDomain \}\}/cluster.local/g; s/\s*\{\{- if \.DNSDomain \}\}//g; s/\s*\{\{- end \}\}//g' > "$out"
echo "wrote $out" >&2
