package dnssim

import (
	"strings"
	"testing"
)

func modelCluster(pods string) *Cluster {
	p := KubeadmDefaultPlugin("cluster.local")
	p.Pods = pods
	notReady := ptrBool(false)
	return &Cluster{
		Plugin:        p,
		Namespaces:    map[string]bool{"default": true, "kube-system": true, "empty-ns": true},
		DNSServiceIPs: []string{"10.96.0.10"},
		Pods:          []PodRef{{Namespace: "default", IP: "10.244.0.5"}},
		Services: []Service{
			{Name: "nginx", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"10.96.10.10"},
				Ports:     []ServicePort{{Name: "http", Protocol: "TCP", Port: 80}, {Name: "dns", Protocol: "UDP", Port: 53}},
				Endpoints: []Endpoint{{Addresses: []string{"10.244.0.8"}}}, EndpointPorts: []ServicePort{{Name: "http", Protocol: "TCP", Port: 8080}}},
			{Name: "dual", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"10.96.30.30", "fd00:10:96::30"},
				Ports: []ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
			{Name: "web", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"None"},
				EndpointPorts: []ServicePort{{Name: "http", Protocol: "TCP", Port: 8080}},
				Endpoints: []Endpoint{
					{Addresses: []string{"10.244.0.5"}, Hostname: "web-0", PodName: "web-0"},
					{Addresses: []string{"10.244.0.6"}, PodName: "web-1"},
					{Addresses: []string{"10.244.0.7"}, Ready: notReady, PodName: "web-2"},
				}},
			{Name: "pub", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"None"}, PublishNotReadyAddresses: true,
				Endpoints: []Endpoint{{Addresses: []string{"10.244.1.7"}, Ready: ptrBool(EndpointReady(true, false, false))}}},
			{Name: "empty", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"None"},
				Endpoints: []Endpoint{{Addresses: []string{"10.244.2.7"}, Ready: ptrBool(EndpointReady(false, false, false))}}},
			{Name: "ext", Namespace: "default", Type: "ExternalName", ExternalName: "www.example.com"},
			{Name: "int", Namespace: "default", Type: "ExternalName", ExternalName: "nginx.default.svc.cluster.local"},
		},
	}
}

