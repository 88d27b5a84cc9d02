#!/usr/bin/env bash
# Installs what the real-resolver DNS harness (test/dns, build tag dnsharness)
# needs: a C compiler with glibc headers (glibc getaddrinfo client), Debian's
# musl-tools (musl-gcc, static musl client) and iproute2/util-linux (network
# namespaces, unshare). Idempotent and quick when everything is present.
#
# Debian bookworm ships musl 1.2.3, so the musl client this installs validates
# dnssim's "musl-1.2.3" flavour; see test/dns/README.md for how the 1.2.4+
# differences are covered.
set -euo pipefail
pkgs=(gcc libc6-dev musl-tools musl-dev iproute2 util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "dns-test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
command -v musl-gcc >/dev/null
command -v gcc >/dev/null
dpkg-query -W -f='musl ${Version}\n' musl-dev >&2
