// Package rules reads what a Linux node's packet filter really holds and
// evaluates a packet through it the way the kernel would, for all three of
// kube-proxy's Linux modes.
//
// Inputs (ParseAny detects each): iptables-save of both backends
// (iptables-legacy-save and iptables-nft-save, IPv4 and IPv6) and `iptables
// -S`; nftables as `nft list ruleset`, `nft -j list ruleset` and `nft -f`
// files (kube-proxy's own transactions), all into one model that keeps
// every table; IPVS as ipvsadm's list forms (-Ln, --stats, --rate,
// --thresholds) and save form (-Sn); ipsets as `ipset save` and `ipset
// list`.
//
// The evaluator walks the first packet of a connection through the netfilter
// hooks kube-proxy programs — prerouting, the routing decision on the
// DNATed address, input or forward, output, postrouting — and at each hook
// runs every base chain of every table in priority order, iptables'
// built-in chains and nftables base chains alike (nat chains at the NAT
// hook, once per connection), with IPVS at LOCAL_IN and LOCAL_OUT. Load
// balancing forks the walk with exact probabilities: `-m statistic` (see
// ExactProbability), `numgen random mod N` (1/N each), IPVS rr and wrr;
// schedulers that decide by state are named, not given invented numbers.
// Chain names are recomputed from the API objects with kube-proxy's own
// hashing (MapChains), because kube-proxy omits comments in large clusters.
//
// Where the modes really differ for the same Service (the shared scenario
// tests assert it): nftables mode rejects packets to a ClusterIP port the
// Service does not serve and drops packets to unallocated service IPs
// (cluster-ips-check), iptables mode has no such rules; nftables masquerades
// hairpin traffic through the hairpin-connections set and `ct status dnat`,
// iptables through a per-endpoint `-s <ep>` rule, with the same result; an
// nft dump holds the session-affinity state (its affinity sets' elements)
// where iptables' recent lists are not in the dump, so only iptables mode
// shows sticky branches; and IPVS falls back to cluster endpoints for a
// Local traffic policy with no local endpoint where the other modes drop.
//
// The package is pure logic: standard library only, no client-go, and no I/O
// beyond the io.Reader handed to Parse. It never panics on bad input; every
// problem becomes a Warning that names the source, line and, where there is
// one, the rule, and a rule that cannot be decided is never treated as a
// match.
package rules
