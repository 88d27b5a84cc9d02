package nodehelper

import (
	"fmt"
	"strings"
)

// collectScript runs inside the helper (busybox sh) and writes every dump
// to files under $W/d, each with a .rc (exit status) and .err (stderr), then
// packs them into $W/dump.tgz and prints "<bytes> <sha256>". The plugin then
// streams the archive with a second exec and checks both, so a cut stream is
// detected instead of parsed.
//
// Backend choice mirrors kubernetes-sigs/iptables-wrappers: kubelet's
// KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY chains in the mangle table say
// which backend the node uses; failing that, the backend with more rules
// wins. Legacy tables are only read when /proc/net/ip_tables_names lists
// some, because `iptables-legacy-save -t TABLE` would create the table (and
// make every iptables-nft call warn until reboot).
const collectScript = `
set -u
W=/tmp/svc-trace
rm -rf "$W"; mkdir -p "$W/d"; cd "$W/d" || exit 90
run() { n=$1; shift; "$@" >"$n" 2>"$n.err"; echo $? >"$n.rc"; }
have() { command -v "$1" >/dev/null 2>&1; }
H=/proc/1/root
{ echo "hostname=$(cat $H/etc/hostname 2>/dev/null || hostname)"; echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "kernel=$(uname -r)"; } >meta
for t in iptables-nft iptables-legacy nft ipset ipvsadm conntrack ip; do
  if have $t; then echo "$t: $($t --version 2>&1 | head -n1)"; else echo "$t: absent"; fi
done >tools
cat /proc/net/ip_tables_names >proc-ip_tables_names 2>/dev/null
cat /proc/net/ip6_tables_names >proc-ip6_tables_names 2>/dev/null
if [ -s proc-ip_tables_names ]; then run iptables-legacy-save iptables-legacy-save; fi
if [ -s proc-ip6_tables_names ]; then run ip6tables-legacy-save ip6tables-legacy-save; fi
run iptables-nft-save iptables-nft-save
run ip6tables-nft-save ip6tables-nft-save
run nft.json nft -j list ruleset
run nft.txt nft list ruleset
if have ipvsadm; then run ipvsadm ipvsadm -Sn; run ipvsadm-list ipvsadm -Ln; fi
if [ -r /proc/net/ip_vs ]; then cat /proc/net/ip_vs >proc-ip_vs 2>/dev/null; fi
if have ipset; then run ipset ipset save; fi
run ip-addr.json ip -j addr
run ip-route.json ip -j route show table all
run ip6-route.json ip -6 -j route show table all
mkdir -p route-get
for ip in __ROUTE_TARGETS__; do run "route-get/$ip" ip -j route get "$ip"; done
run proxy-mode timeout 3 wget -q -O - http://127.0.0.1:10249/proxyMode
if [ ! -s proxy-mode ]; then run proxy-mode timeout 3 wget -q -O - "http://[::1]:10249/proxyMode"; fi
cat $H/etc/resolv.conf >node-resolv.conf 2>/dev/null
if have conntrack; then for ip in __CONNTRACK_TARGETS__; do run "conntrack-$ip" conntrack -L -d "$ip"; done; fi
legacy=$(grep -cE '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)' iptables-legacy-save ip6tables-legacy-save 2>/dev/null | awk -F: '{s+=$NF} END {print s+0}')
nftn=$(grep -cE '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)' iptables-nft-save ip6tables-nft-save 2>/dev/null | awk -F: '{s+=$NF} END {print s+0}')
if [ "$legacy" -ge 1 ]; then echo "legacy hint-chains=$legacy" >iptables-backend
elif [ "$nftn" -ge 1 ]; then echo "nft hint-chains=$nftn" >iptables-backend
else
  l=$(cat iptables-legacy-save ip6tables-legacy-save 2>/dev/null | grep -c '^-')
  n=$(cat iptables-nft-save ip6tables-nft-save 2>/dev/null | grep -c '^-')
  if [ "$l" -gt "$n" ]; then echo "legacy rule-count legacy=$l nft=$n" >iptables-backend; else echo "nft rule-count legacy=$l nft=$n" >iptables-backend; fi
fi
cd "$W" && tar -czf dump.tgz -C d . || exit 91
echo "$(wc -c <dump.tgz) $(sha256sum dump.tgz | cut -d' ' -f1)"
`

// Script returns the collection script for the given route and conntrack
// targets (IP addresses, validated by the caller).
func Script(routeTargets, conntrackTargets []string) string {
	s := strings.ReplaceAll(collectScript, "__ROUTE_TARGETS__", shellWords(routeTargets))
	return strings.ReplaceAll(s, "__CONNTRACK_TARGETS__", shellWords(conntrackTargets))
}

// shellWords joins already-validated IP addresses (digits, hex, '.', ':')
// for a for-loop; anything else is dropped so nothing can be injected.
func shellWords(ips []string) string {
	var out []string
	for _, ip := range ips {
		ok := ip != ""
		for _, r := range ip {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '.' || r == ':') {
				ok = false
			}
		}
		if ok {
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprint(strings.Join(out, " "))
}
