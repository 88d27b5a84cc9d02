#!/usr/bin/env bash
# Records what kubelet's real Configurer.GetPodDNS (k8s.io/kubernetes
# $K8S_VERSION, from the Go module proxy) produces for every case in
# pkg/dnssim/testdata/kubelet/cases.json, into
# pkg/dnssim/testdata/kubelet/recorded.json. pkg/dnssim's TestKubeletRecorded
# compares GeneratePodDNS with that file, so the kubelet rules are checked
# against kubelet itself. Re-run after adding a case; commit both files.
# The build module lives outside the repository ($SVCT_CACHE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
K8S_VERSION=${K8S_VERSION:-v1.36.3}
stage=v0.${K8S_VERSION#v1.}
out="$SVCT_CACHE/kubelet-dns/$K8S_VERSION"
mkdir -p "$out"
cd "$out"
cp "$here/kubelet-dns/main.go.txt" main.go
if [[ ! -f go.mod ]]; then
  go mod init kubeletdns >/dev/null 2>&1
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  for m in $(grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@$stage"
  done
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
fi
go mod tidy >&2
log "building kubelet-dns recorder against k8s.io/kubernetes $K8S_VERSION"
go build -o kubelet-dns . >&2
./kubelet-dns "$repo/pkg/dnssim/testdata/kubelet/cases.json" > "$repo/pkg/dnssim/testdata/kubelet/recorded.json.tmp"
mv "$repo/pkg/dnssim/testdata/kubelet/recorded.json.tmp" "$repo/pkg/dnssim/testdata/kubelet/recorded.json"
log "wrote pkg/dnssim/testdata/kubelet/recorded.json"
