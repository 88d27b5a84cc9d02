#!/usr/bin/env bash
# helper-image.sh [OUT.tar] — `make helper-image`: builds the node helper image
# (hack/build-images.sh node-helper: no container engine, no registry) and
# writes it to OUT.tar (default bin/node-helper.tar) as a docker-archive that
# `ctr -n k8s.io images import OUT.tar` accepts. Prints the image reference on
# stdout, so `ref=$(make -s helper-image)` works; everything else goes to
# stderr.
#
#   HELPER_IMAGE_REF=REF   tag the tarball REF instead of the local
#                          localhost/svctrace/node-helper:v1 (what a release or
#                          an air-gapped mirror publishes; pass it to the
#                          plugin with --helper-image REF)
#
# The tarball is deterministic: the same inputs give the same bytes and the
# same image ID whatever the tag.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

local_ref=localhost/svctrace/node-helper:v1
ref=${HELPER_IMAGE_REF:-$local_ref}
out=${1:-$repo/bin/node-helper.tar}
[[ $ref =~ ^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(@sha256:[0-9a-f]{64})?$ && $ref == *:* ]] ||
  { log "HELPER_IMAGE_REF=$ref is not a tagged image reference (registry/name:tag)"; exit 2; }

images=$("$here/build-images.sh" node-helper)
src=$images/node-helper.tar
mkdir -p "$(dirname "$out")"
if [[ $ref == "$local_ref" ]]; then
  cp "$src" "$out.tmp"
else
  # Retag: only manifest.json's RepoTags changes; the layer and config (and
  # so the image ID) stay byte-identical.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tar -xf "$src" -C "$work"
  sed -i "s|\"RepoTags\":\[\"$local_ref\"\]|\"RepoTags\":[\"$ref\"]|" "$work/manifest.json"
  grep -qF "\"RepoTags\":[\"$ref\"]" "$work/manifest.json" || { log "could not retag $src"; exit 1; }
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$work" -cf "$out.tmp" .
fi
mv "$out.tmp" "$out"
id=$(tar -xOf "$out" ./manifest.json | sed -n 's/.*"Config":"\([0-9a-f]*\)\.json".*/\1/p')
log "wrote $out ($(du -h "$out" | cut -f1), image ID sha256:$id); load it with: ctr -n k8s.io images import $out"
echo "$ref"
