#!/usr/bin/env bash
# release-test.sh — the distribution of kubectl-svc-trace, tested with the
# real tools and offline (it reaches only the Go module proxy and Debian apt):
#
#  1. goreleaser, built from the Go module proxy, checks .goreleaser.yaml and
#     makes a snapshot release. Asserted: the five archives and checksums.txt
#     (which must verify); each archive holds exactly the binary, LICENSE,
#     README.md and, on unix, the executable completion shim; every binary is
#     static (CGO_ENABLED=0), for its os/arch, and stamped with the snapshot
#     version and commit.
#  2. plugins.yaml is rendered for the snapshot the way krew-release-bot renders
#     it on a release (hack/krew-template): concrete URIs and the sha256 of the
#     archives just built, which must match checksums.txt.
#  3. krew's validate-krew-manifest checks that manifest, then checks a copy
#     whose URIs point at a loopback HTTP server serving the archives without
#     -skip-install: it installs every platform with `kubectl krew install`
#     (KREW_OS/KREW_ARCH) and checks that a LICENSE file gets installed.
#  4. A real krew, run by a real kubectl (`kubectl krew`, kubectl from
#     hack/build-k8s.sh), installs the plugin from the manifest and the local
#     linux archive into a throw-away KREW_ROOT. kubectl must list it
#     (`kubectl plugin list`) and run it (`kubectl svc-trace version` prints
#     the snapshot version and commit); with the completion shim linked the way
#     the manifest's caveats say, kubectl's own plugin completion must reach the
#     plugin; the installed plugin's `check -o junit` must validate against
#     docs/junit.xsd (and a broken copy must not); `kubectl krew uninstall`
#     must remove it.
#
# The tools are built once into ${SVCT_CACHE}/tools/<name>-<version> and kept;
# everything else lives in one temp dir, removed on exit with the loopback
# server (the only process started here). The working tree is only read:
# goreleaser builds it in place, writing to the temp dir (dist:).
#
# Time on this 2-core machine, measured: cold (empty tool cache and Go build
# cache, module cache filled) 14 min: goreleaser's five cross builds 9.5,
# building goreleaser and krew 3, compiling the JUnit test 2 (seconds after
# `make unit`); warm 30 s. Not counting hack/build-k8s.sh, which `make e2e`
# shares. Each phase's time is printed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

# v2.16.0 is the newest goreleaser this setup can build: v2.17.0 needs
# go.digitalxero.dev/go-msix, which the module proxy does not serve, and
# v2.18+ needs Go 1.27.
GORELEASER_VERSION=${GORELEASER_VERSION:-v2.16.0}
KREW_VERSION=$(sed -n 's|^require sigs.k8s.io/krew \(v[^ ]*\)$|\1|p' "$here/tools/krew/go.mod")
[[ -n $KREW_VERSION ]] || { log "release-test: cannot read the krew version from hack/tools/krew/go.mod"; exit 1; }
PLATFORMS=(linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64)
SCHEMA=$repo/docs/junit.xsd

start=$SECONDS
phase_start=$SECONDS
timings=()
phase() { # name: ends the previous phase's clock and logs the new one
  [[ -n ${current:-} ]] && timings+=("$(printf '%4ds  %s' $((SECONDS - phase_start)) "$current")")
  current=$1
  phase_start=$SECONDS
  log "release-test: $1"
}
fail() {
  log "release-test: FAIL: $*"
  exit 1
}

