#!/usr/bin/env bash
# Builds the container images the e2e cluster runs, without any container
# engine or registry, as docker-archive tarballs under $SVCT_CACHE/images:
#
#   pause.tar  registry.k8s.io/pause:3.10   static C pause (containerd's sandbox_image)
#   echo.tar   localhost/svctrace/echo:v1   test/e2e/images/echo + busybox-static applets
#
# An image is rebuilt only when one of its inputs changed (sources, this
# script, mkimage.sh, the busybox binary, the Go/gcc toolchain). Prints the
# image directory on stdout. `hack/cluster.sh up` imports every *.tar there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

out="$SVCT_CACHE/images"
mkdir -p "$out"
busybox=${BUSYBOX:-/bin/busybox}
[[ -x $busybox ]] || { log "missing $busybox: run hack/install-deps.sh (busybox-static)"; exit 1; }
# A dynamically linked busybox would not run FROM scratch.
if ! file_out=$(LC_ALL=C readelf -d "$busybox" 2>&1) || grep -q NEEDED <<<"$file_out"; then
  log "$busybox is not statically linked: install busybox-static"; exit 1
fi

# inputs_hash FILE... prints a hash over the files' contents plus toolchain versions.
inputs_hash() {
  { sha256sum "$@" "$here/mkimage.sh" "$here/build-images.sh"; go version; gcc --version | head -1; } |
    sha256sum | cut -c1-16
}

build_pause() {
  local h; h=$(inputs_hash "$here/images/pause.c")
  if [[ -f $out/pause.tar && -f $out/.pause-$h ]]; then return; fi
  log "building image registry.k8s.io/pause:3.10"
  local root; root=$(mktemp -d)
  gcc -static -O2 -s -DVERSION=3.10-svctrace -o "$root/pause" "$here/images/pause.c"
  "$here/mkimage.sh" registry.k8s.io/pause:3.10 "$root" "$out/pause.tar" '["/pause"]' >/dev/null
  rm -rf "$root"; rm -f "$out"/.pause-*; touch "$out/.pause-$h"
}

build_echo() {
  local src=$repo/test/e2e/images/echo
  local h; h=$(inputs_hash "$src"/*.go "$busybox")
  if [[ -f $out/echo.tar && -f $out/.echo-$h ]]; then return; fi
  log "building image localhost/svctrace/echo:v1"
  local root; root=$(mktemp -d)
  mkdir -p "$root"/{bin,etc,tmp,var,proc,sys,dev}
  chmod 1777 "$root/tmp"
  (cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$root/echo" ./test/e2e/images/echo)
  cp "$busybox" "$root/bin/busybox"
  # Every applet as a symlink, so probes and `kubectl exec` can call
  # cat/touch/sh/wget/nslookup... by name.
  local a
  for a in $("$busybox" --list); do
    [[ $a == busybox || -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
  done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  "$here/mkimage.sh" localhost/svctrace/echo:v1 "$root" "$out/echo.tar" '["/echo"]' >/dev/null
  rm -rf "$root"; rm -f "$out"/.echo-*; touch "$out/.echo-$h"
}

build_pause
build_echo
echo "$out"
