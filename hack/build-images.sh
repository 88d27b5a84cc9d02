#!/usr/bin/env bash
# Builds the container images the e2e cluster runs, without any container
# engine or registry, as docker-archive tarballs under $SVCT_CACHE/images:
#
#   pause.tar  registry.k8s.io/pause:3.10   static C pause (containerd's sandbox_image)
#   echo.tar   localhost/svctrace/echo:v1   test/e2e/images/echo + busybox-static applets
#   node-helper.tar  localhost/svctrace/node-helper:v1  the host's iptables (nft and
#              legacy), nft, ipset, conntrack, ipvsadm, iproute2 ip, util-linux nsenter
#              with their libraries and xtables plugins, busybox, /usr/local/bin/node-dump,
#              /bin/httpget-echo (docs/node-helper.md; `make helper-image`)
#
# Usage: build-images.sh [all|pause|echo|node-helper] (default all).
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

# copy_with_libs ROOT FILE...: FILE and every shared library ldd lists for it,
# at the same paths inside ROOT (plus the paths symlinks resolve to).
copy_with_libs() {
  local root=$1 f lib; shift
  for f in "$@"; do
    install -D -m "$(stat -c %a "$(readlink -f "$f")")" "$(readlink -f "$f")" "$root$f"
    for lib in $(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\//{print $1}'); do
      # Keep the source mode: the ELF interpreter (ld-linux) must stay executable.
      [[ -e $root$lib ]] || install -D -m "$(stat -c %a "$(readlink -f "$lib")")" "$(readlink -f "$lib")" "$root$lib"
    done
  done
}

# packages_of FILE...: the Debian packages that installed the files, one a
# line (usrmerge-aware: dpkg knows /lib/... while ldd may print /usr/lib/...
# or the versioned target, so every spelling is asked for, in one query).
packages_of() {
  local f r paths=()
  for f in "$@"; do
    r=$(readlink -f "$f")
    paths+=("$f" "$r" "${r#/usr}" "/usr$f")
  done
  # dpkg-query exits 1 when a spelling is unknown (most are): not an error.
  { dpkg-query -S "${paths[@]}" 2>/dev/null || true; } | sed -n 's/^\([^:,]*\)[:,].*/\1/p' | sort -u
}

# The node helper (pkg/nodehelper's pod): everything its collection script
# (pkg/nodehelper/script.go) calls, from the host's Debian packages, so the
# versions are exactly the ones docs/node-helper.md lists:
#   iptables (xtables-nft-multi and xtables-legacy-multi, with every
#   dlopen'ed xtables/*.so), nft (with JSON), ipset, conntrack, ipvsadm,
#   iproute2's ip (busybox's ip has no -j), util-linux nsenter (the fallback
#   to the host's binaries) and busybox for sh/tar/gzip/sha256sum/awk/wget/
#   timeout/... Every shared library ldd lists comes along.
# Read-only-rootfs safe: nothing writes outside /tmp (the pod mounts an
# emptyDir there; the script points XTABLES_LOCKFILE at it).
# /etc/svc-trace/node-helper-versions lists every package and version; the
# collection copies it into each dump.
NODE_HELPER_BINS=(/usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi /usr/sbin/nft /usr/sbin/ipset
                  /usr/sbin/conntrack /usr/sbin/ipvsadm /bin/ip /usr/bin/nsenter)
NODE_HELPER_XT=/usr/lib/x86_64-linux-gnu/xtables

build_node_helper() {
  local bins=("${NODE_HELPER_BINS[@]}") xt=$NODE_HELPER_XT
  local b
  for b in "${bins[@]}"; do [[ -x $b ]] || { log "missing $b: run hack/install-deps.sh"; exit 1; }; done
  local h; h=$(inputs_hash "${bins[@]}" "$xt"/*.so "$here/images/node-dump.sh" "$busybox" "$repo"/test/e2e/images/echo/*.go)
  if [[ -f $out/node-helper.tar && -f $out/.node-helper-$h ]]; then return; fi
  log "building image localhost/svctrace/node-helper:v1"
  local root; root=$(mktemp -d)
  mkdir -p "$root"/{bin,etc/svc-trace,tmp,run,var/lib,proc,sys,dev,usr/local/bin,usr/sbin}
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  local a
  for a in $("$busybox" --list); do
    # ip and nsenter come from iproute2 and util-linux (below): busybox's ip
    # has no JSON output, and a stale applet link would shadow nothing but
    # confuse whoever debugs the image.
    [[ $a == busybox || $a == ip || $a == nsenter || -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
  done
  copy_with_libs "$root" "${bins[@]}" "$xt"/*.so
  # ip lives in /bin on Debian; the image has it in /usr/sbin as well, so
  # `command -v ip` finds iproute2's whatever PATH order a runtime uses.
  ln -sf ../../bin/ip "$root/usr/sbin/ip"
  # The nft backend is the default name, as on current distributions and as
  # the cluster pins it; -legacy only on explicit request.
  local fam cmd
  for fam in iptables ip6tables; do
    for cmd in "" -save -restore; do
      ln -sf xtables-nft-multi "$root/usr/sbin/$fam$cmd"
      ln -sf xtables-nft-multi "$root/usr/sbin/$fam-nft$cmd"
      ln -sf xtables-legacy-multi "$root/usr/sbin/$fam-legacy$cmd"
    done
  done
  cp /etc/protocols /etc/services "$root/etc/" # protocol/port names in rule dumps
  [[ -d /etc/iproute2 ]] && cp -r /etc/iproute2 "$root/etc/"         # table/protocol names in ip -j route
  [[ -d /usr/share/iproute2 ]] && mkdir -p "$root/usr/share" && cp -r /usr/share/iproute2 "$root/usr/share/"
  printf 'root:x:0:0:root:/:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  install -m 0755 "$here/images/node-dump.sh" "$root/usr/local/bin/node-dump"
  (cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$root/bin/httpget-echo" ./test/e2e/images/echo)
  # The exact package versions inside, one "package version" a line.
  local f libs=()
  for f in "${bins[@]}" "$xt"/*.so; do
    libs+=("$f")
    while read -r b; do libs+=("$b"); done < <(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\//{print $1}')
  done
  libs+=("$busybox")
  packages_of "${libs[@]}" | xargs dpkg-query -W -f='${Package} ${Version}\n' >"$root/etc/svc-trace/node-helper-versions"
  # Sleeps until SIGTERM, so the helper pod is ready for `kubectl exec` and
  # deletes at once.
  "$here/mkimage.sh" localhost/svctrace/node-helper:v1 "$root" "$out/node-helper.tar" \
    '["/bin/sh","-c"]' '["trap \"exit 0\" TERM; while :; do sleep 3600 & wait $!; done"]' >/dev/null
  rm -rf "$root"; rm -f "$out"/.node-helper-*; touch "$out/.node-helper-$h"
}

case ${1:-all} in
  all) build_pause; build_echo; build_node_helper ;;
  pause) build_pause ;;
  echo) build_echo ;;
  node-helper) build_node_helper ;;
  *) log "usage: $0 [all|pause|echo|node-helper]"; exit 2 ;;
esac
echo "$out"
