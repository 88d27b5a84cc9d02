#!/usr/bin/env bash
# Installs the Debian packages the real-component tests need. Idempotent and
# quick when everything is already there.
set -euo pipefail
# gcc + libc6-dev: the static pause binary (build-images.sh); binutils: readelf
# to check busybox is static; kmod: modprobe br_netfilter; the rest: the
# cluster itself (cluster.sh); nfacct: restoring kube-proxy's KUBE-FORWARD
# rule (it names an nfacct object) in the node helper's netns test.
pkgs=(containerd runc containernetworking-plugins etcd-server iptables nftables nfacct
      conntrack ipset ipvsadm iproute2 busybox-static openssl curl procps psmisc util-linux
      gcc libc6-dev binutils kmod)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# Debian starts containerd and etcd as services on install; the harness runs its
# own instances with their own sockets and ports, so stop the packaged ones.
for s in containerd etcd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$s" 2>/dev/null; then
    systemctl stop "$s" >&2 || true
  fi
done