work=$(mktemp -d -t svct-release.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

phase "prerequisites: Debian packages, kubectl"
bash "$here/release-deps.sh"
k8s_bin=$("$here/build-k8s.sh" | tail -1)
[[ -x $k8s_bin/kubectl ]] || fail "no kubectl in $k8s_bin (hack/build-k8s.sh)"

phase "JUnit output against docs/junit.xsd (go test, with xmllint present)"
# make unit may have run before xmllint was installed and skipped it; here it
# must run.
out=$(cd "$repo" && go test -count=1 -v -run 'JUnit' ./pkg/cmd/ 2>&1) || { echo "$out" >&2; fail "go test -run JUnit ./pkg/cmd"; }
if grep -q -- '--- SKIP' <<<"$out"; then
  echo "$out" | grep -A2 -- '--- SKIP' >&2
  fail "the JUnit schema tests skipped although xmllint is installed"
fi
log "release-test: $(grep -c -- '--- PASS' <<<"$out") JUnit subtests passed"

phase "tools: goreleaser $GORELEASER_VERSION, krew $KREW_VERSION (cached in $SVCT_CACHE/tools)"
tools=$SVCT_CACHE/tools
gr_dir=$tools/goreleaser-$GORELEASER_VERSION
if [[ ! -x $gr_dir/goreleaser ]]; then
  log "building goreleaser $GORELEASER_VERSION from the Go module proxy (cold: ~2 min)"
  rm -rf "$gr_dir.tmp" && mkdir -p "$gr_dir.tmp"
  GOBIN=$gr_dir.tmp CGO_ENABLED=0 go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
  rm -rf "$gr_dir" && mv "$gr_dir.tmp" "$gr_dir"
fi
krew_dir=$tools/krew-$KREW_VERSION
krew_stamp=$krew_dir/.built-$(sha256sum "$here/tools/krew/go.sum" | cut -c1-12)
if [[ ! -f $krew_stamp ]]; then
  log "building krew and validate-krew-manifest $KREW_VERSION from the Go module proxy"
  rm -rf "$krew_dir.tmp" && mkdir -p "$krew_dir.tmp"
  # Not stamped with krew's version (internal/version.gitTag): an untagged
  # krew is a development build, which never runs its GitHub upgrade check.
  (cd "$here/tools/krew" && CGO_ENABLED=0 go build -trimpath -o "$krew_dir.tmp/krew" sigs.k8s.io/krew/cmd/krew &&
    CGO_ENABLED=0 go build -trimpath -o "$krew_dir.tmp/validate-krew-manifest" sigs.k8s.io/krew/cmd/validate-krew-manifest)
  touch "$krew_dir.tmp/.built-$(sha256sum "$here/tools/krew/go.sum" | cut -c1-12)"
  rm -rf "$krew_dir" && mv "$krew_dir.tmp" "$krew_dir"
fi
mkdir -p "$work/bin"
(cd "$repo" && go build -o "$work/bin/krew-template" ./hack/krew-template)
ln -s "$k8s_bin/kubectl" "$work/bin/kubectl"
ln -s "$krew_dir/krew" "$work/bin/kubectl-krew"
gr=$gr_dir/goreleaser

phase "goreleaser check"
(cd "$repo" && "$gr" check) >"$work/check.log" 2>&1 || { cat "$work/check.log" >&2; fail "goreleaser check"; }

phase "goreleaser release --snapshot (five cross builds)"
if grep -q '^dist:' "$repo/.goreleaser.yaml"; then
  fail ".goreleaser.yaml sets dist:, which this test overrides; drop it"
fi
{ cat "$repo/.goreleaser.yaml"; printf '\n# added by hack/release-test.sh\ndist: %s\n' "$work/dist"; } >"$work/goreleaser.yaml"
if ! (cd "$repo" && "$gr" release --snapshot --clean --skip=publish --config "$work/goreleaser.yaml") >"$work/release.log" 2>&1; then
  tail -40 "$work/release.log" >&2
  fail "goreleaser release --snapshot"
fi
dist=$work/dist

phase "archives, checksums, binaries"
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$dist/metadata.json")
commit=$(sed -n 's/.*"commit":"\([^"]*\)".*/\1/p' "$dist/metadata.json")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+-snapshot-[0-9a-f]+$ ]] || fail "snapshot version '$version' is not the semver .goreleaser.yaml asks for"
[[ $commit == "$(git -C "$repo" rev-parse HEAD)" ]] || fail "snapshot commit '$commit' is not HEAD"
tag=v$version
n=$(find "$dist" -maxdepth 1 \( -name '*.tar.gz' -o -name '*.zip' \) | wc -l)
((n == ${#PLATFORMS[@]})) || fail "$n archives in dist/, want ${#PLATFORMS[@]}: $(ls "$dist")"
[[ $(wc -l <"$dist/checksums.txt") -eq ${#PLATFORMS[@]} ]] || fail "checksums.txt has $(wc -l <"$dist/checksums.txt") lines"
(cd "$dist" && sha256sum --quiet --strict -c checksums.txt) || fail "checksums.txt does not verify"
declare -A archive
for p in "${PLATFORMS[@]}"; do
  goos=${p%_*} goarch=${p#*_}
  if [[ $goos == windows ]]; then
    a=kubectl-svc_trace_${tag}_$p.zip bin=kubectl-svc_trace.exe
    [[ -f $dist/$a ]] || fail "missing archive $a"
    want="LICENSE README.md kubectl-svc_trace.exe"
    got=$(unzip -Z1 "$dist/$a" | sort | xargs)
  else
    a=kubectl-svc_trace_${tag}_$p.tar.gz bin=kubectl-svc_trace
    [[ -f $dist/$a ]] || fail "missing archive $a"
    want="LICENSE README.md kubectl-svc_trace kubectl_complete-svc_trace"
    got=$(tar -tzf "$dist/$a" | sort | xargs)
    mode=$(tar -tvzf "$dist/$a" kubectl_complete-svc_trace | cut -c1-10)
    [[ $mode == -rwxr-xr-x ]] || fail "$a: kubectl_complete-svc_trace has mode $mode, want -rwxr-xr-x"
  fi
  [[ $got == "$want" ]] || fail "$a holds [$got], want [$want]"
  x=$work/x/$p
  mkdir -p "$x"
  if [[ $goos == windows ]]; then unzip -q "$dist/$a" "$bin" -d "$x"; else tar -xzf "$dist/$a" -C "$x" "$bin"; fi
  info=$(go version -m "$x/$bin")
  for kv in CGO_ENABLED=0 "GOOS=$goos" "GOARCH=$goarch" -trimpath=true; do
    grep -q "build[[:space:]]$kv\$" <<<"$info" || fail "$a: $bin is not built with $kv"
  done
  # -X ...pkg/cmd.version/commit: the strings are in the binary's data.
  grep -aqF "$version" "$x/$bin" || fail "$a: $bin does not contain the version $version"
  grep -aqF "$commit" "$x/$bin" || fail "$a: $bin does not contain the commit $commit"
  archive[$p]=$a
done
got=$("$work/x/linux_amd64/kubectl-svc_trace" version)
[[ $got == "kubectl-svc-trace $version (commit $commit"* ]] || fail "linux/amd64 binary: version prints '$got'"

phase "render plugins.yaml for $tag (krew-release-bot semantics)"
mkdir -p "$work/release" "$work/local"
manifest=$work/release/svc-trace.yaml
"$work/bin/krew-template" -template "$repo/plugins.yaml" -tag "$tag" -assets "$dist" -o "$manifest"
for p in "${PLATFORMS[@]}"; do
  a=${archive[$p]}
  want=$(awk -v f="$a" '$2 == f {print $1}' "$dist/checksums.txt")
  got=$(grep -A1 -xF "    uri: https://github.com/svctrace/kubectl-svc-trace/releases/download/$tag/$a" "$manifest" | sed -n 's/^    sha256: //p')
  [[ -n $want && $got == "$want" ]] || fail "manifest: $a has sha256 '$got', checksums.txt says '$want'"
done
grep -qx "  version: $tag" "$manifest" || fail "manifest: spec.version is not $tag"

phase "validate-krew-manifest (structure; then installing all platforms from a loopback server)"
vkm=$krew_dir/validate-krew-manifest
"$vkm" -manifest "$manifest" -skip-install >"$work/validate.log" 2>&1 || { cat "$work/validate.log" >&2; fail "validate-krew-manifest -skip-install"; }
"$work/bin/krew-template" -serve "$dist" -serve-for 15m >"$work/server.url" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 50); do [[ -s $work/server.url ]] && break; sleep 0.1; done
base=$(head -1 "$work/server.url")
[[ $base == http://127.0.0.1:* ]] || { cat "$work/server.log" >&2; fail "loopback server did not start"; }
"$work/bin/krew-template" -template "$repo/plugins.yaml" -tag "$tag" -assets "$dist" -base-url "$base" -o "$work/local/svc-trace.yaml"
# validate-krew-manifest runs `kubectl krew install --manifest` per platform
# with only KREW_ROOT/KREW_OS/KREW_ARCH and PATH in its environment.
if ! env -i PATH="$work/bin:/usr/bin:/bin" HOME="$work/home" TMPDIR="$work" \
  "$vkm" -manifest "$work/local/svc-trace.yaml" >"$work/validate-install.log" 2>&1; then
  cat "$work/validate-install.log" >&2
  fail "validate-krew-manifest (install of every platform)"
fi
installed=$(grep -c 'installed  spec.platforms\[' "$work/validate-install.log" || true)
((installed == ${#PLATFORMS[@]})) || { cat "$work/validate-install.log" >&2; fail "validate-krew-manifest installed $installed platforms, want ${#PLATFORMS[@]}"; }
kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=""

phase "kubectl krew install --manifest --archive, kubectl plugin list, kubectl svc-trace"
goarch=$(go env GOARCH)
[[ -n ${archive[linux_$goarch]:-} ]] || fail "no linux/$goarch archive for this machine"
mkdir -p "$work/home"
k() { # kubectl in a clean environment: this KREW_ROOT and nothing of the caller's
  env -i PATH="$work/bin:$work/krew/bin:/usr/bin:/bin" HOME="$work/home" TMPDIR="$work" \
    KREW_ROOT="$work/krew" KREW_NO_UPGRADE_CHECK=1 KUBECONFIG="$work/home/no-kubeconfig" \
    kubectl "$@" </dev/null
}
k krew install --manifest="$manifest" --archive="$dist/${archive[linux_$goarch]}" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "kubectl krew install"; }
grep -q "Installed plugin: svc-trace" "$work/install.log" || { cat "$work/install.log" >&2; fail "krew did not report the install"; }
grep -q "PRIVILEGED pod with hostNetwork" "$work/install.log" || fail "krew did not show the caveats"
grep -qx "  version: $tag" "$work/krew/receipts/svc-trace.yaml" || fail "no krew receipt for svc-trace $tag"
# `krew list`, `info` and `uninstall` insist on a plugin index (a git clone
# under KREW_ROOT/index). The default one is cloned from GitHub; a local git
# repository laid out like krew-index, holding this manifest, stands in.
idx=$work/index
mkdir -p "$idx/plugins" && cp "$manifest" "$idx/plugins/svc-trace.yaml"
git -C "$idx" init -q && git -C "$idx" add plugins &&
  git -C "$idx" -c user.name=release-test -c user.email=release-test@localhost commit -q -m "svc-trace $tag"
k krew index add local "$idx" >"$work/index.log" 2>&1 || { cat "$work/index.log" >&2; fail "kubectl krew index add"; }
# (Outputs are captured before grep -q: with pipefail, grep quitting early
# would fail the pipeline on the writer's SIGPIPE.)
got=$(k krew list 2>&1) || fail "kubectl krew list: $got"
grep -qE '^([a-z]+/)?svc-trace$' <<<"$got" || fail "kubectl krew list does not show svc-trace: $got"
got=$(k krew info local/svc-trace 2>&1) || fail "kubectl krew info local/svc-trace: $got"
grep -qx "VERSION: $tag" <<<"$got" || fail "kubectl krew info local/svc-trace does not show VERSION: $tag: $got"
plugins=$(k plugin list 2>&1 || true)
grep -qxF "$work/krew/bin/kubectl-svc_trace" <<<"$plugins" || fail "kubectl plugin list does not show $work/krew/bin/kubectl-svc_trace: $plugins"
got=$(k svc-trace version 2>&1) || fail "kubectl svc-trace version: $got"
grep -qF "kubectl-svc-trace $version (commit $commit" <<<"$got" || fail "kubectl svc-trace version printed '$got', want $version and $commit"
got=$(k svc-trace version -o json 2>&1) || fail "kubectl svc-trace version -o json: $got"
grep -qE "\"version\": *\"$version\"" <<<"$got" || fail "kubectl svc-trace version -o json: $got"
log "release-test: kubectl runs the krew-installed plugin: $(k svc-trace version)"

phase "completion through kubectl and the shim (as the caveats say to link it)"
ln -s "$work/krew/store/svc-trace/$tag/kubectl_complete-svc_trace" "$work/krew/bin/"
grep -qF 'ln -s "${KREW_ROOT:-$HOME/.krew}/store/svc-trace/'"$tag"'/kubectl_complete-svc_trace"' "$manifest" ||
  fail "the manifest's caveats no longer show the link this test makes"
kcomplete() { # words after `kubectl`: the candidates kubectl prints, on one line
  k __complete "$@" 2>/dev/null | grep -v '^:' | cut -f1 | xargs
}
got=$(kcomplete svc-tr)
[[ " $got " == *" svc-trace "* ]] || fail "kubectl __complete svc-tr: [$got]"
got=$(kcomplete svc-trace check --output "")
[[ $got == "table json yaml junit markdown" ]] || fail "kubectl __complete svc-trace check --output '': [$got]"
got=$(kcomplete svc-trace check --ignore "")
[[ " $got " == *" SelectorMatchesNoPods "* ]] || fail "kubectl __complete svc-trace check --ignore '': [$got]"
got=$(kcomplete svc-trace -f "$repo/examples/all.yaml" nomatch)
[[ $got == "nomatch-svc" ]] || fail "kubectl __complete svc-trace -f examples/all.yaml nomatch: [$got]"

phase "the installed plugin's JUnit report against docs/junit.xsd"
rc=0
k svc-trace check -f "$repo/examples/all.yaml" -o junit >"$work/report.xml" 2>"$work/report.err" || rc=$?
((rc == 3)) || { cat "$work/report.err" >&2; fail "kubectl svc-trace check on examples/all.yaml exited $rc, want 3 (findings)"; }
xmllint --noout --nonet --schema "$SCHEMA" "$work/report.xml" 2>"$work/xmllint.log" || { cat "$work/xmllint.log" >&2; fail "the JUnit report does not validate against docs/junit.xsd"; }
sed 's/<testcase name="[^"]*"/<testcase/' "$work/report.xml" >"$work/broken.xml"
if xmllint --noout --nonet --schema "$SCHEMA" "$work/broken.xml" 2>/dev/null; then
  fail "xmllint accepted a JUnit report whose testcases have no name: the schema check proves nothing"
fi
rc=0
k svc-trace check -f "$repo/examples/all.yaml" -o junit --fail-on=never >/dev/null 2>&1 || rc=$?
((rc == 0)) || fail "kubectl svc-trace check --fail-on=never exited $rc, want 0"

phase "kubectl krew uninstall"
k krew uninstall svc-trace >"$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log" >&2; fail "kubectl krew uninstall"; }
[[ ! -e $work/krew/bin/kubectl-svc_trace && ! -e $work/krew/store/svc-trace ]] || fail "krew uninstall left files behind"

phase done
for t in "${timings[@]}"; do log "release-test: $t"; done
log "release-test: PASS in $((SECONDS - start))s"
