#!/usr/bin/env bash
# mkimage.sh REF ROOTFS_DIR OUT.tar ENTRYPOINT_JSON [CMD_JSON]
#
# Writes a single-layer docker-archive (the `docker save` format: manifest.json
# with RepoTags, an image config whose rootfs.diff_ids names the layer, and
# <sha>/layer.tar) that `ctr -n k8s.io images import` accepts. There is no
# container engine or registry on the test machines, so this is how images
# get into containerd.
#
# Deterministic: every tar is written with sorted names, a fixed mtime and
# numeric root ownership, and the config has no timestamps, so the same
# rootfs always gives the same image ID (and containerd re-imports are no-ops).
set -euo pipefail
if (($# < 4)); then
  echo "usage: $0 REF ROOTFS_DIR OUT.tar ENTRYPOINT_JSON [CMD_JSON]" >&2; exit 2
fi
ref=$1 rootfs=$2 out=$3 entrypoint=$4 cmd=${5:-null}
[[ -d $rootfs ]] || { echo "mkimage: $rootfs: not a directory" >&2; exit 2; }

dtar() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dtar -C "$rootfs" -cf "$work/layer.tar" .
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/out" "$work/out/$layer_sha"
mv "$work/layer.tar" "$work/out/$layer_sha/layer.tar"

printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"hack/mkimage.sh"}]}' \
  "$entrypoint" "$cmd" "$layer_sha" >"$work/config.json"
cfg_sha=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/out/$cfg_sha.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg_sha" "$ref" "$layer_sha" \
  >"$work/out/manifest.json"

mkdir -p "$(dirname "$out")"
dtar -C "$work/out" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "sha256:$cfg_sha"
