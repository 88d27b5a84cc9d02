package nodehelper

import (
	"fmt"
	"net/netip"
	"strings"
)

// Tools says whose binaries read the node's netfilter state.
type Tools string

const (
	// ToolsAuto uses the image's tools and falls back to the host's own
	// binaries (nsenter -t 1 -m -n) for a dump the image's tools cannot read:
	// a backend or version mismatch shows as a failed save, an "is
	// incompatible, use 'nft' tool" table, an "[unsupported revision]"
	// match, or an nft error.
	ToolsAuto Tools = "auto"
	// ToolsImage never falls back (the dump says what the image could read).
	ToolsImage Tools = "image"
	// ToolsHost always uses the host's binaries for netfilter, IPVS, ipset
	// and conntrack (iproute2 stays the image's: its JSON does not depend on
	// the node's versions).
	ToolsHost Tools = "host"
)

// ParseTools reads a --helper-tools value.
func ParseTools(s string) (Tools, error) {
	switch t := Tools(s); t {
	case ToolsAuto, ToolsImage, ToolsHost:
		return t, nil
	case "":
		return ToolsAuto, nil
	}
	return "", fmt.Errorf("invalid helper tools %q: use auto, image or host", s)
}

// ScriptParams are the inputs of one collection run.
type ScriptParams struct {
	// RouteTargets get an `ip -j route get` each (the hop to every endpoint).
	RouteTargets []string
	// ConntrackTargets get a `conntrack -L -d` each (the Service's IPs).
	ConntrackTargets []string
	// Tools: auto (default), image or host.
	Tools Tools
	// SyntheticRules, when > 0, adds a generated kube-proxy-shaped
	// iptables-save of that many rule lines as "synthetic-iptables-save", so
	// the transport of a large node's dump can be measured on a small
	// cluster. Test only; the trace never reads that file.
	SyntheticRules int
}

