package rules

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// upstreamIPVSRecord is one state of testdata/upstream-ipvs: what kube-proxy's
// IPVS proxier code (k8s.io/kubernetes v1.36.3, pkg/proxy/ipvs) programmed at
// the end of a sync in one of its own unit tests — or in
// TestSvctraceSeedShape, the seed-shaped case — with the Services and
// endpoints it was syncing. Written by hack/record-ipvs.sh, which also wrote
// beside it the table in every ipvsadm form, the real `ipset save` / `ipset
// list` of its sets and the real iptables-save of its rules.
type upstreamIPVSRecord struct {
	Test      string   `json:"test"`
	Family    string   `json:"family"`
	NodeIPs   []string `json:"nodeIPs"`
	Bound     []string `json:"boundToKubeIPVS0"`
	Scheduler string   `json:"scheduler"`
	Services  []struct {
		Name            string   `json:"name"`
		Protocol        string   `json:"protocol"`
		ClusterIP       string   `json:"clusterIP"`
		Port            int      `json:"port"`
		NodePort        int      `json:"nodePort"`
		ExternalIPs     []string `json:"externalIPs"`
		LoadBalancerIPs []string `json:"loadBalancerIPs"`
		SourceRanges    []string `json:"sourceRanges"`
		ExternalLocal   bool     `json:"externalTrafficLocal"`
		InternalLocal   bool     `json:"internalTrafficLocal"`
		Affinity        bool     `json:"clientIPAffinity"`
		AffinitySeconds int      `json:"affinitySeconds"`
		Endpoints       []struct {
			IP          string `json:"ip"`
			Port        int    `json:"port"`
			Local       bool   `json:"local"`
			Ready       bool   `json:"ready"`
			Serving     bool   `json:"serving"`
			Terminating bool   `json:"terminating"`
		} `json:"endpoints"`
	} `json:"services"`
}

// servicePorts turns the record's services into ServicePortInfo (the
// local node is "node"; local endpoints are on it).
func (r *upstreamIPVSRecord) servicePorts() []ServicePortInfo {
	var out []ServicePortInfo
	for _, s := range r.Services {
		nsName, port, _ := strings.Cut(s.Name, ":")
		ns, name, _ := strings.Cut(nsName, "/")
		sp := ServicePortInfo{Namespace: ns, Name: name, PortName: port, Protocol: s.Protocol, ClusterIP: s.ClusterIP, Port: s.Port,
			NodePort: s.NodePort, ExternalIPs: s.ExternalIPs, LoadBalancerVIPs: s.LoadBalancerIPs, SourceRanges: s.SourceRanges,
			ExternalTrafficLocal: s.ExternalLocal, InternalTrafficLocal: s.InternalLocal, ClientIPAffinity: s.Affinity,
			ExternallyAccessible: s.NodePort != 0 || len(s.ExternalIPs) > 0 || len(s.LoadBalancerIPs) > 0}
		for _, e := range s.Endpoints {
			ep := EndpointInfo{IP: e.IP, Port: e.Port, Ready: e.Ready, Serving: e.Serving, Terminating: e.Terminating, NodeName: "other"}
			if e.Local {
				ep.NodeName = "node"
			}
			sp.Endpoints = append(sp.Endpoints, ep)
		}
		out = append(out, sp)
	}
	return out
}

type ipvsForms struct {
	rec    upstreamIPVSRecord
	forms  map[string]*Ruleset // ipvsadm forms
	ipsets map[string]*Ruleset // ipset-save, ipset-list
	ipt    *Ruleset
}

func loadUpstreamIPVS(t *testing.T) map[string]*ipvsForms {
	t.Helper()
	files, _ := filepath.Glob("testdata/upstream-ipvs/*.json")
	if len(files) < 40 {
		t.Fatalf("only %d IPVS states recorded (run hack/record-ipvs.sh)", len(files))
	}
	out := map[string]*ipvsForms{}
	for _, f := range files {
		base := strings.TrimSuffix(f, ".json")
		name := filepath.Base(base)
		x := &ipvsForms{forms: map[string]*Ruleset{}, ipsets: map[string]*Ruleset{}}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &x.rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		read := func(suffix string) *Ruleset {
			b, err := os.ReadFile(base + suffix)
			if err != nil {
				return nil
			}
			rs, err := ParseAnyString(string(b), ParseOptions{Source: name + suffix})
			if err != nil {
				t.Fatalf("%s%s: %v", name, suffix, err)
			}
			if len(rs.Warnings) > 0 {
				t.Errorf("%s%s: warnings:\n%s", name, suffix, warningsText(rs.Warnings))
			}
			return rs
		}
		for _, form := range []string{".ipvsadm-Ln", ".ipvsadm-Sn", ".ipvsadm-Ln-stats", ".ipvsadm-Ln-rate"} {
			rs := read(form)
			if rs == nil || rs.Format != FormatIPVS {
				t.Fatalf("%s%s: not read as ipvsadm output", name, form)
			}
			x.forms[form] = rs
		}
		for _, form := range []string{".ipset-save", ".ipset-list"} {
			rs := read(form)
			if rs == nil || rs.Format != FormatIPSet {
				t.Fatalf("%s%s: not read as ipset output", name, form)
			}
			x.ipsets[form] = rs
		}
		if x.ipt = read(".iptables-save"); x.ipt == nil {
			x.ipt = read(".iptables-restore")
		}
		if x.ipt == nil || len(x.ipt.Tables) == 0 {
			t.Fatalf("%s: no iptables rules", name)
		}
		out[name] = x
	}
	return out
}

