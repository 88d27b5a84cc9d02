#!/usr/bin/env bash
# Installs the Debian packages hack/release-test.sh and the JUnit schema test
# (pkg/cmd/junit_test.go) need: xmllint (libxml2-utils) to validate
# `check -o junit` against docs/junit.xsd, unzip to look inside the Windows
# archive, git for goreleaser. Idempotent and quick when all are there.
set -euo pipefail
pkgs=(libxml2-utils unzip git)
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