// collectScript runs inside the helper (busybox sh). It writes every dump to
// a file under $W/d, each with a .rc (exit status) and, when not empty, a
// .err (stderr); packs them into $W/dump.tgz; streams the archive on stdout;
// and ends with one line on stderr: "svc-trace-archive <bytes> <sha256>".
// The plugin checks both, so a cut stream is detected and never parsed.
//
// It changes nothing on the node:
//   - legacy iptables is read only when /proc/net/ip{,6}_tables_names lists
//     tables, and never with -t: `iptables-legacy-save -t T` creates T (and
//     every iptables-nft call then warns until reboot), which is why
//     kubernetes-sigs/iptables-wrappers' DetectMode reads legacy whole;
//   - ipvsadm runs only when /proc/net/ip_vs exists: without the module it
//     execs modprobe ip_vs;
//   - ipset runs only when the ip_set module is loaded (the netlink request
//     would autoload it);
//   - nft lists tables one by one and skips the ip/ip6 filter, nat, mangle,
//     raw and security tables that iptables-nft-save already printed (an
//     iptables-mode node's 700k rules would otherwise come twice, the
//     second time as ~1 KB of JSON each) unless iptables-nft-save called
//     them incompatible.
//
// The iptables backend decision mirrors DetectMode in
// kubernetes-sigs/iptables-wrappers (pkg/xtables/detect.go): the kubelet's
// KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY chains in the nft backend's mangle
// table (IPv4, then IPv6) mean nft; else the same chains anywhere in the
// legacy saves mean legacy; else nft. The file iptables-backend holds one
// line: the backend, then why, then how many KUBE-* chains each backend
// holds (both may, after a migration).
const collectScript = `
set -u
W=${SVCT_WORKDIR:-/tmp/svc-trace}
export XTABLES_LOCKFILE=$W/xtables.lock
rm -rf "$W"; mkdir -p "$W/d/route-get" "$W/d/nft" || { echo "cannot write $W (the pod needs a writable /tmp)" >&2; exit 90; }
cd "$W/d" || exit 90
# busybox sh prefers its own applets to PATH (and so does its timeout when
# it execs): iproute2's ip (busybox's has no -j) and util-linux's nsenter
# are called by path.
IP=/usr/sbin/ip; [ -x $IP ] || IP=/sbin/ip; [ -x $IP ] || IP=ip
NSENTER=/usr/bin/nsenter; [ -x $NSENTER ] || NSENTER=nsenter
have() { command -v "$1" >/dev/null 2>&1; }
# The node's own root and namespaces: PID 1's (hostPID makes it the node's
# init). Where PID 1 is out of reach even for a privileged container (an LSM
# or a VM init that denies ptrace access, so /proc/1/root and /proc/1/ns are
# EACCES), the kubelet's: it runs in the node's mount and network
# namespaces by definition.
HP=1
if ! ls /proc/1/root/ >/dev/null 2>&1; then
  HP=""
  for p in /proc/[0-9]*; do
    if [ "$(cat "$p/comm" 2>/dev/null)" = kubelet ] && ls "$p/root/" >/dev/null 2>&1; then HP=${p#/proc/}; break; fi
  done
  [ -n "$HP" ] || HP=1
fi
H=/proc/$HP/root
# run NAME CMD...: stdout to NAME, exit status to NAME.rc, stderr to NAME.err
# (kept only when not empty). Every command is bounded, so a wedged tool
# (iptables-nft 1.8.3's loop) cannot hold the node helper forever.
run() { n=$1; shift; timeout 300 "$@" >"$n" 2>"$n.err"; echo $? >"$n.rc"; [ -s "$n.err" ] || rm -f "$n.err"; }
# host CMD...: the node's own binary, in the node's mount and network
# namespaces (those of $HP). A function, so only for probes; run() calls
# nsenter itself (timeout cannot exec a function).
host() { $NSENTER -t $HP -m -n -- env PATH=$HOSTPATH "$@"; }
# The node's own PATH, not the image's: its binaries live where its
# distribution puts them.
HOSTPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
rc() { cat "$1.rc" 2>/dev/null || echo 1; }
# unreadable NAME: the image's tool could not read this node's state.
unreadable() {
  [ "$(rc "$1")" = 0 ] || return 0
  grep -qE "is incompatible, use 'nft' tool|incompatible base-chains|\[unsupported revision\]" "$1" 2>/dev/null && return 0
  grep -qiE 'error|unsupported|not supported|unknown' "$1.err" 2>/dev/null && return 0
  return 1
}
# with_fallback NAME HOSTCMD... -- IMAGECMD...: the image's tool (unless
# TOOLS=host); on TOOLS=auto and an unreadable result, the host's binary,
# recorded in tools-fallback. The image's attempt is kept as NAME.image.
# HOSTCMD "@save FAMILY BACKEND" is resolved by host_save, only when needed.
with_fallback() {
  n=$1; shift
  hc=""; while [ "$1" != -- ]; do hc="$hc $1"; shift; done; shift
  why=""
  if [ "$TOOLS" = host ]; then
    why="--helper-tools=host"
  else
    run "$n" "$@"
    if [ "$TOOLS" = auto ] && unreadable "$n"; then
      why="image tool rc=$(rc "$n")$(head -c 300 "$n.err" 2>/dev/null | tr '\n' ' ' | sed 's/^/: /')$(grep -m1 -E "incompatible|unsupported revision" "$n" 2>/dev/null | sed 's/^/: /')"
      mv "$n" "$n.image"; mv "$n.rc" "$n.image.rc"; [ -e "$n.err" ] && mv "$n.err" "$n.image.err"
    fi
  fi
  if [ -n "$why" ]; then
    case $hc in " @save "*) set -- $hc; hc=$(host_save "$2" "$3") ;; esac
    # shellcheck disable=SC2086 # hc is a command line of known words
    run "$n" $NSENTER -t $HP -m -n -- env PATH=$HOSTPATH $hc
    echo "$n host rc=$(rc "$n") cmd=$(echo $hc) reason=$why" >>tools-fallback
  fi
}
# host_save FAMILY BACKEND: the node's save command for that backend
# (iptables-nft-save on Debian/Ubuntu/RHEL; else plain iptables-save when its
# --version names the backend).
host_save() {
  if host sh -c "command -v $1-$2-save" >/dev/null 2>&1; then echo "$1-$2-save"; return; fi
  case $2 in nft) b=nf_tables ;; *) b=legacy ;; esac
  if host "$1-save" --version 2>/dev/null | grep -q "($b)"; then echo "$1-save"; return; fi
  echo "$1-$2-save"
}

{
  echo "hostname=$(cat $H/etc/hostname 2>/dev/null || hostname)"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel=$(uname -r)"
  echo "tools=$TOOLS"
  if [ "$HP" = 1 ]; then echo "host-pid=1"; else echo "host-pid=$HP (kubelet: PID 1 is not accessible)"; fi
} >meta
cp /etc/svc-trace/node-helper-versions helper-versions 2>/dev/null
for t in iptables-nft iptables-legacy nft ipset conntrack $IP $NSENTER; do
  v=--version; [ "${t##*/}" = ip ] && v=-V
  if have $t; then echo "${t##*/}: $($t $v 2>&1 | head -n1)"; else echo "${t##*/}: absent"; fi
done >tools
if [ -e /proc/net/ip_vs ] && have ipvsadm; then echo "ipvsadm: $(ipvsadm --version 2>&1 | head -n1)" >>tools; fi
cat /proc/net/ip_tables_names >proc-ip_tables_names 2>/dev/null
cat /proc/net/ip6_tables_names >proc-ip6_tables_names 2>/dev/null

for fam in iptables ip6tables; do
  with_fallback $fam-nft-save @save $fam nft -- $fam-nft-save
done
if [ -s proc-ip_tables_names ]; then with_fallback iptables-legacy-save @save iptables legacy -- iptables-legacy-save; fi
if [ -s proc-ip6_tables_names ]; then with_fallback ip6tables-legacy-save @save ip6tables legacy -- ip6tables-legacy-save; fi

with_fallback nft-tables.json nft -j list tables -- nft -j list tables
incompatible=$(cat iptables-nft-save ip6tables-nft-save iptables-nft-save.image ip6tables-nft-save.image 2>/dev/null | sed -n "s/^# Table .\([a-z]*\)' .*incompatible.*/\1/p" | sort -u | tr '\n' ' ')
tr '{' '\n' <nft-tables.json | sed -n 's/.*"family": "\([a-z0-9]*\)", "name": "\([^"]*\)".*/\1 \2/p' | while read -r fam name; do
  case "$fam:$name" in
    ip:filter|ip:nat|ip:mangle|ip:raw|ip:security|ip6:filter|ip6:nat|ip6:mangle|ip6:raw|ip6:security)
      case " $incompatible " in *" $name "*) ;; *) continue ;; esac ;;
  esac
  f=nft/$(echo "$fam-$name" | tr '/' '_')
  with_fallback "$f.json" nft -j list table "$fam" "$name" -- nft -j list table "$fam" "$name"
  with_fallback "$f.nft" nft list table "$fam" "$name" -- nft list table "$fam" "$name"
done

if [ -e /proc/net/ip_vs ]; then
  cat /proc/net/ip_vs >proc-ip_vs 2>/dev/null
  if have ipvsadm || [ "$TOOLS" = host ]; then with_fallback ipvsadm-save ipvsadm -Sn -- ipvsadm -Sn; fi
fi
if [ -d /sys/module/ip_set ]; then with_fallback ipset-save ipset save -- ipset save; fi

run ip-addr.json $IP -j addr
run ip-link.json $IP -j -d link
run ip-route.json $IP -j route show table all
run ip6-route.json $IP -6 -j route show table all
run ip-rule.json $IP -j rule
run ip6-rule.json $IP -6 -j rule
for ip in $ROUTE_TARGETS; do run "route-get/$ip" $IP -j route get "$ip"; done
# busybox wget -T segfaults on some hosts (docs/local-cluster.md): timeout.
run proxy-mode timeout 3 wget -q -O - http://127.0.0.1:10249/proxyMode
if [ "$(rc proxy-mode)" != 0 ]; then run proxy-mode timeout 3 wget -q -O - "http://[::1]:10249/proxyMode"; fi
cat $H/etc/resolv.conf >node-resolv.conf 2>/dev/null
[ -r $H/run/systemd/resolve/resolv.conf ] && cat $H/run/systemd/resolve/resolv.conf >node-resolv.conf.systemd-resolved
if [ -n "$CONNTRACK_TARGETS" ]; then
  mkdir -p conntrack
  for ip in $CONNTRACK_TARGETS; do with_fallback "conntrack/$ip" conntrack -L -d "$ip" -- conntrack -L -d "$ip"; done
fi

mangle_hints() { awk '/^\*/ {t = $1} t == "*mangle" && /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) /' "$@" 2>/dev/null | grep -c .; }
kube_chains() { cat "$@" 2>/dev/null | grep -c '^:KUBE-'; }
nftk=$(kube_chains iptables-nft-save ip6tables-nft-save)
legk=$(kube_chains iptables-legacy-save ip6tables-legacy-save)
if [ "$(mangle_hints iptables-nft-save)" -gt 0 ] || [ "$(mangle_hints ip6tables-nft-save)" -gt 0 ]; then
  echo "nft kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY chains are in the nft backend's mangle table; KUBE-* chains: nft=$nftk legacy=$legk"
elif grep -qE '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) ' iptables-legacy-save ip6tables-legacy-save 2>/dev/null; then
  echo "legacy kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY chains are in the legacy backend; KUBE-* chains: nft=$nftk legacy=$legk"
else
  echo "nft no kubelet hint chains in either backend, nft is the default; KUBE-* chains: nft=$nftk legacy=$legk"
fi >iptables-backend

if [ "$SYNTH" -gt 0 ]; then
  awk -v n="$SYNTH" 'BEGIN {
    srand(20240501); a = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    print "*nat"
    for (i = 0; i < n; ) {
      s = ""; e = ""
      for (j = 0; j < 16; j++) { s = s substr(a, int(rand() * 32) + 1, 1); e = e substr(a, int(rand() * 32) + 1, 1) }
      ns = "ns" int(i / 5000); svc = "svc" int(i / 5); ip = "10." int(i / 65536) % 256 "." int(i / 256) % 256 "." i % 256
      print "-A KUBE-SERVICES -d 10.96." int(i / 256) % 256 "." i % 256 "/32 -p tcp -m comment --comment \"" ns "/" svc ":http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-" s; i++
      print "-A KUBE-SVC-" s " ! -s 10.244.0.0/16 -d 10.96." int(i / 256) % 256 "." i % 256 "/32 -p tcp -m comment --comment \"" ns "/" svc ":http cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ"; i++
      print "-A KUBE-SVC-" s " -m comment --comment \"" ns "/" svc ":http -> " ip ":8080\" -j KUBE-SEP-" e; i++
      print "-A KUBE-SEP-" e " -s " ip "/32 -m comment --comment \"" ns "/" svc ":http\" -j KUBE-MARK-MASQ"; i++
      print "-A KUBE-SEP-" e " -p tcp -m comment --comment \"" ns "/" svc ":http\" -m tcp -j DNAT --to-destination " ip ":8080"; i++
    }
    print "COMMIT"
  }' >synthetic-iptables-save
fi

echo "fallbacks=$(cat tools-fallback 2>/dev/null | grep -c .)" >>meta
cd "$W" && tar -czf dump.tgz -C d . || { echo "packing the dump failed" >&2; exit 91; }
size=$(wc -c <dump.tgz) && sum=$(sha256sum dump.tgz | cut -d' ' -f1) || exit 92
cat dump.tgz || exit 93
echo "svc-trace-archive $size $sum" >&2
`

// Script returns the collection script with its parameters set. Targets
// that are not IP addresses are dropped, so nothing can be injected.
func Script(p ScriptParams) string {
	tools := p.Tools
	if tools == "" {
		tools = ToolsAuto
	}
	if _, err := ParseTools(string(tools)); err != nil {
		tools = ToolsAuto
	}
	synth := p.SyntheticRules
	if synth < 0 {
		synth = 0
	}
	return fmt.Sprintf("TOOLS=%s\nROUTE_TARGETS='%s'\nCONNTRACK_TARGETS='%s'\nSYNTH=%d\n", tools,
		addrWords(p.RouteTargets), addrWords(p.ConntrackTargets), synth) + collectScript
}

// addrWords joins the valid IP addresses (canonical form, deduplicated) for
// a shell for-loop; anything else is dropped.
func addrWords(ips []string) string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ips {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Zone() != "" {
			continue
		}
		c := a.Unmap().String()
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return strings.Join(out, " ")
}
