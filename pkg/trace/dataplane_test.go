package trace

import (
	"encoding/json"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/svctrace/kubectl-svc-trace/pkg/rules"
)

// The fixtures are pkg/rules' recording of a real node (hack/record-rules.sh):
// the API objects, the node's iptables-nft-save, its addresses and routes,
// and which pod answered real requests. The full trace must predict exactly
// the pods that answered, and masquerade exactly when the pod saw a node
// address as the client.
const fixtures = "../rules/testdata/kube-proxy/"

type recordedWorld struct {
	services []corev1.Service
	slices   []discoveryv1.EndpointSlice
	pods     []corev1.Pod
	node     NodeDataplane
	traffic  []recordedTraffic
}

type recordedTraffic struct {
	Scenario string         `json:"scenario"`
	From     string         `json:"from"`
	Src      string         `json:"src"`
	Dst      string         `json:"dst"`
	Port     int            `json:"port"`
	Answers  map[string]int `json:"answers"`
}

func loadWorld(t *testing.T) *recordedWorld {
	t.Helper()
	w := &recordedWorld{}
	var list struct{ Items []json.RawMessage }
	readJSON(t, fixtures+"objects.json", &list)
	for _, raw := range list.Items {
		var meta struct{ Kind string }
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Service":
			var s corev1.Service
			mustUnmarshal(t, raw, &s)
			w.services = append(w.services, s)
		case "EndpointSlice":
			var s discoveryv1.EndpointSlice
			mustUnmarshal(t, raw, &s)
			w.slices = append(w.slices, s)
		case "Pod":
			var p corev1.Pod
			mustUnmarshal(t, raw, &p)
			w.pods = append(w.pods, p)
		}
	}
	var node struct {
		NodeName string            `json:"nodeName"`
		NodeIPs  []string          `json:"nodeIPs"`
		Routes4  []json.RawMessage `json:"routes4"`
		Routes6  []json.RawMessage `json:"routes6"`
	}
	readJSON(t, fixtures+"node.json", &node)
	w.node = NodeDataplane{Name: node.NodeName, ProxyMode: "iptables", Backend: "nft", BackendReason: "recorded"}
	for _, ip := range node.NodeIPs {
		w.node.NodeIPs = append(w.node.NodeIPs, netip.MustParseAddr(ip))
	}
	for _, rs := range [][]json.RawMessage{node.Routes4, node.Routes6} {
		b, _ := json.Marshal(rs)
		routes, err := rules.ParseRoutes(string(b))
		if err != nil {
			t.Fatal(err)
		}
		w.node.Routes = append(w.node.Routes, routes...)
	}
	for _, f := range []string{"node-nft-v4.save", "node-nft-v6.save"} {
		b, err := os.ReadFile(fixtures + f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rules.ParseString(string(b), rules.ParseOptions{Source: f})
		if err != nil {
			t.Fatal(err)
		}
		w.node.Rulesets = append(w.node.Rulesets, rs)
	}
	readJSON(t, fixtures+"traffic.json", &w.traffic)
	return w
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mustUnmarshal(t, b, v)
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func (w *recordedWorld) trace(t *testing.T, name, port string, q TraceQuery) *ServiceTrace {
	t.Helper()
	var svc *corev1.Service
	for i := range w.services {
		if w.services[i].Name == name {
			svc = &w.services[i]
		}
	}
	if svc == nil {
		t.Fatalf("no service %s in the recording", name)
	}
	snap := &Snapshot{Service: svc, Source: "files", Nodes: map[string]*corev1.Node{}}
	for _, sl := range w.slices {
		if sl.Labels[discoveryv1.LabelServiceName] == name {
			snap.Slices = append(snap.Slices, sl)
		}
	}
	snap.Pods = w.pods
	tr, err := Analyze(snap, Options{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	in := DataplaneInput{Query: q, Nodes: []NodeDataplane{w.node}, Ports: map[string][]rules.ServicePortInfo{
		"IPv4": ServicePortsFromObjects(w.services, w.slices, w.pods, corev1.IPv4Protocol),
		"IPv6": ServicePortsFromObjects(w.services, w.slices, w.pods, corev1.IPv6Protocol),
	}}
	if err := Dataplane(tr, in); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestDataplaneMatchesRealTraffic replays every recorded request: the node's
// rules, joined with the API, must predict the set of pods that really
// answered, the masquerade each saw, and report no drift.
func TestDataplaneMatchesRealTraffic(t *testing.T) {
	w := loadWorld(t)
	ran := 0
	for _, rec := range w.traffic {
		via, ok := viaOf(w, rec)
		if !ok {
			continue
		}
		port := ""
		if rec.Scenario == "multiport" {
			port = "metrics"
		}
		kind := map[string]string{"pod": FromPod, "node": FromNode, "outside": FromExternal}[rec.From]
		src := Source{Kind: kind, IP: rec.Src, Node: w.node.Name}
		t.Run(rec.Scenario+"/"+rec.From+"/"+via+"/"+rec.Src, func(t *testing.T) {
			ran++
			tr := w.trace(t, rec.Scenario, port, TraceQuery{From: src, Via: via})
			if len(tr.Nodes) != 1 {
				t.Fatalf("want one node result, got %d", len(tr.Nodes))
			}
			nr := tr.Nodes[0]
			var predicted []string
			for _, e := range nr.Endpoints {
				predicted = append(predicted, e.IP)
			}
			sort.Strings(predicted)
			var answered []string
			clientSeen := map[string]bool{}
			for a := range rec.Answers {
				if a == "fail" {
					continue
				}
				f := strings.Fields(a)
				answered = append(answered, f[0])
				clientSeen[f[1]] = true
			}
			// The echo server reports its pod's primary (IPv4) address:
			// translate to the address of the traced family.
			for i, a := range answered {
				answered[i] = w.podIPOfFamily(a, rec.Src)
			}
			sort.Strings(answered)
			if len(answered) == 0 {
				if nr.Verdict != "REJECT" && nr.Verdict != "DROP" {
					t.Errorf("real requests failed; predicted %s to %v", nr.Verdict, predicted)
				}
				return
			}
			if rec.Scenario == "affinity" {
				// ClientIP affinity: one client sticks to the endpoint its
				// first connection picked, any of the predicted ones.
				if nr.Verdict != "DNAT" || len(answered) != 1 || !containsStr(predicted, answered[0]) || findCode(tr, CodeDataplaneAffinityMismatch) != nil {
					t.Errorf("affinity: predicted %s %v, pods that answered %v", nr.Verdict, predicted, answered)
				}
			} else if nr.Verdict != "DNAT" || strings.Join(predicted, ",") != strings.Join(answered, ",") {
				t.Errorf("predicted %s %v, pods that answered %v", nr.Verdict, predicted, answered)
			}
			// Masquerade: the pod sees the client's own address unless the
			// node SNATs it (to the node's address on the pod bridge).
			masq := !clientSeen[rec.Src]
			for _, e := range nr.Endpoints {
				if e.Masquerade != masq && !e.Sticky {
					t.Errorf("endpoint %s: predicted masquerade %v, real client addresses %v", e.IP, e.Masquerade, clientSeen)
				}
			}
			for _, f := range nr.Findings {
				if f.Severity == SeverityError {
					t.Errorf("consistent rules reported drift: %s %s", f.Code, f.Message)
				}
			}
			if len(tr.Hops) < 3 || tr.Hops[0].Kind != "client" || tr.Hops[len(tr.Hops)-1].Kind != "endpoint" {
				t.Errorf("hops: %+v", tr.Hops)
			}
		})
	}
	if ran < 30 {
		t.Fatalf("only %d recorded requests replayed", ran)
	}
}

// viaOf tells the traffic class of a recorded request from its destination.
func viaOf(w *recordedWorld, rec recordedTraffic) (string, bool) {
	for _, s := range w.services {
		if s.Name != rec.Scenario {
			continue
		}
		for _, ip := range s.Spec.ClusterIPs {
			if ip == rec.Dst {
				return ViaClusterIP, true
			}
		}
		for _, ip := range s.Spec.ExternalIPs {
			if ip == rec.Dst {
				return ViaExternalIP, true
			}
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP == rec.Dst {
				return ViaLoadBalancer, true
			}
		}
		for _, p := range s.Spec.Ports {
			if int(p.NodePort) == rec.Port {
				return ViaNodePort, true
			}
		}
	}
	return "", false
}

// TestDataplaneDrift makes the API and the node disagree, as when kube-proxy
// stopped before a scale-down or a scale-up, and expects the findings.
func TestDataplaneDrift(t *testing.T) {
	w := loadWorld(t)
	q := TraceQuery{From: Source{Kind: FromNode, IP: "10.250.0.10", Node: "node1"}, Via: ViaClusterIP}
	base := w.trace(t, "clusterip", "", q)
	if len(base.Nodes[0].Endpoints) != 3 {
		t.Fatalf("baseline: %+v", base.Nodes[0].Endpoints)
	}

	// Scale down behind kube-proxy's back: the API lost one endpoint that
	// the rules still use → stale.
	gone := base.Nodes[0].Endpoints[0].IP
	down := *w
	down.slices = nil
	for _, sl := range w.slices {
		sl = *sl.DeepCopy()
		if sl.Labels[discoveryv1.LabelServiceName] == "clusterip" {
			var keep []discoveryv1.Endpoint
			for _, e := range sl.Endpoints {
				if e.Addresses[0] != gone {
					keep = append(keep, e)
				}
			}
			sl.Endpoints = keep
		}
		down.slices = append(down.slices, sl)
	}
	tr := down.trace(t, "clusterip", "", q)
	f := findCode(tr, CodeDataplaneStaleEndpoint)
	if f == nil || !strings.Contains(f.Message, gone) {
		t.Errorf("want %s naming %s, got %+v", CodeDataplaneStaleEndpoint, gone, tr.Findings)
	}

	// Scale up behind kube-proxy's back: a new ready endpoint the rules
	// lack → missing.
	up := *w
	up.slices = nil
	for _, sl := range w.slices {
		sl = *sl.DeepCopy()
		if sl.Labels[discoveryv1.LabelServiceName] == "clusterip" && sl.AddressType == discoveryv1.AddressTypeIPv4 {
			e := *sl.Endpoints[0].DeepCopy()
			e.Addresses = []string{"10.244.0.99"}
			e.TargetRef = nil
			sl.Endpoints = append(sl.Endpoints, e)
		}
		up.slices = append(up.slices, sl)
	}
	tr = up.trace(t, "clusterip", "", q)
	if f := findCode(tr, CodeDataplaneMissingEndpoint); f == nil || !strings.Contains(f.Message, "10.244.0.99") {
		t.Errorf("want %s naming 10.244.0.99, got %+v", CodeDataplaneMissingEndpoint, tr.Findings)
	}

	// The API has endpoints for a Service the node rejects → rejects.
	rej := *w
	rej.slices = nil
	for _, sl := range w.slices {
		sl = *sl.DeepCopy()
		if sl.Labels[discoveryv1.LabelServiceName] == "noendpoints" {
			continue
		}
		rej.slices = append(rej.slices, sl)
	}
	for _, sl := range w.slices {
		if sl.Labels[discoveryv1.LabelServiceName] == "clusterip" {
			sl = *sl.DeepCopy()
			sl.Name = "noendpoints-fake"
			sl.Labels = map[string]string{discoveryv1.LabelServiceName: "noendpoints"}
			rej.slices = append(rej.slices, sl)
		}
	}
	tr = rej.trace(t, "noendpoints", "", q)
	if findCode(tr, CodeDataplaneRejects) == nil {
		t.Errorf("want %s, got %+v", CodeDataplaneRejects, tr.Findings)
	}
}

func findCode(tr *ServiceTrace, code string) *Finding {
	for i := range tr.Findings {
		if tr.Findings[i].Code == code {
			return &tr.Findings[i]
		}
	}
	return nil
}

func containsStr(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// podIPOfFamily maps a pod's reported address to its address in the family
// of src.
func (w *recordedWorld) podIPOfFamily(ip, src string) string {
	want6 := strings.Contains(src, ":")
	for _, p := range w.pods {
		var ips []string
		for _, pi := range p.Status.PodIPs {
			ips = append(ips, pi.IP)
		}
		if !containsStr(ips, ip) {
			continue
		}
		for _, pi := range ips {
			if strings.Contains(pi, ":") == want6 {
				return pi
			}
		}
	}
	return ip
}
