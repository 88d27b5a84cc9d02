#!/usr/bin/env bash
# Runs the real-resolver DNS harness (test/dns): installs its packages
# (hack/dns-test-deps.sh), then runs glibc, musl and Go's pure resolver in a
# private network + mount namespace against the harness DNS server and
# compares every query and result with pkg/dnssim. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/dns-test-deps.sh"
cd "$here/.."
SVCTRACE_DNS_HARNESS=1 go test ./test/dns/ -run '^TestRealResolvers$' -count=1 -v -timeout 30m "$@"
