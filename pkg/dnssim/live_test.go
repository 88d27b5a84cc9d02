package dnssim

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestParseCorefileCache: kubeadm's "cache 30 { disable success
// cluster.local; disable denial cluster.local }" and the cache plugin's other
// options (plugin/cache/setup.go cacheParse).
func TestParseCorefileCache(t *testing.T) {
	cf, err := ParseCorefile("Corefile", mustRead(t, "testdata/corefile/kubeadm-v1.36.3.Corefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Cache, KubeadmDefaultCache("cluster.local")) {
		t.Errorf("kubeadm cache: %+v, want %+v", cf.Cache, KubeadmDefaultCache("cluster.local"))
	}
	cases := []struct {
		name, in string
		want     *CachePlugin
	}{
		{"defaults", "cluster.local:53 {\n kubernetes\n cache\n}\n",
			&CachePlugin{Zones: []string{"cluster.local."}, SuccessMaxTTL: 3600, SuccessMinTTL: 5, DenialMaxTTL: 1800, DenialMinTTL: 5}},
		{"ttl and zones", ".:53 {\n cache 60 example.org in-addr.arpa\n kubernetes cluster.local\n}\n",
			&CachePlugin{Zones: []string{"example.org.", "in-addr.arpa."}, SuccessMaxTTL: 60, SuccessMinTTL: 5, DenialMaxTTL: 60, DenialMinTTL: 5}},
		{"success/denial/disable/keepttl", ".:53 {\n kubernetes cluster.local\n cache {\n success 9984 120 10\n denial 9984 7\n disable denial\n keepttl\n prefetch 10\n }\n}\n",
			&CachePlugin{Zones: []string{"."}, SuccessMaxTTL: 120, SuccessMinTTL: 10, DenialMaxTTL: 7, DenialMinTTL: 5, DisableDenial: []string{"."}, KeepTTL: true}},
		{"another block's cache does not count", "example.org {\n cache 10\n}\n.:53 {\n kubernetes cluster.local\n}\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cf, err := ParseCorefile("Corefile", c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cf.Cache, c.want) {
				t.Errorf("got %+v\nwant %+v", cf.Cache, c.want)
			}
		})
	}
	for _, bad := range []struct{ in, want string }{
		{".:53 {\n kubernetes\n cache 0\n}\n", "Corefile:3: cache TTL can not be zero"},
		{".:53 {\n kubernetes\n cache {\n success\n }\n}\n", "cache success: want CAPACITY"},
		{".:53 {\n kubernetes\n cache {\n disable everything\n }\n}\n", "cache disable: want success or denial"},
		{".:53 {\n kubernetes\n cache {\n denial 10 0\n }\n}\n", `cache denial TTL "0"`},
	} {
		if _, err := ParseCorefile("Corefile", bad.in); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

// TestCacheApply: every reply's records get the lowest TTL clamped to the
// bounds (also in zones the cache does not store, like the cluster domain in
// kubeadm's Corefile, which is why dns-version's TTL 28800 arrives as 30);
// Cacheable only where the reply may be stored.
func TestCacheApply(t *testing.T) {
	k := KubeadmDefaultCache("cluster.local")
	txt := Response{Rcode: NOERROR, Answers: []RR{{Name: "dns-version.cluster.local.", Type: "TXT", TTL: 28800, Data: `"1.1.0"`}}}
	if got := k.Apply("dns-version.cluster.local.", txt); got.Answers[0].TTL != 30 || got.Cacheable {
		t.Errorf("dns-version: %+v", got)
	}
	if txt.Answers[0].TTL != 28800 {
		t.Error("Apply changed its input")
	}
	ptr := Response{Rcode: NOERROR, Answers: []RR{{Type: "PTR", TTL: 30, Data: "x."}}}
	if got := k.Apply("10.0.96.10.in-addr.arpa.", ptr); got.Answers[0].TTL != 30 || !got.Cacheable {
		t.Errorf("PTR (cached, reverse zone): %+v", got)
	}
	mixed := Response{Rcode: NOERROR, Answers: []RR{{Type: "CNAME", TTL: 30, Data: "www.example.com."}, {Type: "A", TTL: 0, Data: "192.0.2.1"}}}
	got := k.Apply("ext.default.svc.cluster.local.", mixed)
	if got.Answers[0].TTL != 5 || got.Answers[1].TTL != 5 {
		t.Errorf("lowest TTL 0 raised to the minimum 5 on every record: %+v", got.Answers)
	}
	for _, c := range []struct {
		name string
		r    Response
		want bool
	}{
		{"x.cluster.local.", Response{Rcode: NXDOMAIN}, false},
		{"www.example.com.", Response{Rcode: NXDOMAIN}, true},
		{"www.example.com.", Response{Rcode: SERVFAIL}, true},
		{"www.example.com.", Response{Rcode: NOERROR}, true},
		{"www.example.com.", Response{Rcode: TIMEOUT}, false},
	} {
		if got := k.Apply(c.name, c.r); got.Cacheable != c.want {
			t.Errorf("%s %s: cacheable %v", c.name, c.r.Rcode, got.Cacheable)
		}
	}
	keep := DefaultCachePlugin([]string{"."})
	keep.KeepTTL = true
	if keep.Apply("a.example.", ptr).Cacheable {
		t.Error("keepttl: a cached reply keeps its TTL, nothing counts down")
	}
	var none *CachePlugin
	if got := none.Apply("a.example.", mixed); !reflect.DeepEqual(got, mixed) {
		t.Error("no cache plugin: reply unchanged")
	}
}

// TestNSAddrs: ns.dns.<zone> answers the ClusterIPs of every Service with a
// ready endpoint at one of CoreDNS's own addresses (ns.go nsAddrs). On the
// host network that includes "kubernetes" when the API server's endpoint is
// the node IP, as the harness's real CoreDNS answers (10.96.0.1 and
// 10.96.0.10).
func TestNSAddrs(t *testing.T) {
	c := &Cluster{Plugin: KubeadmDefaultPlugin("cluster.local"), Namespaces: map[string]bool{"default": true, "kube-system": true},
		DNSServiceIPs: []string{"10.96.0.10"}, DNSServerIPs: []string{"10.250.0.10", "fd00:10:250::10"},
		Services: []Service{
			{Name: "kubernetes", Namespace: "default", ClusterIPs: []string{"10.96.0.1"}, Endpoints: []Endpoint{{Addresses: []string{"10.250.0.10"}}}},
			{Name: "kube-dns", Namespace: "kube-system", ClusterIPs: []string{"10.96.0.10", "fd00:10:96::a"},
				Endpoints: []Endpoint{{Addresses: []string{"10.250.0.10"}}, {Addresses: []string{"fd00:10:250::10"}}}},
			{Name: "other", Namespace: "default", ClusterIPs: []string{"10.96.0.99"}, Endpoints: []Endpoint{{Addresses: []string{"10.250.0.10"}, Ready: ptrBool(false)}}},
		}}
	for _, q := range []struct{ qtype, want string }{{"A", "10.96.0.1, 10.96.0.10"}, {"AAAA", "fd00:10:96::a"}} {
		r, ok := c.Answer(Question{Name: "ns.dns.cluster.local.", Type: q.qtype})
		if !ok || r.Label() != q.want {
			t.Errorf("%s: %s", q.qtype, r.Label())
		}
	}
	c.DNSServerIPs = []string{"10.244.0.77"} // no Service has it: the addresses themselves
	if r, _ := c.Answer(Question{Name: "ns.dns.cluster.local.", Type: "A"}); r.Label() != "10.244.0.77" {
		t.Errorf("no matching endpoint: %s", r.Label())
	}
	c.DNSServerIPs = nil // unknown: the DNS Service's ClusterIPs
	if r, _ := c.Answer(Question{Name: "ns.dns.cluster.local.", Type: "A"}); r.Label() != "10.96.0.10" {
		t.Errorf("unknown server addresses: %s", r.Label())
	}
}

// TestPTRDeduplicated: a mirrored and a hand-written EndpointSlice listing
// the same address give one PTR, as plugin.PTR answers (seen on the
// harness's manual-svc).
func TestPTRDeduplicated(t *testing.T) {
	c := &Cluster{Plugin: KubeadmDefaultPlugin("cluster.local"), Namespaces: map[string]bool{"default": true},
		Services: []Service{{Name: "manual-svc", Namespace: "default", ClusterIPs: []string{"10.96.5.5"},
			Endpoints: []Endpoint{{Addresses: []string{"10.244.0.250"}}, {Addresses: []string{"10.244.0.250"}}}}}}
	r, ok := c.Answer(Question{Name: "250.0.244.10.in-addr.arpa.", Type: "PTR"})
	if !ok || len(r.Answers) != 1 || r.Answers[0].Data != "10-244-0-250.manual-svc.default.svc.cluster.local." {
		t.Errorf("%+v", r)
	}
}

// fixed answers every question from a table (a stand-in for the real
// server in CompareLive's unit test).
type fixed map[string]Response

func (f fixed) Answer(q Question) Response {
	if r, ok := f[Canonical(q.Name)+" "+q.Type]; ok {
		return r
	}
	return Response{Rcode: NXDOMAIN, Answers: []RR{}, Source: "live"}
}

func TestCompareLive(t *testing.T) {
	c := modelCluster(PodsInsecure)
	c.Cache = KubeadmDefaultCache("cluster.local")
	rc, err := ParseResolvConf("resolv.conf", []byte("search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Name: "nginx", Resolver: Glibc, Family: FamilyAny, ResolvConf: rc, Cluster: c, ClusterDNS: []string{"10.96.0.10"}}
	pred := Analyze(in)
	real := fixed{
		"nginx.default.svc.cluster.local. A":    {Rcode: NOERROR, Answers: []RR{{Name: "nginx.default.svc.cluster.local.", Type: "A", TTL: 30, Data: "10.96.10.10"}}},
		"nginx.default.svc.cluster.local. AAAA": {Rcode: NOERROR, Answers: []RR{}},
	}
	lr := CompareLive(in, pred, real, "test server")
	if lr.Differences != 0 || len(lr.Questions) != 2 || lr.Walk == nil || !lr.Walk.Match {
		t.Fatalf("same answers: %+v", lr)
	}
	for _, q := range lr.Questions {
		if !q.Match || q.InWalk != "both" {
			t.Errorf("%+v", q)
		}
	}

	// The real server disagrees: a different address and TTL; the walk then
	// ends with other addresses.
	real["nginx.default.svc.cluster.local. A"] = Response{Rcode: NOERROR, Answers: []RR{{Name: "nginx.default.svc.cluster.local.", Type: "A", TTL: 5, Data: "10.96.10.11"}}}
	lr = CompareLive(in, pred, real, "test server")
	if lr.Differences != 2 || lr.Questions[0].Match || !strings.Contains(lr.Questions[0].Differences[0], "predicted [nginx.default.svc.cluster.local. A 10.96.10.10], real [nginx.default.svc.cluster.local. A 10.96.10.11]") {
		t.Errorf("different address: %+v", lr.Questions[0])
	}
	if lr.Walk.Match || !strings.Contains(strings.Join(lr.Walk.Differences, "\n"), "addresses: predicted [10.96.10.10], real [10.96.10.11]") {
		t.Errorf("walk: %+v", lr.Walk)
	}

	// The real search candidate is NXDOMAIN: the real walk goes on and asks
	// questions the prediction never asked.
	delete(real, "nginx.default.svc.cluster.local. A")
	delete(real, "nginx.default.svc.cluster.local. AAAA")
	lr = CompareLive(in, pred, real, "test server")
	onlyReal := 0
	for _, q := range lr.Questions {
		if q.InWalk == "real" {
			onlyReal++
		}
	}
	if onlyReal != 6 || lr.Walk.Rounds != 4 || lr.Walk.Status != "fail" {
		t.Errorf("real-only questions %d, walk %+v", onlyReal, lr.Walk)
	}
}

func TestDiffResponses(t *testing.T) {
	rr := func(ttl uint32, data string) []RR { return []RR{{Name: "X.example.", Type: "A", TTL: ttl, Data: data}} }
	cases := []struct {
		name       string
		pred, real Response
		want       string // "" = no difference
	}{
		{"same, order and case aside", Response{Rcode: NOERROR, Answers: append(rr(30, "10.0.0.1"), rr(30, "10.0.0.2")...)},
			Response{Rcode: NOERROR, Answers: []RR{{Name: "x.example.", Type: "A", TTL: 30, Data: "10.0.0.2"}, {Name: "x.example.", Type: "A", TTL: 30, Data: "10.0.0.1"}}}, ""},
		{"IPv6 spelled differently", Response{Rcode: NOERROR, Answers: []RR{{Name: "x.", Type: "AAAA", TTL: 30, Data: "fd00:0:0::1"}}},
			Response{Rcode: NOERROR, Answers: []RR{{Name: "x.", Type: "AAAA", TTL: 30, Data: "fd00::1"}}}, ""},
		{"rcode", Response{Rcode: NXDOMAIN}, Response{Rcode: NOERROR}, "rcode: predicted NXDOMAIN, real NOERROR"},
		{"TTL", Response{Rcode: NOERROR, Answers: rr(30, "10.0.0.1")}, Response{Rcode: NOERROR, Answers: rr(29, "10.0.0.1")}, "answer TTL of x.example. A 10.0.0.1: predicted 30, real 29"},
		{"TTL counted down in the cache", Response{Rcode: NOERROR, Answers: rr(30, "10.0.0.1"), Cacheable: true}, Response{Rcode: NOERROR, Answers: rr(29, "10.0.0.1")}, ""},
		{"TTL above the prediction", Response{Rcode: NOERROR, Answers: rr(30, "10.0.0.1"), Cacheable: true}, Response{Rcode: NOERROR, Answers: rr(31, "10.0.0.1")}, "predicted 30, real 31"},
		{"additional", Response{Rcode: NOERROR, Additional: rr(30, "10.0.0.1")}, Response{Rcode: NOERROR}, "additional: predicted [x.example. A 10.0.0.1], real []"},
	}
	for _, c := range cases {
		got := strings.Join(DiffResponses(c.pred, c.real), "\n")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCheckResolvConf(t *testing.T) {
	parse := func(s string) *ResolvConf {
		rc, err := ParseResolvConf("f", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	computed := parse("search a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:2 edns0 timeout:3\n")
	cases := []struct{ name, real, want string }{
		{"same, options in another order (kubelet merges through a map)", "search a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions timeout:3 ndots:2 edns0\n", ""},
		{"comments do not matter", "# written by containerd\nsearch a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:2 edns0 timeout:3\n", ""},
		{"node search domains", "search a.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:2 edns0 timeout:3\n",
			"search: computed [a.svc.cluster.local svc.cluster.local cluster.local], real [a.svc.cluster.local svc.cluster.local cluster.local corp.example]"},
		{"NodeLocal DNSCache", "search a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 169.254.20.10\noptions ndots:2 edns0 timeout:3\n",
			"nameservers: computed [10.96.0.10], real [169.254.20.10]"},
		{"options", "search a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n", "options: computed [edns0 ndots:2 timeout:3], real [ndots:5]"},
		{"an edited file", "search a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\ndomain example.org\noptions ndots:2 edns0 timeout:3\n", "not written by kubelet: line 3: domain example.org"},
	}
	for _, c := range cases {
		got := CheckResolvConf(computed, parse(c.real))
		diffs := strings.Join(got.Differences, "\n")
		if got.Match != (c.want == "") || !strings.Contains(diffs, c.want) {
			t.Errorf("%s: match %v, %q, want %q", c.name, got.Match, diffs, c.want)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnswerKeepsQuestionCase: the records answering a question carry its
// name as asked, as CoreDNS writes state.QName() (recorded:
// dnswire/testdata/coredns/mixed-case-*.bin).
func TestAnswerKeepsQuestionCase(t *testing.T) {
	c := modelCluster(PodsInsecure)
	r, ok := c.Answer(Question{Name: "NGINX.Default.svc.cluster.local", Type: "A"})
	if !ok || len(r.Answers) != 1 || r.Answers[0].Name != "NGINX.Default.svc.cluster.local." {
		t.Errorf("%+v", r)
	}
	r, _ = c.Answer(Question{Name: "INT.default.svc.cluster.local.", Type: "A"})
	if len(r.Answers) != 2 || r.Answers[0].Name != "INT.default.svc.cluster.local." || r.Answers[1].Name != "nginx.default.svc.cluster.local." {
		t.Errorf("CNAME chain: %+v", r.Answers)
	}
}