func ipvsSummary(t *IPVSTable, detail bool) string {
	var lines []string
	for _, s := range t.Services {
		l := s.Key()
		if detail {
			l = s.String()
		}
		var rs []string
		for _, r := range s.Reals {
			x := r.String()
			if detail {
				x += fmt.Sprintf("/%s/w%d", r.Forward, r.Weight)
			}
			rs = append(rs, x)
		}
		sort.Strings(rs)
		lines = append(lines, l+" -> "+strings.Join(rs, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestUpstreamIPVSForms: every ipvsadm form of a recorded table reads as
// the same virtual and real servers (the list and save forms also with the
// same scheduler, persistence, forwarding and weights), and `ipset save`
// and `ipset list` as the same sets.
func TestUpstreamIPVSForms(t *testing.T) {
	for name, x := range loadUpstreamIPVS(t) {
		ln, sn := x.forms[".ipvsadm-Ln"].IPVS, x.forms[".ipvsadm-Sn"].IPVS
		if a, b := ipvsSummary(ln, true), ipvsSummary(sn, true); a != b {
			t.Errorf("%s: -Ln and -Sn differ:\n%s\n---\n%s", name, a, b)
		}
		for _, form := range []string{".ipvsadm-Ln-stats", ".ipvsadm-Ln-rate"} {
			if a, b := ipvsSummary(ln, false), ipvsSummary(x.forms[form].IPVS, false); a != b {
				t.Errorf("%s: -Ln and %s differ:\n%s\n---\n%s", name, form, a, b)
			}
		}
		if len(ln.Services) == 0 {
			t.Errorf("%s: no virtual services read", name)
		}
		save, list := x.ipsets[".ipset-save"].IPSets, x.ipsets[".ipset-list"].IPSets
		if len(save) != len(list) || len(save) < 10 {
			t.Errorf("%s: %d sets saved, %d listed", name, len(save), len(list))
		}
		for n, s := range save {
			l := list[n]
			if l == nil || l.Type != s.Type || strings.Join(sorted(l.Members), " ") != strings.Join(sorted(s.Members), " ") {
				t.Errorf("%s: set %s differs between ipset save and ipset list", name, n)
			}
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestUpstreamIPVSMapping: the real servers kube-proxy's IPVS proxier
// programmed are exactly those MapChains derives from the Services and
// endpoints (CategorizeEndpoints, Local policies with the IPVS fallback to
// cluster endpoints), for every recorded state; and a dropped endpoint
// shows as stale, an added one as missing.
func TestUpstreamIPVSMapping(t *testing.T) {
	checked := 0
	for name, x := range loadUpstreamIPVS(t) {
		sps := x.rec.servicePorts()
		m := MapChains([]*Ruleset{x.forms[".ipvsadm-Ln"]}, sps, NodeInfo{Name: "node"})
		var probs []string
		for _, p := range append(m.Stale, m.Missing...) {
			if p.Table == "ipvs" {
				probs = append(probs, p.Chain+": "+p.Reason)
			}
		}
		if len(probs) > 0 {
			t.Errorf("%s: IPVS drift against the proxier's own input:\n%s", name, strings.Join(probs, "\n"))
		}
		for _, s := range x.forms[".ipvsadm-Ln"].IPVS.Services {
			if _, ok := m.Label(s.Key()); !ok {
				t.Errorf("%s: virtual service %s has no label", name, s.Key())
			}
			checked++
		}
	}
	if checked < 90 {
		t.Errorf("only %d virtual services checked", checked)
	}
	// drift: the seed-shaped state against objects with one endpoint gone
	// and one added
	x := loadUpstreamIPVS(t)["TestSvctraceSeedShape-001"]
	sps := x.rec.servicePorts()
	for i := range sps {
		if sps[i].Name == "ngx-dep-svc" {
			sps[i].Endpoints = append(sps[i].Endpoints[1:], EndpointInfo{IP: "10.244.0.99", Port: 8080, Ready: true, Serving: true, NodeName: "node"})
		}
	}
	m := MapChains([]*Ruleset{x.forms[".ipvsadm-Sn"]}, sps, NodeInfo{Name: "node"})
	var stale, missing []string
	for _, p := range m.Stale {
		stale = append(stale, p.Chain+" "+p.Label.Endpoint)
	}
	for _, p := range m.Missing {
		missing = append(missing, p.Chain+" "+p.Label.Endpoint)
	}
	if strings.Join(stale, ";") != "TCP 10.97.166.233:80 10.244.0.5:8080" || strings.Join(missing, ";") != "TCP 10.97.166.233:80 10.244.0.99:8080" {
		t.Errorf("stale %v, missing %v", stale, missing)
	}
}

// TestUpstreamIPVSFlows sends packets through every recorded node — the
// IPVS table (each ipvsadm form that shows a scheduler), the real iptables
// rules kube-proxy's IPVS mode keeps and the real ipsets — and requires
// the real servers kube-proxy programmed, each with the share its
// scheduler gives (rr: 1/n), for ClusterIPs from a pod and NodePorts from
// outside; with masquerade exactly where the rules put it: NodePort
// traffic (KUBE-NODE-PORT marks it) and a hairpin (KUBE-LOOP-BACK), not a
// pod reaching a ClusterIP.
func TestUpstreamIPVSFlows(t *testing.T) {
	flows := 0
	for name, x := range loadUpstreamIPVS(t) {
		v6 := x.rec.Family == "IPv6"
		pod, outside := "10.0.0.2", "203.0.113.9"
		if v6 {
			pod, outside = "fd00:10::2", "2001:db8::9"
		}
		var nodes []netip.Addr
		for _, s := range x.rec.NodeIPs {
			nodes = append(nodes, netip.MustParseAddr(s))
		}
		for _, form := range []string{".ipvsadm-Ln", ".ipvsadm-Sn"} {
			rss := []*Ruleset{x.forms[form], x.ipsets[".ipset-save"], x.ipt}
			tbl := x.forms[form].IPVS
			for _, s := range x.rec.Services {
				proto := strings.ToUpper(s.Protocol)
				type pkt struct {
					what     string
					src, dst string
					port     int
					masq     bool
				}
				var pkts []pkt
				if s.ClusterIP != "" && s.Port != 0 && netip.MustParseAddr(s.ClusterIP).Is6() == v6 {
					pkts = append(pkts, pkt{"ClusterIP from a pod", pod, s.ClusterIP, s.Port, false})
				}
				if s.NodePort != 0 && len(nodes) > 0 {
					// eTP=Local NodePorts RETURN before the mark (the
					// KUBE-NODE-PORT-LOCAL-* sets): the client address is kept
					pkts = append(pkts, pkt{"NodePort from outside", outside, nodes[0].String(), s.NodePort, !s.ExternalLocal})
				}
				for _, p := range pkts {
					vs := tbl.Service(proto, netip.MustParseAddr(p.dst), uint16(p.port))
					if vs == nil {
						continue
					}
					flows++
					res, err := Evaluate(EvalInput{Rulesets: rss, NodeIPs: nodes, Hook: HookPrerouting,
						Packet: Packet{Src: netip.MustParseAddr(p.src), Dst: netip.MustParseAddr(p.dst), DstPort: uint16(p.port), Proto: s.Protocol}})
					if err != nil {
						t.Fatal(err)
					}
					var want []string
					for _, r := range vs.Reals {
						if r.Weight > 0 {
							want = append(want, r.String())
						}
					}
					sort.Strings(want)
					wantVerdict := VerdictDNAT
					if len(want) == 0 {
						wantVerdict = VerdictReject
					}
					got := resultEndpoints(res)
					if res.Verdict != wantVerdict || strings.Join(got, ",") != strings.Join(want, ",") || res.Uncertain {
						t.Errorf("%s%s: %s %s %s:%d: got %s %v uncertain=%v, want %s %v\n%s", name, form, s.Name, p.what, p.dst, p.port,
							res.Verdict, got, res.Uncertain, wantVerdict, want, warningsText(res.Warnings))
						continue
					}
					for _, e := range res.Endpoints {
						if e.Fraction != fmt.Sprintf("1/%d", len(want)) && !(len(want) == 1 && e.Fraction == "1") {
							t.Errorf("%s%s: %s: endpoint %s fraction %s", name, form, s.Name, e.IP, e.Fraction)
						}
						if e.Masquerade != p.masq {
							t.Errorf("%s%s: %s %s: endpoint %s masquerade=%v, want %v", name, form, s.Name, p.what, e.IP, e.Masquerade, p.masq)
						}
						if vs.Persistent != e.Sticky {
							t.Errorf("%s%s: %s: persistent %v but sticky %v", name, form, s.Name, vs.Persistent, e.Sticky)
						}
					}
				}
			}
		}
	}
	if flows < 100 {
		t.Errorf("only %d flows checked", flows)
	}
}
