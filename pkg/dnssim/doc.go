// Package dnssim predicts, for one pod and one name, every DNS query the pod's
// stub resolver sends and what cluster DNS answers, without touching a network.
//
// It is pure logic: no client-go clients, no cobra, no sockets. Callers
// (pkg/cluster, pkg/cmd) fill the small plain structs below from API objects.
// Every rule mirrors a named upstream function, cited in the doc comment of the
// code that implements it, because the project is judged against the real
// components (kubelet, glibc, musl, Go's resolver, CoreDNS), not against
// fixtures of our own:
//
//   - resolvconf.go: resolv.conf as each consumer reads it (kubelet
//     parseResolvConf, glibc res_init.c, musl resolvconf.c, Go dnsReadConfig).
//   - kubelet.go: the pod's resolv.conf and /etc/hosts as kubelet generates
//     them (pkg/kubelet/network/dns/dns.go GetPodDNS, kubelet_pods.go
//     managedHostsFileContent).
//   - walk.go: the search walk of glibc, musl (1.2.4+ and 1.2.3) and Go.
//   - coredns.go, corefile.go: answers as CoreDNS's kubernetes plugin gives them.
//   - records.go: the --records file of explicit (what-if) upstream answers.
//
// The rules and their sources are collected in shared/docs/dns-semantics.md.
package dnssim
