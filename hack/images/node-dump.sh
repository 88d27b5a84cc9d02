#!/bin/sh
# node-dump: every view of a node's packet path that kube-proxy's modes leave
# behind, for kubectl-svc_trace's node helper and the rules fixtures. Each dump
# is framed as
#   ===== BEGIN <cmd> =====
#   ...output (stdout and stderr)...
#   ===== END <cmd> (rc=N) =====
# so a reader can split them and tell "empty" from "failed".
#
# It never creates state. In particular it runs iptables-legacy-save only when
# the kernel already has legacy tables (/proc/net/ip_tables_names non-empty),
# and never with -t: `iptables-legacy-save -t T` (or `iptables-legacy -t T`)
# creates table T in the netns, after which every iptables-nft call on the
# node warns "iptables-legacy tables present" until reboot. kube-proxy's
# iptables-wrapper makes the same check before choosing a backend.
# Runs under busybox sh (the image has no bash).

dump() {
  name=$1
  shift
  echo "===== BEGIN $name ====="
  "$@" 2>&1
  rc=$?
  echo "===== END $name (rc=$rc) ====="
}

dump "iptables-nft-save" iptables-nft-save
dump "ip6tables-nft-save" ip6tables-nft-save
if [ -s /proc/net/ip_tables_names ]; then
  dump "iptables-legacy-save" iptables-legacy-save
fi
if [ -s /proc/net/ip6_tables_names ]; then
  dump "ip6tables-legacy-save" ip6tables-legacy-save
fi
dump "nft list ruleset" nft list ruleset
dump "nft -j list ruleset" nft -j list ruleset
dump "ipset save" ipset save
dump "ipvsadm -Ln" ipvsadm -Ln
dump "conntrack -L" conntrack -L
dump "ip addr" ip addr
dump "ip route" ip route show table all
dump "ip -6 route" ip -6 route show table all
dump "cat /proc/net/ip_tables_names" cat /proc/net/ip_tables_names
dump "cat /proc/net/ip6_tables_names" cat /proc/net/ip6_tables_names
