#!/usr/bin/env bash
# Enforces the architecture's import rules (DEVELOPERS.md, docs/style): cobra
# only in pkg/cmd, no client-go in the pure packages, no cgo pcap, no os.Exit
# outside main, no init() side effects. Fails with the offending lines.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { # description, grep args...
  local what=$1; shift
  local out
  out=$(grep -rn --include='*.go' "$@" || true)
  if [[ -n "$out" ]]; then
    echo "verify-imports: $what:" >&2
    echo "$out" >&2
    fail=1
  fi
}
check "cobra imported outside pkg/cmd" -l '"github.com/spf13/cobra"' pkg/cluster pkg/nodehelper pkg/rules pkg/dnssim pkg/trace pkg/render
check "client-go imported by a pure package" -E '"k8s.io/client-go/' pkg/rules pkg/dnssim pkg/trace pkg/render
check "rules/dnssim must be free of k8s clients and render" -E '"github.com/svctrace/kubectl-svc-trace/pkg/(cluster|nodehelper|render|cmd)"' pkg/rules pkg/dnssim pkg/trace
check "render must not import engine readers" -E '"github.com/svctrace/kubectl-svc-trace/pkg/(cluster|nodehelper|rules|cmd)"' pkg/render
check "cgo pcap is not allowed (pure-Go gopacket only)" '"github.com/google/gopacket/pcap"' pkg cmd
check "os.Exit outside main" 'os\.Exit(' pkg
check "init() functions" -E '^func init\(\)' pkg cmd
exit $fail
