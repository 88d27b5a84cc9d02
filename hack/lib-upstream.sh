# Shared by the record-* scripts that replay kube-proxy's own unit tests.
# Sourced, not run. Needs Go and the module proxy; the module cache itself
# is never modified.
#
# upstream_module WORK: a Go module in WORK/mod that requires
# k8s.io/kubernetes@$K8S_VERSION (default v1.36.3), its staging modules
# pinned, with k8s.io/kubernetes replaced by a writable copy in WORK/k8s —
# go refuses overlays of module-cache files, so the recording hooks are
# added to that copy. Prints the module cache directory of the original.
upstream_module() {
  local work=$1 ver=${K8S_VERSION:-v1.36.3} gomod dir m
  local stage=v0.${ver#v1.}
  mkdir -p "$work/mod"
  (
    cd "$work/mod"
    go mod init svctrace-upstream-flows >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    for m in $(grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk '{print $1}'); do
      go mod edit -replace="$m=$m@$stage"
    done
    go mod edit -require="k8s.io/kubernetes@$ver"
    dir=$(go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    cp -r "$dir" "$work/k8s"
    chmod -R u+w "$work/k8s"
    go mod edit -replace="k8s.io/kubernetes=$work/k8s"
    echo "$dir"
  )
}
