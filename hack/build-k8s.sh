#!/usr/bin/env bash
# Builds one multi-call binary (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl) of Kubernetes $K8S_VERSION from
# the Go module proxy, into a stable cache outside the repository, so a warm run
# takes seconds. Prints the bin directory on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

K8S_VERSION=${K8S_VERSION:-v1.36.3}
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
stage=v0.${K8S_VERSION#v1.}
out="$SVCT_CACHE/k8s/$K8S_VERSION"
bin="$out/bin"
stamp="$bin/.built-$(sha256sum "$here/kube-all/main.go.txt" | cut -c1-12)"
if [[ -x "$bin/kube-all" && -f "$stamp" ]]; then
  echo "$bin"; exit 0
fi
mkdir -p "$out/src" "$bin"
cd "$out/src"
cp "$here/kube-all/main.go.txt" main.go
rm -f go.mod go.sum
go mod init kubeall >/dev/null 2>&1
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
for m in $(grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk '{print $1}'); do
  go mod edit -replace="$m=$m@$stage"
done
go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
go mod tidy >&2
V=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  V="$V -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
log "building kube-all $K8S_VERSION (cold: ~10 min on 2 cores)"
go build -trimpath -ldflags="-s -w $V" -o "$bin/kube-all.tmp" . >&2
mv "$bin/kube-all.tmp" "$bin/kube-all"
for n in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  ln -sf kube-all "$bin/$n"
done
rm -f "$bin"/.built-*; touch "$stamp"
echo "$bin"
