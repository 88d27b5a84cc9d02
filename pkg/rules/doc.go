// Package rules reads what a Linux node's packet filter really holds and
// evaluates a packet through it the way the kernel would.
//
// Part 1 covers iptables: both iptables-save flavours
// (iptables-legacy-save and iptables-nft-save, IPv4 and IPv6) and the
// `iptables -S` listing, a packet evaluator that walks the netfilter hooks
// kube-proxy programs (nat PREROUTING/OUTPUT, filter FORWARD/INPUT/OUTPUT, nat
// POSTROUTING) and branches on `-m statistic` with exact rational
// probabilities, and a re-implementation of kube-proxy's chain-name hashing
// so chains can be mapped to Services and endpoints without relying on
// `--comment`, which kube-proxy omits in large clusters.
//
// The package is pure logic: standard library only, no client-go, and no I/O
// beyond the io.Reader handed to Parse. It never panics on bad input; every
// problem becomes a Warning that names the source, line and, where there is
// one, the rule.
package rules
