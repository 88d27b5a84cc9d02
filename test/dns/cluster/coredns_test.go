//go:build linux

package dnscluster

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim/dnswire"
)

var queryID atomic.Uint32

// ask sends one question to server over network ("udp" with EDNS0 1232, as
// Go's resolver does, so big answers are not truncated; "tcp" without).
func ask(network string, q dnssim.Question, server string) (*dnswire.Reply, error) {
	conn, err := net.DialTimeout(network, server, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var edns uint16
	if network == "udp" {
		edns = 1232
	}
	// Upstream (forwarded) names take CoreDNS's forward plugin a few
	// seconds to give up on: allow for it.
	return dnswire.Exchange(conn, network == "tcp", uint16(queryID.Add(1)), q, edns, time.Now().Add(15*time.Second))
}

func askUDP(q dnssim.Question, server string) (*dnswire.Reply, error) { return ask("udp", q, server) }

// question is one query the test asks both the model and CoreDNS.
type question struct {
	name, qtype string
	// kind groups questions for the summary ("service A", "PTR endpoint"...).
	kind string
}

// questions derives every question from the cluster's own objects: each
// Service's name in every record type, each endpoint's name, each named
// port's SRV, a PTR for every ClusterIP and endpoint address, pod names,
// namespace names, and the malformed and out-of-zone names CoreDNS has rules
// for (dns-semantics.md §6).
func questions(t *testing.T, e *env) []question {
	t.Helper()
	ctx := context.Background()
	svcs, err := e.client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slices, err := e.client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := e.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nss, err := e.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var qs []question
	seen := map[string]bool{}
	// Names are asked as written (case included: CoreDNS answers in the
	// question's case), made absolute.
	add := func(kind, name, qtype string) {
		if !strings.HasSuffix(name, ".") {
			name += "."
		}
		k := name + "/" + qtype
		if seen[k] {
			return
		}
		seen[k] = true
		qs = append(qs, question{name: name, qtype: qtype, kind: kind})
	}
	addPTR := func(kind, ip string) {
		rev, err := dnssim.ReverseName(ip)
		if err != nil {
			t.Fatalf("%s: %v", ip, err)
		}
		add(kind, rev, "PTR")
	}
	endpointAddrs := map[string]bool{}
	for _, s := range svcs.Items {
		base := s.Name + "." + s.Namespace + ".svc.cluster.local"
		for _, qt := range []string{"A", "AAAA", "SRV", "CNAME"} {
			add("service "+qt, base, qt)
		}
		for i, p := range s.Spec.Ports {
			if p.Name == "" {
				continue
			}
			srv := "_" + p.Name + "._" + strings.ToLower(string(p.Protocol)) + "." + base
			add("named port SRV", srv, "SRV")
			if i == 0 {
				add("named port A", srv, "A")
			}
		}
		for _, ip := range s.Spec.ClusterIPs {
			if ip != corev1.ClusterIPNone {
				addPTR("PTR ClusterIP", ip)
			}
		}
		for _, sl := range slices.Items {
			if sl.Namespace != s.Namespace || sl.Labels[discoveryv1.LabelServiceName] != s.Name {
				continue
			}
			for _, ep := range sl.Endpoints {
				for _, a := range ep.Addresses {
					endpointAddrs[a] = true
					dashed := strings.NewReplacer(".", "-", ":", "-").Replace(a)
					host := dashed
					if ep.Hostname != nil && *ep.Hostname != "" {
						host = *ep.Hostname
						// Once a hostname is set, the dashed-IP name no
						// longer matches (dns-semantics.md §6.2, C16).
						add("endpoint dashed name shadowed by hostname", dashed+"."+base, "A")
					}
					add("endpoint name", host+"."+base, "A")
					add("endpoint name", host+"."+base, "AAAA")
				}
			}
		}
	}
	addrs := make([]string, 0, len(endpointAddrs))
	for a := range endpointAddrs {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		addPTR("PTR endpoint", a)
	}
	// Pod IPs (some in no Service: the PTR falls through to forward) and
	// pod names "a-b-c-d.<ns>.pod" (pods insecure).
	for _, p := range pods.Items {
		if p.Spec.HostNetwork || p.Namespace == "kube-system" {
			continue
		}
		for _, ip := range p.Status.PodIPs {
			if !endpointAddrs[ip.IP] {
				addPTR("PTR pod IP in no Service (fallthrough)", ip.IP)
			}
			if p.Namespace == "svct-dns" && strings.HasPrefix(p.Name, "web-") {
				dashed := strings.NewReplacer(".", "-", ":", "-").Replace(ip.IP)
				add("pod name", dashed+"."+p.Namespace+".pod.cluster.local", "A")
				add("pod name", dashed+"."+p.Namespace+".pod.cluster.local", "AAAA")
				add("pod name in a namespace that exists", dashed+".svct-dns-empty.pod.cluster.local", "A")
				add("pod name in a missing namespace", dashed+".no-such-ns.pod.cluster.local", "A")
			}
		}
	}
	for _, n := range nss.Items {
		add("namespace", n.Name+".svc.cluster.local", "A")
		add("namespace", n.Name+".svc.cluster.local", "AAAA")
	}
	for _, f := range []struct{ kind, name, qtype string }{
		{"missing namespace", "no-such-ns.svc.cluster.local", "A"},
		{"missing service in an empty namespace", "x.svct-dns-empty.svc.cluster.local", "A"},
		{"missing service in a missing namespace", "x.no-such-ns.svc.cluster.local", "A"},
		{"missing service", "no-such-svc.default.svc.cluster.local", "A"},
		{"zone apex", "cluster.local", "A"},
		{"zone apex", "svc.cluster.local", "A"},
		{"zone apex", "pod.cluster.local", "A"},
		{"pod namespace", "default.pod.cluster.local", "A"},
		{"not svc/pod", "x.cluster.local", "A"},
		{"search candidate", "www.baidu.com.cluster.local", "A"},
		{"search candidate", "www.baidu.com.svc.cluster.local", "A"},
		{"search candidate", "www.baidu.com.default.svc.cluster.local", "A"},
		{"search candidate", "prometheus-k8s.monitoring.default.svc.cluster.local", "A"},
		{"search candidate", "prometheus-k8s.monitoring.svc.cluster.local", "A"},
		{"two extra labels = port.proto", "a.b.web.svct-dns.svc.cluster.local", "A"},
		{"three extra labels", "a.b.c.web.svct-dns.svc.cluster.local", "A"},
		{"wildcard (removed in v1.9)", "*.svct-dns.svc.cluster.local", "A"},
		{"wildcard (removed in v1.9)", "*.web.svct-dns.svc.cluster.local", "A"},
		{"unknown port", "_nope._tcp.api.svct-dns.svc.cluster.local", "SRV"},
		{"wrong protocol", "_http._udp.api.svct-dns.svc.cluster.local", "SRV"},
		{"ExternalName SRV with port", "_http._tcp.ngx-external.default.svc.cluster.local", "SRV"},
		{"ExternalName endpoint name", "x.ngx-external.default.svc.cluster.local", "A"},
		{"pod name, bad IP", "1-2-3.default.pod.cluster.local", "A"},
		{"pod name, any IP (insecure)", "172-0-0-2.default.pod.cluster.local", "A"},
		{"pod name, IPv6", "fd00-10-244--99.default.pod.cluster.local", "AAAA"},
		{"pod name, IPv6", "fd00-10-244--99.default.pod.cluster.local", "A"},
		{"ns.dns", "ns.dns.cluster.local", "A"},
		{"ns.dns", "ns.dns.cluster.local", "AAAA"},
		{"dns-version", "dns-version.cluster.local", "TXT"},
		{"TXT of a service", "ngx-dep-svc.default.svc.cluster.local", "TXT"},
		{"mixed case", "NGX-DEP-SVC.Default.SVC.Cluster.Local", "A"},
		{"outside the cluster domain", "www.example.com", "A"},
		{"outside the cluster domain", "localhost", "A"},
	} {
		add(f.kind, f.name, f.qtype)
	}
	for _, ip := range []string{"10.96.255.254", "fd00:10:96::ffff", "192.0.2.1"} {
		addPTR("PTR unknown address (fallthrough)", ip)
	}
	return qs
}

// normRR is a record in comparable form: addresses canonical. Owner names
// are compared as written: CoreDNS answers in the question's case, and so
// must the model.
func normRR(rr dnssim.RR) dnssim.RR {
	if a, err := netip.ParseAddr(rr.Data); err == nil {
		rr.Data = a.String()
	} else {
		rr.Data = strings.ToLower(rr.Data)
	}
	return rr
}

// diffRRs compares two record sections as sets. TTLs must be equal, except
// where the model says the reply may come from CoreDNS's cache: then the
// real TTL counts down from the predicted one.
func diffRRs(section string, pred, real []dnssim.RR, cacheable bool) []string {
	p := make([]dnssim.RR, 0, len(pred))
	for _, rr := range pred {
		p = append(p, normRR(rr))
	}
	r := make([]dnssim.RR, 0, len(real))
	for _, rr := range real {
		r = append(r, normRR(rr))
	}
	p, r = dnswire.SortRRs(p), dnswire.SortRRs(r)
	show := func(rrs []dnssim.RR) string {
		var s []string
		for _, rr := range rrs {
			s = append(s, fmt.Sprintf("%s %d %s %s", rr.Name, rr.TTL, rr.Type, rr.Data))
		}
		return "[" + strings.Join(s, "; ") + "]"
	}
	if len(p) != len(r) {
		return []string{fmt.Sprintf("%s: model %s, CoreDNS %s", section, show(p), show(r))}
	}
	var out []string
	for i := range p {
		a, b := p[i], r[i]
		if a.Name != b.Name || a.Type != b.Type || a.Data != b.Data {
			return []string{fmt.Sprintf("%s: model %s, CoreDNS %s", section, show(p), show(r))}
		}
		ttlOK := a.TTL == b.TTL || (cacheable && b.TTL > 0 && b.TTL <= a.TTL)
		if !ttlOK {
			out = append(out, fmt.Sprintf("%s: %s %s TTL: model %d (cacheable %v), CoreDNS %d", section, a.Name, a.Type, a.TTL, cacheable, b.TTL))
		}
	}
	return out
}

// TestModelMatchesCoreDNS asks the real CoreDNS every question over UDP and
// TCP from the node (through the kube-dns ClusterIP, kube-proxy and all;
// also its IPv6 ClusterIP on a dual-stack cluster) and requires
// `svc-trace dns NAME --type T` (the model, fed from the same cluster by the
// command's own code path) to give the same rcode and the same answer and
// additional records, TTLs included.
func TestModelMatchesCoreDNS(t *testing.T) {
	e := cluster(t)
	// The harness's CoreDNS has no reachable upstream (its forward plugin
	// points at a black hole: test/dns/coredns/base/kustomization.yaml), so
	// every forwarded name is SERVFAIL: tell the model so.
	upstream := filepath.Join(e.repo, "test", "dns", "cluster", "testdata", "harness-upstream.yaml")
	servers := []struct{ network, addr string }{{"udp", "10.96.0.10:53"}, {"tcp", "10.96.0.10:53"}}
	if e.dual {
		servers = append(servers, struct{ network, addr string }{"udp", "[fd00:10:96::a]:53"})
	}
	qs := questions(t, e)
	kinds := map[string]int{}
	mismatches := 0
	for _, q := range qs {
		kinds[q.kind]++
		rep := e.report(t, "default", q.name, "--type", q.qtype, "--from", "pod/dns-client", "--records", upstream)
		if len(rep.Queries) != 1 {
			t.Fatalf("%s %s: the model asked %d questions, want 1", q.name, q.qtype, len(rep.Queries))
		}
		pred := rep.Queries[0]
		for _, s := range servers {
			real, err := ask(s.network, dnssim.Question{Name: q.name, Type: q.qtype}, s.addr)
			if err != nil {
				t.Errorf("%s %s over %s to %s: %v", q.name, q.qtype, s.network, s.addr, err)
				mismatches++
				continue
			}
			var diffs []string
			if real.Truncated {
				diffs = append(diffs, "CoreDNS truncated the reply (TC): the comparison needs the full answer")
			}
			if pred.Rcode != real.Response.Rcode {
				diffs = append(diffs, fmt.Sprintf("rcode: model %s, CoreDNS %s", pred.Rcode, real.Response.Rcode))
			}
			diffs = append(diffs, diffRRs("answer", pred.Answers, real.Response.Answers, pred.Cacheable)...)
			diffs = append(diffs, diffRRs("additional", pred.Additional, real.Response.Additional, pred.Cacheable)...)
			if len(diffs) > 0 {
				mismatches++
				t.Errorf("%s %s (%s) over %s to %s:\n  %s\n  model's reason: %s", q.name, q.qtype, q.kind, s.network, s.addr, strings.Join(diffs, "\n  "), pred.Why)
			}
		}
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t.Logf("%4d  %s", kinds[k], k)
	}
	t.Logf("%d questions × %d server/transport pairs, %d mismatches", len(qs), len(servers), mismatches)
	if len(qs) < 150 {
		t.Errorf("only %d questions: the scenarios or test/dns/cluster/manifests are not all there", len(qs))
	}
	if os.Getenv("SVCTRACE_DNS_CLUSTER_LIST") == "1" {
		for _, q := range qs {
			t.Logf("%s %s", q.name, q.qtype)
		}
	}
}

// TestRecordWire records real CoreDNS replies, byte for byte, as the
// fixtures of pkg/dnssim/dnswire's parser tests and the seed corpus of its
// fuzz test (run by hack/record-dns-wire.sh; skipped otherwise).
func TestRecordWire(t *testing.T) {
	if os.Getenv("SVCTRACE_DNS_RECORD_WIRE") != "1" {
		t.Skip("SKIPPED: set SVCTRACE_DNS_RECORD_WIRE=1 (hack/record-dns-wire.sh) to re-record pkg/dnssim/dnswire/testdata/coredns")
	}
	e := cluster(t)
	dir := filepath.Join(e.repo, "pkg", "dnssim", "dnswire", "testdata", "coredns")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, name, qtype string }{
		{"a", "nginx-svc.default.svc.cluster.local.", "A"},
		{"aaaa", "dual-svc.default.svc.cluster.local.", "AAAA"},
		{"nodata", "ngx-dep-svc.default.svc.cluster.local.", "AAAA"},
		{"nxdomain", "no-such-svc.default.svc.cluster.local.", "A"},
		{"srv-headless", "_http._tcp.web.svct-dns.svc.cluster.local.", "SRV"},
		{"srv-dual", "_http._tcp.api.svct-dns.svc.cluster.local.", "SRV"},
		{"ptr", "10.0.96.10.in-addr.arpa.", "PTR"},
		{"ptr6", "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.", "PTR"},
		{"cname", "ngx-external.default.svc.cluster.local.", "CNAME"},
		{"cname-only-a", "ngx-external.default.svc.cluster.local.", "A"},
		{"cname-chain", "ext-chain.svct-dns.svc.cluster.local.", "A"},
		{"txt", "dns-version.cluster.local.", "TXT"},
		{"servfail", "www.example.com.", "A"},
		{"ns-dns", "ns.dns.cluster.local.", "AAAA"},
		{"mixed-case", "NGX-DEP-SVC.Default.svc.cluster.local.", "A"},
	} {
		for _, network := range []string{"udp", "tcp"} {
			r, err := ask(network, dnssim.Question{Name: c.name, Type: c.qtype}, "10.96.0.10:53")
			if err != nil {
				t.Fatalf("%s %s over %s: %v", c.name, c.qtype, network, err)
			}
			f := filepath.Join(dir, c.file+"-"+network+".bin")
			if err := os.WriteFile(f, r.Raw, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("recorded %s (%d bytes, %s)", f, len(r.Raw), r.Response.Rcode)
		}
	}
}
