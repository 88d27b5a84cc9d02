#!/usr/bin/env bash
# coredns.sh build|apply|delete|status — the real CoreDNS as the harness
# cluster's DNS (hack/cluster.sh), installed the way kubeadm installs it.
#
#   build    `go build` CoreDNS $COREDNS_VERSION (the release module from the Go
#            module proxy, every in-tree plugin, CGO_ENABLED=0) into
#            $SVCT_CACHE/coredns/$COREDNS_VERSION/coredns, then the image
#            localhost/svctrace/coredns:$COREDNS_VERSION as a deterministic
#            docker-archive in $SVCT_CACHE/images/coredns.tar (hack/mkimage.sh,
#            no container engine). Cached: a warm run takes a second. Prints the
#            tarball path.
#   apply    build, import the image into the running cluster's containerd,
#            then `kubectl apply -k test/dns/coredns/{ipv4,dual}` (by the
#            cluster's IP family): kubeadm's own manifests
#            (ServiceAccount, ClusterRole/Binding system:coredns, ConfigMap
#            coredns with kubeadm's default Corefile, Deployment coredns,
#            Service kube-dns at 10.96.0.10 — rendered from k8s.io/kubernetes by
#            hack/record-coredns-manifests.sh) with the harness patches listed
#            in test/dns/coredns/base/kustomization.yaml. Waits until CoreDNS is
#            ready, answers through the Service from the node over UDP and TCP,
#            and has synced the API (kubernetes.default.svc resolves).
#            Idempotent.
#   delete   remove what apply created.
#   status   the Deployment, its pod and the Service.
#
# The CoreDNS version is the image tag in test/dns/coredns/base/kustomization.yaml
# (v1.14.7, the version shared/docs/dns-semantics.md §6 was read from).
# Knobs: SVCT_CACHE (hack/lib.sh), SETTLE_TIMEOUT (seconds, default 180).
#
# The cluster must be up (hack/cluster.sh up). This script never brings it up
# or tears it down, so it is safe to call on a cluster someone else owns; it
# takes the cluster lock (shared, so concurrent applies are fine) only to keep
# `down` from running in the middle of an apply.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

KUSTOMIZE_DIR=$repo/test/dns/coredns
# The version is the image tag the manifests deploy (one source of truth).
COREDNS_VERSION=$(sed -n 's/^ *newTag: *//p' "$KUSTOMIZE_DIR/base/kustomization.yaml")
[[ -n $COREDNS_VERSION ]] || { echo "coredns.sh: no newTag in $KUSTOMIZE_DIR/base/kustomization.yaml" >&2; exit 1; }
IMAGE=localhost/svctrace/coredns:$COREDNS_VERSION
SOCK=/run/svct/containerd/containerd.sock
SETTLE_TIMEOUT=${SETTLE_TIMEOUT:-180}

die() { log "ERROR: $*"; exit 1; }

# build_binary: the CoreDNS release module as published, built like its
# Makefile does (CGO_ENABLED=0, -trimpath, GitCommit stamped), so
# `coredns -version` names the release. No replace directives: the module's own
# go.mod and go.sum pin every dependency.
build_binary() {
  local out=$SVCT_CACHE/coredns/$COREDNS_VERSION
  local stamp="$out/.built-$(go version | sha256sum | cut -c1-12)"
  if [[ -x $out/coredns && -f $stamp ]]; then echo "$out/coredns"; return; fi
  mkdir -p "$out"
  log "building CoreDNS $COREDNS_VERSION from the Go module proxy (cold: a few minutes on 2 cores)"
  local mod; mod=$(go mod download -json "github.com/coredns/coredns@$COREDNS_VERSION")
  local dir; dir=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$mod")
  [[ -f $dir/go.mod ]] || die "go mod download github.com/coredns/coredns@$COREDNS_VERSION failed"
  # Build inside the downloaded module (read-only in the module cache: the
  # build writes only to GOCACHE and -o).
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags="-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
    -o "$out/coredns.tmp" .) >&2
  mv "$out/coredns.tmp" "$out/coredns"
  rm -f "$out"/.built-*; touch "$stamp"
  echo "$out/coredns"
}

# build_image: FROM scratch, /coredns only, entrypoint /coredns (as the
# official image: its Dockerfile copies the static binary into distroless and
# sets ENTRYPOINT ["/coredns"]; kubeadm's Deployment passes -conf).
build_image() {
  local bin; bin=$(build_binary)
  local images=$SVCT_CACHE/images
  mkdir -p "$images"
  local h; h=$({ sha256sum "$bin" "$here/mkimage.sh" "$here/coredns.sh"; echo "$IMAGE"; } | sha256sum | cut -c1-16)
  if [[ -f $images/coredns.tar && -f $images/.coredns-$h ]]; then echo "$images/coredns.tar"; return; fi
  log "building image $IMAGE"
  local root; root=$(mktemp -d)
  install -m 0755 "$bin" "$root/coredns"
  mkdir -p "$root/etc" "$root/tmp"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
  "$here/mkimage.sh" "$IMAGE" "$root" "$images/coredns.tar" '["/coredns"]' >/dev/null
  rm -rf "$root"; rm -f "$images"/.coredns-*; touch "$images/.coredns-$h"
  echo "$images/coredns.tar"
}

