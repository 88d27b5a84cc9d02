package dnsharness

import (
	"strings"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

// Case is one lookup run under every real resolver.
type Case struct {
	ID   string
	What string
	// ResolvConf is the pod's /etc/resolv.conf; the harness server listens
	// on 127.0.0.1 and 127.0.0.2, so nameservers are those.
	ResolvConf string
	// Hosts is the pod's /etc/hosts ("" → localhost only).
	Hosts string
	// Records is a --records file layered over the cluster model.
	Records string
	Name    string
	Family  dnssim.AddrFamily
}

// Pod resolv.conf as kubelet + containerd write it for a ClusterFirst pod in
// namespace default (dnssim.GeneratePodDNS; checked against kubelet), with
// the cluster DNS IP replaced by the harness server and a 1 s timeout so
// failure cases finish quickly.
const podRC = "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5 timeout:1\n"

// upstream answers for names outside cluster.local; everything unlisted is
// NXDOMAIN, as from a real recursive resolver.
const upstream = `
records:
  www.baidu.com.: {A: [110.242.68.66]}
  sls.doc.dc.wiki.tbchip.com.: {A: [203.0.113.7]}
  api.example.com.: {CNAME: [api.example.net.]}
  api.example.net.: {A: [192.0.2.80], AAAA: ["2001:db8::80"]}
  live.example.net.: {A: [192.0.2.90]}
  v6.example.net.: {AAAA: ["2001:db8::6"]}
  nodata.example.com.: {TXT: ["x"]}
  kafka.corp.example.: {A: [192.0.2.9]}
  slow.example.com.corp.example.: {A: [192.0.2.44]}
  hit.example.com.corp.example.: {A: [192.0.2.45]}
  sf.example.com.corp.example.: {TXT: ["x"]}
servfail: [sf.example.com., flaky.default.svc.cluster.local., sf2.example.com.]
timeout: [slow.example.com., hang.default.svc.cluster.local.]
refused: [nope.default.svc.cluster.local., rf.example.com.]
default: NXDOMAIN
`

// Cluster is the cluster model every case uses.
func Cluster() *dnssim.Cluster {
	notReady := false
	return &dnssim.Cluster{
		Plugin:     dnssim.KubeadmDefaultPlugin("cluster.local"),
		Namespaces: map[string]bool{"default": true, "monitoring": true, "kube-system": true, "kafka": true},
		Services: []dnssim.Service{
			{Name: "nginx-svc", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"10.96.10.10"}, Ports: []dnssim.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
			{Name: "prometheus-k8s", Namespace: "monitoring", Type: "ClusterIP", ClusterIPs: []string{"10.96.20.20"}, Ports: []dnssim.ServicePort{{Name: "web", Protocol: "TCP", Port: 9090}}},
			{Name: "dual", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"10.96.30.30", "fd00:10:96::30"}, Ports: []dnssim.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
			{Name: "v6only", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"fd00:10:96::20"}, Ports: []dnssim.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
			{Name: "dead-ext", Namespace: "default", Type: "ExternalName", ExternalName: "gone.example.net"},
			{Name: "live-ext", Namespace: "default", Type: "ExternalName", ExternalName: "live.example.net"},
			{Name: "web", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"None"},
				EndpointPorts: []dnssim.ServicePort{{Name: "http", Protocol: "TCP", Port: 8080}},
				Endpoints: []dnssim.Endpoint{
					{Addresses: []string{"10.244.0.5"}, Hostname: "web-0"},
					{Addresses: []string{"10.244.0.6"}},
					{Addresses: []string{"10.244.0.7"}, Ready: &notReady},
				}},
			{Name: "empty", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"None"},
				Endpoints: []dnssim.Endpoint{{Addresses: []string{"10.244.2.7"}, Ready: &notReady}}},
		},
	}
}

func longSearchLine() string {
	var doms []string
	for i := 0; len(strings.Join(doms, " ")) < 200; i++ {
		doms = append(doms, strings.Repeat("x", 20)+string(rune('a'+i))+".example")
	}
	return "search default.svc.cluster.local svc.cluster.local cluster.local " + strings.Join(doms, " ") + "\nnameserver 127.0.0.1\noptions ndots:5 timeout:1\n"
}

// a search domain so long that name.domain passes musl's 256-character
// filter but not res_mkquery's 253-character limit.
var longDomain = strings.Repeat("a", 62) + "." + strings.Repeat("b", 62) + "." + strings.Repeat("c", 62) + "." + strings.Repeat("d", 55) + ".example"

const podHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.244.0.5\tweb-0.web.default.svc.cluster.local\tweb-0\n"

// Cases covers the seed examples and every divergence of
// shared/docs/dns-semantics.md §5.
func Cases() []Case {
	ndots1 := "search corp.example\nnameserver 127.0.0.1\noptions ndots:1 timeout:1\n"
	return []Case{
		{ID: "seed-nginx-svc", What: "seed: short name from its own namespace → 1 round", ResolvConf: podRC, Name: "nginx-svc"},
		{ID: "seed-prometheus", What: "seed: name.namespace → 2 rounds", ResolvConf: podRC, Name: "prometheus-k8s.monitoring"},
		{ID: "seed-baidu", What: "seed: external name under ndots:5 → 4 rounds, 3 NXDOMAIN", ResolvConf: podRC, Name: "www.baidu.com"},
		{ID: "seed-baidu-fqdn", What: "seed: trailing dot → 1 round", ResolvConf: podRC, Name: "www.baidu.com."},
		{ID: "seed-five-dots", What: "seed: 5 dots reach ndots:5 → as-is first", ResolvConf: podRC, Name: "sls.doc.dc.wiki.tbchip.com"},
		{ID: "nodata-search-candidate", What: "NODATA on a search candidate (namespace kafka exists)", ResolvConf: podRC, Name: "kafka"},
		{ID: "nodata-then-found", What: "NODATA on a candidate before one that resolves", ResolvConf: "search default.svc.cluster.local svc.cluster.local corp.example\nnameserver 127.0.0.1\noptions ndots:5 timeout:1\n", Name: "kafka"},
		{ID: "asis-nxdomain-ndots1", What: "dots >= ndots, as-is NXDOMAIN, nothing in the search list", ResolvConf: ndots1, Name: "missing.example.com"},
		{ID: "asis-nxdomain-search-hit", What: "dots >= ndots, as-is NXDOMAIN, search candidate resolves", ResolvConf: ndots1, Name: "hit.example.com"},
		{ID: "five-dots-nxdomain", What: "5-dot name NXDOMAIN as-is under ndots:5", ResolvConf: podRC, Name: "a.b.c.d.example.com"},
		{ID: "externalname-dead", What: "ExternalName to a dead target (CNAME-only answer)", ResolvConf: podRC, Name: "dead-ext"},
		{ID: "externalname-live", What: "ExternalName to a live target", ResolvConf: podRC, Name: "live-ext"},
		{ID: "servfail-asis", What: "SERVFAIL on the as-is name (ndots reached)", ResolvConf: ndots1, Name: "sf.example.com"},
		{ID: "servfail-search", What: "SERVFAIL on a search candidate", ResolvConf: podRC, Name: "flaky"},
		{ID: "servfail-two-servers", What: "SERVFAIL from both of two nameservers (retries)", ResolvConf: "nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions timeout:1\n", Name: "sf2.example.com."},
		{ID: "servfail-attempts1", What: "SERVFAIL with attempts:1", ResolvConf: "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", Name: "sf2.example.com."},
		{ID: "timeout-search", What: "timeout on a search candidate", ResolvConf: "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n", Name: "hang"},
		{ID: "timeout-asis", What: "timeout on the as-is name (ndots reached)", ResolvConf: "search corp.example\nnameserver 127.0.0.1\noptions ndots:1 timeout:1 attempts:1\n", Name: "slow.example.com"},
		{ID: "refused-search", What: "REFUSED on a search candidate", ResolvConf: podRC, Name: "nope"},
		{ID: "refused-fqdn", What: "REFUSED on an absolute name", ResolvConf: podRC, Name: "rf.example.com."},
		{ID: "ipv4-v6only", What: "AF_INET lookup of an IPv6-only service", ResolvConf: podRC, Name: "v6only", Family: dnssim.FamilyIPv4},
		{ID: "any-v6only", What: "AF_UNSPEC lookup of an IPv6-only service", ResolvConf: podRC, Name: "v6only"},
		{ID: "ipv6-v6only", What: "AF_INET6 lookup of an IPv6-only service", ResolvConf: podRC, Name: "v6only", Family: dnssim.FamilyIPv6},
		{ID: "ipv4-nginx", What: "AF_INET lookup: A queries only", ResolvConf: podRC, Name: "nginx-svc", Family: dnssim.FamilyIPv4},
		{ID: "ipv6-nginx", What: "AF_INET6 lookup of an IPv4-only service", ResolvConf: podRC, Name: "nginx-svc", Family: dnssim.FamilyIPv6},
		{ID: "dual-stack", What: "dual-stack service", ResolvConf: podRC, Name: "dual"},
		{ID: "headless-ready-only", What: "headless service: ready endpoints only", ResolvConf: podRC, Name: "web"},
		{ID: "headless-hostname", What: "headless endpoint hostname", ResolvConf: podRC, Name: "web-0.web"},
		{ID: "headless-no-ready", What: "headless service without ready endpoints → NXDOMAIN, walk continues", ResolvConf: podRC, Name: "empty"},
		{ID: "no-tld-query", What: "options no-tld-query with a dot-less name", ResolvConf: "search corp.example\nnameserver 127.0.0.1\noptions ndots:1 timeout:1 no-tld-query\n", Name: "nothere"},
		{ID: "musl-long-search-line", What: "search line of 255+ characters (musl ignores the line)", ResolvConf: longSearchLine(), Name: "nginx-svc"},
		{ID: "search-dot", What: "a \".\" search entry", ResolvConf: "search . default.svc.cluster.local\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n", Name: "nginx-svc"},
		{ID: "hosts-hostname", What: "the pod's own hostname from /etc/hosts", ResolvConf: podRC, Hosts: podHosts, Name: "web-0"},
		{ID: "hosts-fqdn", What: "the pod's own FQDN from /etc/hosts", ResolvConf: podRC, Hosts: podHosts, Name: "web-0.web.default.svc.cluster.local"},
		{ID: "fqdn-service", What: "service FQDN with a trailing dot", ResolvConf: podRC, Name: "nginx-svc.default.svc.cluster.local."},
		{ID: "name-namespace", What: "advice form name.namespace from the same namespace", ResolvConf: podRC, Name: "nginx-svc.default"},
		{ID: "ndots2-external", What: "ndots lowered to 2 via dnsConfig: external name as-is first", ResolvConf: "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:2 timeout:1\n", Name: "www.baidu.com"},
		{ID: "cname-chain", What: "upstream CNAME chain", ResolvConf: podRC, Name: "api.example.com."},
		{ID: "pod-record", What: "pod A record a-b-c-d.ns.pod (pods insecure)", ResolvConf: podRC, Name: "10-244-0-9.default.pod.cluster.local"},
		{ID: "missing-namespace", What: "service in a namespace that does not exist", ResolvConf: podRC, Name: "nginx.missing-ns"},
		{ID: "namespace-name", What: "the name of an existing namespace (NODATA at ns.svc)", ResolvConf: podRC, Name: "default"},
		{ID: "refused-asis", What: "REFUSED on the as-is name (ndots reached)", ResolvConf: ndots1, Name: "rf.example.com"},
		{ID: "single-request", What: "options single-request (same names, serialised)", ResolvConf: "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 single-request\n", Name: "prometheus-k8s.monitoring"},
		{ID: "no-search", What: "no search list: bare name only", ResolvConf: "nameserver 127.0.0.1\noptions timeout:1\n", Name: "nginx-svc"},
		{ID: "ndots0", What: "ndots:0: as-is first even without dots", ResolvConf: "search default.svc.cluster.local\nnameserver 127.0.0.1\noptions ndots:0 timeout:1\n", Name: "nginx-svc"},
		{ID: "uppercase", What: "upper-case name: sent as written, matched case-insensitively", ResolvConf: podRC, Name: "NGINX-SVC"},
		{ID: "nodata-asis-external", What: "external name with NODATA as-is (ndots reached)", ResolvConf: ndots1, Name: "nodata.example.com"},
		{ID: "long-candidate", What: "search domain making name.domain longer than 253 characters", ResolvConf: "search " + longDomain + " default.svc.cluster.local\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n", Name: "nginx-svc"},
		{ID: "long-candidate-254", What: "name.domain of exactly 254 characters: inside musl's search filter, over res_mkquery's limit", ResolvConf: "search " + strings.Repeat("e", 60) + "." + strings.Repeat("f", 60) + "." + strings.Repeat("g", 60) + "." + strings.Repeat("h", 53) + ".example default.svc.cluster.local\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n", Name: "nginx-svc"},
		{ID: "onion", What: "a .onion name: Go drops only the bare name (RFC 7686, net.avoidDNS per candidate)", ResolvConf: podRC, Name: "hidden.onion"},
		{ID: "v6-upstream-ipv4", What: "AF_INET lookup of an AAAA-only upstream name", ResolvConf: podRC, Name: "v6.example.net.", Family: dnssim.FamilyIPv4},
	}
}
