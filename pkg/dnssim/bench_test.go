package dnssim

import "testing"

// BenchmarkSimulate measures one resolver walk against the cluster model
// (the www.baidu.com seed: 4 rounds, 8 questions).
func BenchmarkSimulate(b *testing.B) {
	rc, err := ParseResolvConf("resolv.conf", []byte(podResolvConf))
	if err != nil {
		b.Fatal(err)
	}
	ans := Layered{Cluster: seedCluster()}
	for _, r := range AllResolvers() {
		cfg := rc.Config(r)
		b.Run(string(r), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if w := Simulate(Lookup{Name: "www.baidu.com", Resolver: r, Family: FamilyAny, Config: cfg, Server: ans}); w.RoundCount() != 4 {
					b.Fatal(w.RoundCount())
				}
			}
		})
	}
}

// BenchmarkAnalyze measures a whole `svc-trace dns` report: the chosen walk,
// the three other resolvers and the advice simulations, over a cluster of
// 1000 services.
func BenchmarkAnalyze(b *testing.B) {
	c := seedCluster()
	for i := 0; i < 1000; i++ {
		c.Services = append(c.Services, Service{Name: "svc-" + itoa(i), Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"10.96.100.1"}, Ports: []ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}})
	}
	rc, err := ParseResolvConf("resolv.conf", []byte(podResolvConf))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if rep := Analyze(Input{Name: "www.baidu.com", Resolver: Glibc, ResolvConf: rc, Cluster: c, ClusterDNS: []string{"10.96.0.10"}}); rep.Answer.Rounds != 4 {
			b.Fatal(rep.Answer.Rounds)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}