// TestClusterModel pins each record kind of the CoreDNS kubernetes plugin
// (v1.14.7) as shared/docs/dns-semantics.md §6 describes it.
func TestClusterModel(t *testing.T) {
	recs, err := ParseRecords("r", []byte("records:\n  www.example.com.: {A: [93.184.216.34]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, qtype, pods string
		want              string // Response.Label()
		source            string
	}{
		{"nginx.default.svc.cluster.local", "A", PodsInsecure, "10.96.10.10", "cluster"},
		{"NGINX.Default.SVC.cluster.local", "A", PodsInsecure, "10.96.10.10", "cluster"},
		{"nginx.default.svc.cluster.local", "AAAA", PodsInsecure, "NODATA", "cluster"},
		{"dual.default.svc.cluster.local", "AAAA", PodsInsecure, "fd00:10:96::30", "cluster"},
		{"web.default.svc.cluster.local", "A", PodsInsecure, "10.244.0.5, 10.244.0.6", "cluster"},
		{"web-0.web.default.svc.cluster.local", "A", PodsInsecure, "10.244.0.5", "cluster"},
		{"10-244-0-6.web.default.svc.cluster.local", "A", PodsInsecure, "10.244.0.6", "cluster"},
		{"10-244-0-5.web.default.svc.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"10-244-0-8.nginx.default.svc.cluster.local", "A", PodsInsecure, "10.244.0.8", "cluster"},
		{"pub.default.svc.cluster.local", "A", PodsInsecure, "10.244.1.7", "cluster"},
		{"empty.default.svc.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"ext.default.svc.cluster.local", "A", PodsInsecure, "CNAME www.example.com., 93.184.216.34", "cluster"},
		{"ext.default.svc.cluster.local", "CNAME", PodsInsecure, "CNAME www.example.com.", "cluster"},
		{"ext.default.svc.cluster.local", "SRV", PodsInsecure, "NODATA", "cluster"},
		{"_http._tcp.ext.default.svc.cluster.local", "SRV", PodsInsecure, "NXDOMAIN", "cluster"},
		{"int.default.svc.cluster.local", "A", PodsInsecure, "CNAME nginx.default.svc.cluster.local., 10.96.10.10", "cluster"},
		{"_http._tcp.nginx.default.svc.cluster.local", "SRV", PodsInsecure, "0 100 80 nginx.default.svc.cluster.local.", "cluster"},
		{"nginx.default.svc.cluster.local", "SRV", PodsInsecure, "0 50 80 nginx.default.svc.cluster.local., 0 50 53 nginx.default.svc.cluster.local.", "cluster"},
		{"_https._tcp.nginx.default.svc.cluster.local", "SRV", PodsInsecure, "NXDOMAIN", "cluster"},
		{"_http._tcp.web.default.svc.cluster.local", "SRV", PodsInsecure, "0 50 8080 web-0.web.default.svc.cluster.local., 0 50 8080 10-244-0-6.web.default.svc.cluster.local.", "cluster"},
		{"_http._tcp.dual.default.svc.cluster.local", "SRV", PodsInsecure, "0 50 80 dual.default.svc.cluster.local.", "cluster"},
		{"nosuch.default.svc.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"nginx.missing-ns.svc.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"empty-ns.svc.cluster.local", "A", PodsInsecure, "NODATA", "cluster"},
		{"missing-ns.svc.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"svc.cluster.local", "A", PodsInsecure, "NODATA", "cluster"},
		{"cluster.local", "A", PodsInsecure, "NODATA", "cluster"},
		{"www.baidu.com.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"a.b.c.nginx.default.svc.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"*.default.svc.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"10-244-0-9.default.pod.cluster.local", "A", PodsInsecure, "10.244.0.9", "cluster"},
		{"172-0-0-2.default.pod.cluster.local", "A", PodsInsecure, "172.0.0.2", "cluster"},
		{"10-244-0-9.missing-ns.pod.cluster.local", "A", PodsInsecure, "NXDOMAIN", "cluster"},
		{"10-244-0-9.default.pod.cluster.local", "A", PodsVerified, "NXDOMAIN", "cluster"},
		{"10-244-0-5.default.pod.cluster.local", "A", PodsVerified, "10.244.0.5", "cluster"},
		{"10-244-0-5.default.pod.cluster.local", "A", PodsDisabled, "NXDOMAIN", "cluster"},
		{"fd00--5.default.pod.cluster.local", "AAAA", PodsInsecure, "fd00::5", "cluster"},
		{"default.pod.cluster.local", "A", PodsInsecure, "NODATA", "cluster"},
		{"10.10.96.10.in-addr.arpa", "PTR", PodsInsecure, "nginx.default.svc.cluster.local.", "cluster"},
		{"5.0.244.10.in-addr.arpa", "PTR", PodsInsecure, "web-0.web.default.svc.cluster.local.", "cluster"},
		{"8.0.244.10.in-addr.arpa", "PTR", PodsInsecure, "10-244-0-8.nginx.default.svc.cluster.local.", "cluster"},
		{"7.0.244.10.in-addr.arpa", "PTR", PodsInsecure, "NODATA", "upstream-default"},
		{"dns-version.cluster.local", "TXT", PodsInsecure, `"1.1.0"`, "cluster"},
		{"nginx.default.svc.cluster.local", "TXT", PodsInsecure, "NODATA", "cluster"},
		{"nginx.default.svc.cluster.local", "MX", PodsInsecure, "NODATA", "cluster"},
		{"nosuch.default.svc.cluster.local", "MX", PodsInsecure, "NXDOMAIN", "cluster"},
		{"ns.dns.cluster.local", "A", PodsInsecure, "10.96.0.10", "cluster"},
		{"cluster.local", "AXFR", PodsInsecure, "REFUSED", "cluster"},
		{"www.example.com", "A", PodsInsecure, "93.184.216.34", "records"},
		{"www.other.com", "A", PodsInsecure, "192.0.2.1", "upstream-default"},
	}
	for _, c := range cases {
		t.Run(c.qtype+" "+c.name+" "+c.pods, func(t *testing.T) {
			ans := Layered{Records: recs, Cluster: modelCluster(c.pods)}
			got := ans.Answer(Question{Name: c.name, Type: c.qtype})
			if got.Label() != c.want || got.Source != c.source {
				t.Errorf("got %s (source %s, %s), want %s (source %s)", got.Label(), got.Source, got.Why, c.want, c.source)
			}
		})
	}
}

func TestSRVAdditional(t *testing.T) {
	got := Layered{Cluster: modelCluster(PodsInsecure)}.Answer(Question{Name: "_http._tcp.web.default.svc.cluster.local.", Type: "SRV"})
	if len(got.Additional) != 2 || got.Additional[0].Data != "10.244.0.5" || got.Additional[0].Name != "web-0.web.default.svc.cluster.local." {
		t.Errorf("additional %+v", got.Additional)
	}
}

func TestReverseName(t *testing.T) {
	for in, want := range map[string]string{
		"10.96.0.10":     "10.0.96.10.in-addr.arpa.",
		"fd00:10:96::a":  "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.",
		"::ffff:1.2.3.4": "4.3.2.1.in-addr.arpa.",
	} {
		got, err := ReverseName(in)
		if err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
		if a, ok := addressFromReverse(got); !ok || !strings.Contains(in, a.String()) && a.String() != "fd00:10:96::a" {
			t.Errorf("round trip %s → %s → %v", in, got, a)
		}
	}
}
