# Shared settings for the harness scripts. Sourced, not run.
# SVCT_CACHE holds builds that survive between runs (Kubernetes binaries,
# images); SVCT_ROOT holds one cluster's state and is wiped by `down`.
SVCT_CACHE=${SVCT_CACHE:-/var/cache/svc-trace}
SVCT_ROOT=${SVCT_ROOT:-/var/lib/svc-trace-e2e}
export SVCT_CACHE SVCT_ROOT
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