# overlay: the kustomization for the running cluster's IP family.
overlay() {
  local family
  family=$(sed -n 's/^SVCT_IP_FAMILY=//p' "$SVCT_ROOT/run/cluster.env" 2>/dev/null || true)
  if [[ $family == dual ]]; then echo "$KUSTOMIZE_DIR/dual"; else echo "$KUSTOMIZE_DIR/ipv4"; fi
}

use_cluster() {
  [[ $(id -u) == 0 ]] || die "must run as root (containerd socket)"
  if [[ -z ${KUBECONFIG:-} ]] || ! command -v kubectl >/dev/null; then
    eval "$("$here/cluster.sh" env)"
  fi
  local st=0
  "$here/cluster.sh" status >/dev/null 2>&1 || st=$?
  ((st == 0)) || die "the harness cluster is not up (hack/cluster.sh status exit $st): run hack/cluster.sh up first"
}

# shared_lock: hold the cluster lock shared while we work, so a concurrent
# `cluster.sh down` (which takes it exclusively) waits for us instead of
# pulling the cluster from under an apply.
shared_lock() {
  mkdir -p /run/lock
  exec 8>/run/lock/svc-trace-cluster.lock
  flock -s -w 600 8 || die "could not take the cluster lock (shared) in 10 minutes"
}

# dns_probe ARGS...: one query from the node (test/dns/cmd/dnsprobe, built
# from the same pkg/dnssim/dnswire code the tests use).
probe_bin=
dns_probe() { "$probe_bin" "$@"; }
build_probe() {
  probe_bin=$SVCT_CACHE/coredns/dnsprobe
  mkdir -p "$(dirname "$probe_bin")"
  (cd "$repo" && CGO_ENABLED=0 go build -o "$probe_bin" ./test/dns/cmd/dnsprobe)
}

wait_until() {
  local desc=$1; shift
  local deadline=$((SECONDS + SETTLE_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${SETTLE_TIMEOUT}s waiting for: $desc"
      kubectl -n kube-system get deploy,pods,svc,endpointslices -l k8s-app=kube-dns -o wide >&2 || true
      kubectl -n kube-system logs -l k8s-app=kube-dns --tail=30 >&2 || true
      return 1
    fi
    sleep 0.5
  done
  log "settled: $desc"
}

cmd_apply() {
  use_cluster
  local tar; tar=$(build_image)
  shared_lock
  ctr -a "$SOCK" -n k8s.io images import "$tar" >/dev/null || die "ctr images import $tar failed"
  build_probe
  kubectl apply -k "$(overlay)" >&2
  # A rebuilt image keeps its tag: a pod started from an older build keeps
  # running it, so restart the Deployment when the running image ID (the
  # config digest, as CRI reports it) is not the imported one.
  local want running
  want=$(tar -xOf "$tar" ./manifest.json | sed -n 's/.*"Config":"\([0-9a-f]*\)\.json".*/\1/p')
  running=$(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[*].status.containerStatuses[*].imageID}' 2>/dev/null || true)
  if [[ -n $running && -n $want && $running != *"$want"* ]]; then
    log "CoreDNS runs an older build of $IMAGE; restarting it"
    kubectl -n kube-system rollout restart deployment/coredns >&2
    kubectl -n kube-system rollout status deployment/coredns --timeout=120s >&2
  fi
  wait_until "deployment kube-system/coredns available" \
    kubectl -n kube-system wait --for=condition=Available deployment/coredns --timeout=5s
  wait_until "kube-dns answers over UDP from the node" dns_probe -proto udp -server 10.96.0.10:53 -name kubernetes.default.svc.cluster.local -type A -want-rcode NOERROR
  wait_until "kube-dns answers over TCP from the node" dns_probe -proto tcp -server 10.96.0.10:53 -name kubernetes.default.svc.cluster.local -type A -want-rcode NOERROR
}

cmd_delete() {
  use_cluster
  kubectl delete -k "$(overlay)" --ignore-not-found --wait=true --timeout=120s >&2
}

cmd_status() {
  use_cluster
  kubectl -n kube-system get deploy,pods,svc,endpointslices -l k8s-app=kube-dns -o wide
}

case ${1:-} in
  build) build_image ;;
  apply) cmd_apply ;;
  delete) cmd_delete ;;
  status) cmd_status ;;
  *) echo "usage: $0 build|apply|delete|status" >&2; exit 2 ;;
esac
