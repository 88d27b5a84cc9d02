package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svctrace/kubectl-svc-trace/pkg/dnssim"
)

var updateDNS = flag.Bool("update-dns", false, "rewrite the golden files under testdata/dns")

// liveAnswers stands in for the cluster's DNS: it answers like the model
// except for one address, so the live section shows a match, a difference,
// an assumed upstream answer and the real walk.
type liveAnswers struct{ model dnssim.Answerer }

func (l liveAnswers) Answer(q dnssim.Question) dnssim.Response {
	r := l.model.Answer(q)
	r.Source = "live"
	if q.Name == "www.example.com." {
		return dnssim.Response{Rcode: dnssim.SERVFAIL, Answers: []dnssim.RR{}, Source: "live"}
	}
	if q.Name == "api.default.svc.cluster.local." && q.Type == "A" {
		r.Answers = []dnssim.RR{{Name: q.Name, Type: "A", TTL: 30, Data: "10.96.0.99"}}
	}
	return r
}

// dnsReport builds a report the way the dns command does, on a small model:
// a walk with --live, and a single SRV question.
func dnsReports(t *testing.T) map[string]*dnssim.Report {
	t.Helper()
	c := &dnssim.Cluster{Plugin: dnssim.KubeadmDefaultPlugin("cluster.local"), Cache: dnssim.KubeadmDefaultCache("cluster.local"),
		Namespaces: map[string]bool{"default": true},
		Services: []dnssim.Service{
			{Name: "api", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"10.96.0.20"}, Ports: []dnssim.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
			{Name: "web", Namespace: "default", Type: "ClusterIP", ClusterIPs: []string{"None"},
				EndpointPorts: []dnssim.ServicePort{{Name: "http", Protocol: "TCP", Port: 8080}},
				Endpoints:     []dnssim.Endpoint{{Addresses: []string{"10.244.0.5"}, Hostname: "web-0"}}},
		}}
	computed, err := dnssim.ParseResolvConf("computed", []byte("search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"))
	if err != nil {
		t.Fatal(err)
	}
	real, err := dnssim.ParseResolvConf("pod default/client container c: /etc/resolv.conf", []byte("search default.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dnssim.Report{}
	in := dnssim.Input{Name: "api", Pod: "default/client", Resolver: dnssim.Glibc, Family: dnssim.FamilyAny, ResolvConf: real, Cluster: c, ClusterDNS: []string{"10.96.0.10"}}
	rep := dnssim.Analyze(in)
	rep.ExecResolvConf = dnssim.CheckResolvConf(computed, real)
	model, _ := in.Answerer([]string{"10.96.0.10"})
	rep.Live = dnssim.CompareLive(in, rep, liveAnswers{model}, "pod kube-system/coredns-1 (10.244.0.2) through a port-forward, DNS over TCP")
	out["live-walk"] = rep

	in2 := in
	in2.Name, in2.QType = "_http._tcp.web.default.svc.cluster.local", "SRV"
	rep2 := dnssim.Analyze(in2)
	rep2.Live = dnssim.CompareLive(in2, rep2, liveAnswers{model}, "pod kube-system/coredns-1 (10.244.0.2) through a port-forward, DNS over TCP")
	out["live-srv"] = rep2

	in3 := in
	in3.Name = "www.example.com."
	rep3 := dnssim.Analyze(in3)
	rep3.Live = dnssim.CompareLive(in3, rep3, liveAnswers{model}, "pod kube-system/coredns-1 (10.244.0.2) through a port-forward, DNS over TCP")
	out["live-assumed"] = rep3
	return out
}

// TestDNSLiveGolden pins the --live and --exec sections of the tree (plain
// and colour); the end-to-end output against the real CoreDNS is checked in
// test/dns/cluster.
func TestDNSLiveGolden(t *testing.T) {
	for name, rep := range dnsReports(t) {
		for _, color := range []bool{false, true} {
			file := name + ".txt"
			if color {
				file = name + ".color.txt"
			}
			var b bytes.Buffer
			if err := DNS(&b, rep, Options{Format: FormatTree, Color: color}); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "dns", file)
			if *updateDNS {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./pkg/render -run DNSLiveGolden -update-dns)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s differs (go test ./pkg/render -run DNSLiveGolden -update-dns to accept):\n--- got\n%s\n--- want\n%s", golden, b.String(), want)
			}
		}
	}
}

// TestDNSLiveJSON: the JSON carries the live comparison and the --exec check
// under stable keys, and no colour.
func TestDNSLiveJSON(t *testing.T) {
	rep := dnsReports(t)["live-walk"]
	var b bytes.Buffer
	if err := DNS(&b, rep, Options{Format: FormatJSON, Color: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b[") {
		t.Error("ANSI in JSON")
	}
	var doc struct {
		Live struct {
			Server    string `json:"server"`
			Questions []struct {
				Name, Type  string
				Match       bool     `json:"match"`
				Differences []string `json:"differences"`
				Predicted   struct{ Rcode string }
				Real        struct{ Rcode string }
			} `json:"questions"`
			Walk        struct{ Match bool } `json:"walk"`
			Differences int                  `json:"differences"`
		} `json:"live"`
		ExecResolvConf struct {
			Match       bool     `json:"match"`
			Differences []string `json:"differences"`
		} `json:"execResolvConf"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Live.Differences != 2 || doc.Live.Walk.Match || len(doc.Live.Questions) == 0 || doc.ExecResolvConf.Match || len(doc.ExecResolvConf.Differences) != 1 {
		t.Errorf("%+v", doc)
	}
}
