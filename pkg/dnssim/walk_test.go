package dnssim

import (
	"reflect"
	"strings"
	"testing"
)

func ptrBool(b bool) *bool { return &b }

// seedCluster is the cluster of the seed examples.
func seedCluster() *Cluster {
	return &Cluster{
		Plugin:     KubeadmDefaultPlugin("cluster.local"),
		Namespaces: map[string]bool{"default": true, "monitoring": true, "kube-system": true, "kafka": true},
		Services: []Service{
			{Name: "nginx-svc", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"10.96.10.10"}, Ports: []ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
			{Name: "prometheus-k8s", Namespace: "monitoring", Type: "ClusterIP", ClusterIPs: []string{"10.96.20.20"}, Ports: []ServicePort{{Name: "web", Protocol: "TCP", Port: 9090}}},
			{Name: "v6only", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"fd00:10:96::20"}, Ports: []ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
			{Name: "dead-ext", Namespace: "default", Type: "ExternalName", ExternalName: "gone.example.net"},
		},
	}
}

const podResolvConf = "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"

func mustRC(t testing.TB, text string) *ResolvConf {
	t.Helper()
	rc, err := ParseResolvConf("resolv.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func simulate(t testing.TB, r Resolver, rcText, name string, fam AddrFamily, ans Answerer) *Walk {
	t.Helper()
	rc := mustRC(t, rcText)
	return Simulate(Lookup{Name: name, Resolver: r, Family: fam, Config: rc.Config(r), Server: ans})
}

// TestSeedExamples pins the seed material's figures, for every resolver.
func TestSeedExamples(t *testing.T) {
	ans := Layered{Cluster: seedCluster()}
	cases := []struct {
		name     string
		rounds   int
		nx       int
		first    string
		answered string
	}{
		{"nginx-svc", 1, 0, "nginx-svc.default.svc.cluster.local.", "nginx-svc.default.svc.cluster.local."},
		{"prometheus-k8s.monitoring", 2, 1, "prometheus-k8s.monitoring.default.svc.cluster.local.", "prometheus-k8s.monitoring.svc.cluster.local."},
		{"www.baidu.com", 4, 3, "www.baidu.com.default.svc.cluster.local.", "www.baidu.com."},
		{"www.baidu.com.", 1, 0, "www.baidu.com.", "www.baidu.com."},
		{"sls.doc.dc.wiki.tbchip.com", 1, 0, "sls.doc.dc.wiki.tbchip.com.", "sls.doc.dc.wiki.tbchip.com."},
	}
	for _, r := range AllResolvers() {
		for _, c := range cases {
			t.Run(string(r)+"/"+c.name, func(t *testing.T) {
				w := simulate(t, r, podResolvConf, c.name, FamilyAny, ans)
				if got := w.RoundCount(); got != c.rounds {
					t.Errorf("rounds = %d, want %d (%+v)", got, c.rounds, w.Rounds)
				}
				if w.NXDomainRounds != c.nx {
					t.Errorf("NXDOMAIN rounds = %d, want %d", w.NXDomainRounds, c.nx)
				}
				if w.Candidates[0] != c.first {
					t.Errorf("first candidate = %s, want %s", w.Candidates[0], c.first)
				}
				if w.Status != "ok" || w.AnsweredBy != c.answered {
					t.Errorf("status %s answered by %s, want ok by %s (error %s)", w.Status, w.AnsweredBy, c.answered, w.Error)
				}
				if w.Packets != 2*c.rounds {
					t.Errorf("packets = %d, want %d (A+AAAA per round)", w.Packets, 2*c.rounds)
				}
			})
		}
	}
}

// TestCandidates covers the candidate-list rules of each resolver.
func TestCandidates(t *testing.T) {
	search3 := Config{Ndots: 5, Search: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}}
	cases := []struct {
		name string
		r    Resolver
		c    Config
		in   string
		want []string
	}{
		{"glibc few dots", Glibc, search3, "a.b", []string{"a.b.default.svc.cluster.local.", "a.b.svc.cluster.local.", "a.b.cluster.local.", "a.b."}},
		{"glibc ndots reached: as-is first then search", Glibc, Config{Ndots: 1, Search: []string{"x.example"}}, "a.b", []string{"a.b.", "a.b.x.example."}},
		{"musl ndots reached: as-is only", Musl, Config{Ndots: 1, Search: []string{"x.example"}}, "a.b", []string{"a.b."}},
		{"go ndots reached: as-is first then search", Go, Config{Ndots: 1, Search: []string{"x.example"}}, "a.b", []string{"a.b.", "a.b.x.example."}},
		{"trailing dot", Musl123, search3, "a.b.", []string{"a.b."}},
		{"glibc no-tld-query drops bare dot-less name", Glibc, Config{Ndots: 1, Search: []string{"x.example"}, NoTLDQuery: true}, "a", []string{"a.x.example."}},
		{"glibc no-tld-query keeps dotted bare name", Glibc, Config{Ndots: 5, Search: []string{"x.example"}, NoTLDQuery: true}, "a.b", []string{"a.b.x.example.", "a.b."}},
		{"glibc search dot in place", Glibc, Config{Ndots: 1, Search: []string{"x.example", ".", "y.example"}}, "a", []string{"a.x.example.", "a.", "a.y.example."}},
		{"musl search dot makes name..", Musl123, Config{Ndots: 1, Search: []string{"x.example", "."}}, "a", []string{"a.x.example.", "a..", "a."}},
		{"go skips search dot", Go, Config{Ndots: 1, Search: []string{"x.example", ".", "y.example"}}, "a", []string{"a.x.example.", "a.y.example.", "a."}},
		{"ndots 0 as-is first", Glibc, Config{Ndots: 0, Search: []string{"x.example"}}, "a", []string{"a.", "a.x.example."}},
		{"no search list", Musl, Config{Ndots: 1}, "a", []string{"a."}},
		{"go drops only the bare .onion name", Go, search3, "hidden.onion", []string{"hidden.onion.default.svc.cluster.local.", "hidden.onion.svc.cluster.local.", "hidden.onion.cluster.local."}},
		{"go drops a rooted .onion name", Go, search3, "hidden.onion.", nil},
		{"glibc sends .onion names", Glibc, Config{Ndots: 1}, "hidden.onion", []string{"hidden.onion."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Candidates(c.r, c.c, c.in); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestDivergences pins every divergence of shared/docs/dns-semantics.md §5:
// one name, the three resolver families, different walks.
func TestDivergences(t *testing.T) {
	recs, err := ParseRecords("records.yaml", []byte(`
records:
  ok.example.com.: {A: [192.0.2.10]}
  ok.example.com.corp.example.: {}
  sf.example.com.corp.example.: {}
servfail: [sf.example.com., flaky.default.svc.cluster.local.]
timeout: [slow.example.com., hang.default.svc.cluster.local.]
refused: [nope.default.svc.cluster.local.]
default: NXDOMAIN
`))
	if err != nil {
		t.Fatal(err)
	}
	ans := Layered{Records: recs, Cluster: seedCluster()}
	type want struct {
		rounds int
		status string
		err    string
	}
	cases := []struct {
		name  string
		rc    string
		q     string
		fam   AddrFamily
		glibc want
		musl  want
		goRes want
	}{
		{"NODATA on a search candidate (namespace kafka exists)", podResolvConf, "kafka", FamilyAny,
			want{4, "fail", "EAI_NODATA"}, want{2, "fail", "EAI_NODATA"}, want{4, "fail", "lookup kafka on 10.96.0.10:53: no such host"}},
		{"dots >= ndots, as-is NXDOMAIN", "search corp.example\nnameserver 10.96.0.10\noptions ndots:1\n", "missing.example.com", FamilyAny,
			want{2, "fail", "EAI_NONAME"}, want{1, "fail", "EAI_NONAME"}, want{2, "fail", "lookup missing.example.com on 10.96.0.10:53: no such host"}},
		{"ExternalName to a dead target (CNAME only)", podResolvConf, "dead-ext", FamilyAny,
			want{1, "fail", "EAI_NONAME"}, want{1, "fail", "EAI_NODATA"}, want{4, "fail", "lookup dead-ext on 10.96.0.10:53: no such host"}},
		{"SERVFAIL on the as-is name", "search corp.example\nnameserver 10.96.0.10\noptions ndots:1\n", "sf.example.com", FamilyAny,
			want{2, "fail", "EAI_AGAIN"}, want{1, "fail", "EAI_AGAIN"}, want{2, "fail", "lookup sf.example.com on 10.96.0.10:53: server misbehaving"}},
		{"SERVFAIL on a search candidate", podResolvConf, "flaky", FamilyAny,
			want{4, "fail", "EAI_AGAIN"}, want{1, "fail", "EAI_AGAIN"}, want{4, "fail", "lookup flaky on 10.96.0.10:53: no such host"}},
		{"timeout on a search candidate: glibc still tries the bare name", podResolvConf, "hang", FamilyAny,
			want{2, "fail", "EAI_NONAME"}, want{1, "fail", "EAI_AGAIN"}, want{4, "fail", "lookup hang on 10.96.0.10:53: no such host"}},
		{"REFUSED on a search candidate", podResolvConf, "nope", FamilyAny,
			want{2, "fail", "EAI_NONAME"}, want{1, "fail", "EAI_AGAIN"}, want{4, "fail", "lookup nope on 10.96.0.10:53: no such host"}},
		{"AF_INET lookup of an IPv6-only service", podResolvConf, "v6only", FamilyIPv4,
			want{4, "fail", "EAI_NODATA"}, want{1, "fail", "EAI_NODATA"}, want{4, "fail", "lookup v6only on 10.96.0.10:53: no such host"}},
		{"timeout on the as-is name (ndots reached) then search hit", "search corp.example\nnameserver 10.96.0.10\noptions ndots:1 attempts:1\n", "slow.example.com", FamilyAny,
			want{2, "fail", "EAI_AGAIN"}, want{1, "fail", "EAI_AGAIN"}, want{2, "fail", "lookup slow.example.com on 10.96.0.10:53: i/o timeout"}},
	}
	for _, c := range cases {
		for _, rw := range []struct {
			r Resolver
			w want
		}{{Glibc, c.glibc}, {Musl, c.musl}, {Go, c.goRes}} {
			t.Run(c.name+"/"+string(rw.r), func(t *testing.T) {
				w := simulate(t, rw.r, c.rc, c.q, c.fam, ans)
				if w.RoundCount() != rw.w.rounds || w.Status != rw.w.status || w.Error != rw.w.err {
					t.Errorf("got %d rounds, %s, %q; want %d rounds, %s, %q\nrounds: %+v", w.RoundCount(), w.Status, w.Error, rw.w.rounds, rw.w.status, rw.w.err, w.Rounds)
				}
			})
		}
	}
}

func TestMusl123Differences(t *testing.T) {
	ans := Layered{Cluster: seedCluster()}
	w := simulate(t, Musl123, podResolvConf, "kafka", FamilyAny, ans)
	if w.Error != "EAI_NONAME" {
		t.Errorf("musl 1.2.3 NODATA: error %q, want EAI_NONAME", w.Error)
	}
	w = simulate(t, Musl123, "search .\nnameserver 10.96.0.10\n", "nginx-svc", FamilyAny, ans)
	if w.Error != "EAI_AGAIN" || w.Rounds[0].Name != "nginx-svc.." {
		t.Errorf("musl 1.2.3 'search .': %+v %q", w.Rounds, w.Error)
	}
	w = simulate(t, Musl, "search .\nnameserver 10.96.0.10\n", "nginx-svc", FamilyAny, ans)
	if w.RoundCount() != 1 || w.Rounds[0].Outcome != "not-sent" && w.Rounds[1].Name != "nginx-svc." {
		t.Errorf("musl 1.2.4 'search .': %+v", w.Rounds)
	}
}

func TestMuslLongSearchLineIgnored(t *testing.T) {
	var doms []string
	for i := 0; len(strings.Join(doms, " ")) < 260; i++ {
		doms = append(doms, strings.Repeat("d", 20)+string(rune('a'+i))+".example")
	}
	text := "search default.svc.cluster.local svc.cluster.local cluster.local " + strings.Join(doms, " ") + "\nnameserver 10.96.0.10\noptions ndots:5\n"
	rc := mustRC(t, text)
	if got := rc.Config(Musl).Search; len(got) != 0 {
		t.Errorf("musl search = %q, want none: the line is over 255 characters", got)
	}
	if got := rc.Config(Glibc).Search; len(got) != 3+len(doms) {
		t.Errorf("glibc search has %d entries, want %d", len(got), 3+len(doms))
	}
	ans := Layered{Cluster: seedCluster()}
	w := Simulate(Lookup{Name: "nginx-svc", Resolver: Musl, Family: FamilyAny, Config: rc.Config(Musl), Server: ans})
	if len(w.Candidates) != 1 || w.Candidates[0] != "nginx-svc." || w.Status != "fail" || w.Error != "EAI_NONAME" || !w.Assumed {
		t.Errorf("musl with no search list should ask the bare name upstream: %+v", w)
	}
}

func TestHostsShortcut(t *testing.T) {
	hosts := ParseHosts(KubeletHostsFile(PodHostsSpec{Hostname: "web-0", Subdomain: "web", Namespace: "default", ClusterDomain: "cluster.local", PodIPs: []string{"10.244.0.5"}}))
	for _, r := range AllResolvers() {
		for _, n := range []string{"web-0", "web-0.web.default.svc.cluster.local"} {
			rc := mustRC(t, podResolvConf)
			w := Simulate(Lookup{Name: n, Resolver: r, Family: FamilyAny, Config: rc.Config(r), Hosts: hosts, Server: Layered{Cluster: seedCluster()}})
			if !w.HostsHit || w.Packets != 0 || len(w.Addresses) != 1 || w.Addresses[0] != "10.244.0.5" {
				t.Errorf("%s %s: want an /etc/hosts hit with no packet, got %+v", r, n, w)
			}
		}
	}
	// Only Go matches a trailing-dot name against /etc/hosts.
	if a, _ := hosts.Lookup(Go, "web-0.", FamilyAny); len(a) != 1 {
		t.Error("go: web-0. should match web-0")
	}
	if a, _ := hosts.Lookup(Glibc, "web-0.", FamilyAny); len(a) != 0 {
		t.Error("glibc: web-0. should not match web-0")
	}
	if a, _ := hosts.Lookup(Musl, "WEB-0", FamilyAny); len(a) != 0 {
		t.Error("musl matches /etc/hosts case-sensitively")
	}
}

func TestRetryPackets(t *testing.T) {
	recs, err := ParseRecords("r", []byte("servfail: [sf.example.com.]\ndefault: NXDOMAIN\n"))
	if err != nil {
		t.Fatal(err)
	}
	ans := Layered{Records: recs}
	rc := "nameserver 10.0.0.1\nnameserver 10.0.0.2\noptions attempts:3\n"
	// glibc: attempts × servers pairs for the SERVFAIL name.
	w := simulate(t, Glibc, rc, "sf.example.com.", FamilyAny, ans)
	if w.Packets != 3*2*2 {
		t.Errorf("glibc packets = %d, want 12", w.Packets)
	}
	// Go: each type retried over attempts × servers.
	w = simulate(t, Go, rc, "sf.example.com.", FamilyAny, ans)
	if w.Packets != 3*2*2 {
		t.Errorf("go packets = %d, want 12", w.Packets)
	}
	// musl: every question to every server, resent until the timeout.
	w = simulate(t, Musl, rc, "sf.example.com.", FamilyAny, ans)
	if w.Packets != 2*2 || !w.PacketsAtLeast {
		t.Errorf("musl packets = %d (at least %v), want >= 4", w.Packets, w.PacketsAtLeast)
	}
}

func TestAnalyzeAdvice(t *testing.T) {
	rc := mustRC(t, podResolvConf)
	rep := Analyze(Input{Name: "www.baidu.com", Resolver: Glibc, ResolvConf: rc, Cluster: seedCluster(), ClusterDNS: []string{"10.96.0.10"}})
	if rep.Answer.Rounds != 4 || rep.Answer.NXDomains != 3 || !rep.Answer.Assumed || rep.Answer.LeadsTo != "upstream" {
		t.Fatalf("answer %+v", rep.Answer)
	}
	if len(rep.Advice) != 2 || rep.Advice[0].Rounds != 1 || rep.Advice[0].SavesRounds != 3 || rep.Advice[0].SavesPackets != 6 ||
		rep.Advice[1].Rounds != 1 || !strings.Contains(rep.Advice[1].Text, "lower ndots to 2") {
		t.Errorf("advice %+v", rep.Advice)
	}
	rep = Analyze(Input{Name: "prometheus-k8s", Resolver: Musl, ResolvConf: mustRC(t, strings.Replace(podResolvConf, "default.svc", "monitoring.svc", 1)), Cluster: seedCluster(), ClusterDNS: []string{"10.96.0.10"}})
	if rep.Answer.Rounds != 1 || rep.Answer.Service != "monitoring/prometheus-k8s" || len(rep.Advice) != 0 {
		t.Errorf("%+v %+v", rep.Answer, rep.Advice)
	}
	rep = Analyze(Input{Name: "nginx-svc", Resolver: Glibc, ResolvConf: mustRC(t, "search monitoring.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"), Cluster: seedCluster(), ClusterDNS: []string{"10.96.0.10"}})
	if rep.Answer.Status != "fail" || len(rep.Divergences) != 0 {
		t.Errorf("cross-namespace short name should fail for every resolver: %+v %+v", rep.Answer, rep.Divergences)
	}
	rep = Analyze(Input{Name: "nginx-svc.default", Resolver: Glibc, ResolvConf: mustRC(t, "search monitoring.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"), Cluster: seedCluster(), ClusterDNS: []string{"10.96.0.10"}})
	if rep.Answer.Rounds != 2 || len(rep.Advice) != 1 || rep.Advice[0].Name != "nginx-svc.default.svc.cluster.local." {
		t.Errorf("%+v %+v", rep.Answer, rep.Advice)
	}
	// kafka: musl stops at NODATA, glibc and Go walk on.
	rep = Analyze(Input{Name: "kafka", Resolver: Glibc, ResolvConf: rc, Cluster: seedCluster(), ClusterDNS: []string{"10.96.0.10"}})
	found := false
	for _, d := range rep.Divergences {
		if d.Resolver == Musl && d.Rounds == 2 && d.Error == "EAI_NODATA" {
			found = true
		}
	}
	if !found {
		t.Errorf("divergences %+v", rep.Divergences)
	}
	// Single question, like dig.
	rep = Analyze(Input{Name: "10.96.10.10", QType: "PTR", ResolvConf: rc, Cluster: seedCluster(), ClusterDNS: []string{"10.96.0.10"}})
	if rep.Queries[0].Name != "10.10.96.10.in-addr.arpa." || rep.Queries[0].Answers[0].Data != "nginx-svc.default.svc.cluster.local." {
		t.Errorf("PTR %+v", rep.Queries)
	}
	// Default policy: nameservers are not cluster DNS.
	rep = Analyze(Input{Name: "nginx-svc.default.svc.cluster.local.", Resolver: Glibc, ResolvConf: mustRC(t, "nameserver 10.0.0.2\n"), Cluster: seedCluster(), ClusterDNS: []string{"10.96.0.10"}})
	if rep.Queries[0].Source != "upstream-default" || len(rep.Notes) == 0 {
		t.Errorf("%+v %q", rep.Queries, rep.Notes)
	}
}
