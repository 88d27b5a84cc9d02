#!/usr/bin/env bash
# record-ipvs.sh [OUTDIR] — fixtures of kube-proxy's IPVS mode for pkg/rules,
# as real as this kernel allows (it has no ip_vs module, so no IPVS table can
# be created here; ip_set and nf_tables work).
#
# Runs kube-proxy's own IPVS unit tests (k8s.io/kubernetes v1.36.3,
# pkg/proxy/ipvs) from a scratch copy of the module with one hook: at the end
# of every syncProxyRules the real proxier code's output is recorded — the
# virtual and real servers it programmed into the fake IPVS interface, the
# ipsets and entries it created, the iptables rules it restored, the
# addresses it bound to kube-ipvs0, and the Services and endpoints it was
# syncing. A test of our own in the same package (TestSvctraceSeedShape)
# drives the same proxier with Services shaped like the seed's `ipvsadm -Ln`
# (a NodePort 30080 on every node address, ClusterIPs 10.107.159.92:80 and
# 10.97.166.233:80 with three endpoints each, kube-dns on 53/UDP, 53/TCP and
# 9153/TCP).
#
# Then, per recorded state:
#  * the ipsets are created in a fresh network namespace with the exact
#    `ipset create`/`ipset add` arguments kube-proxy's ipset runner uses, and
#    the real `ipset save` and `ipset list` outputs are kept;
#  * the iptables rules are loaded there with the real ip[6]tables-nft-restore
#    and the real ip[6]tables-nft-save output is kept;
#  * the IPVS table is printed in every ipvsadm form — -Ln, -Sn, -Ln --stats,
#    -Ln --rate — by a transcription of ipvsadm 1.31's print functions (their
#    format strings are in the Debian binary: `strings /usr/sbin/ipvsadm`),
#    since no real ipvsadm can list a table this kernel cannot hold. Counters
#    are zero: the fake IPVS interface has none.
# The random `initval` of hash sets is removed from the ipset outputs, so
# re-recording gives clean diffs. Needs root (netns), Go, the module proxy,
# ipset and iptables. See pkg/rules/testdata/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
. "$here/lib-upstream.sh"

die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root (ipset and iptables in network namespaces)"
need=()
for t in ipset:ipset iptables-nft-restore:iptables python3:python3; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

OUT=${1:-$repo/pkg/rules/testdata/upstream-ipvs}
TAG=svct-ipvs-$$
work=
netns_made=()
cleanup() {
  local n
  for n in "${netns_made[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  [[ -z $work || -n ${SVCT_KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

work=$(mktemp -d)
mkdir -p "$work/rec"
dir=$(upstream_module "$work")
pkg=$work/k8s/pkg/proxy/ipvs
grep -q "^func (proxier \*Proxier) syncProxyRules() (retryError error) {$" "$dir/pkg/proxy/ipvs/proxier.go" || die "syncProxyRules not found"
sed "s/^func (proxier \\*Proxier) syncProxyRules() (retryError error) {$/&\\n\\tdefer svctraceAfterSync(proxier)/" \
  "$dir/pkg/proxy/ipvs/proxier.go" >"$pkg/proxier.go"
# NewFakeProxier leaves the masquerade mark empty (its tests never load the
# rules), which writes `-m mark ! --mark /` — rules no real iptables
# accepts. Give it the mark a real proxier derives from the default
# masqueradeBit 14 (NewProxier: fmt.Sprintf("%#08x", 1<<14)).
grep -q '^		ipFamily:              ipFamily,$' "$dir/pkg/proxy/ipvs/proxier_test.go" || die "NewFakeProxier not found"
# Likewise it creates IPv4 ipsets for an IPv6 proxier; a real one creates
# family inet6 sets named KUBE-6-... (NewIPSet with isIPv6).
grep -q 'NewIPSet(ipset, is.name, is.setType, false, is.comment)' "$dir/pkg/proxy/ipvs/proxier_test.go" || die "NewFakeProxier's ipsets not found"
sed -e '0,/^		ipFamily:              ipFamily,$/s//&\n\t\tmasqueradeMark:        "0x004000",/' \
    -e 's/NewIPSet(ipset, is.name, is.setType, false, is.comment)/NewIPSet(ipset, is.name, is.setType, ipFamily == v1.IPv6Protocol, is.comment)/' \
  "$dir/pkg/proxy/ipvs/proxier_test.go" >"$pkg/proxier_test.go"
cat >"$pkg/zz_svctrace_record_test.go" <<'GO'
package ipvs

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/kubernetes/pkg/proxy"
	ipsettest "k8s.io/kubernetes/pkg/proxy/ipvs/ipset/testing"
	ipvstest "k8s.io/kubernetes/pkg/proxy/ipvs/testing"
	utilipvs "k8s.io/kubernetes/pkg/proxy/ipvs/util"
	ipvsutiltest "k8s.io/kubernetes/pkg/proxy/ipvs/util/testing"
	iptablestest "k8s.io/kubernetes/pkg/util/iptables/testing"
	netutils "k8s.io/utils/net"
	"k8s.io/utils/ptr"
)

var svctraceSeq = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

type svctraceReal struct {
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	Weight  int    `json:"weight"`
	Active  int    `json:"activeConn"`
	InAct   int    `json:"inactConn"`
}

type svctraceVS struct {
	Address   string         `json:"address"`
	Protocol  string         `json:"protocol"`
	Port      uint16         `json:"port"`
	Scheduler string         `json:"scheduler"`
	Flags     uint32         `json:"flags"`
	Timeout   uint32         `json:"timeout"`
	Reals     []svctraceReal `json:"reals"`
}

type svctraceSet struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Family    string   `json:"family"`
	HashSize  int      `json:"hashSize"`
	MaxElem   int      `json:"maxElem"`
	PortRange string   `json:"portRange"`
	Entries   []string `json:"entries"`
}

type svctraceEP struct {
	IP          string `json:"ip"`
	Port        int    `json:"port"`
	Local       bool   `json:"local"`
	Ready       bool   `json:"ready"`
	Serving     bool   `json:"serving"`
	Terminating bool   `json:"terminating"`
}

type svctraceSvc struct {
	Name            string       `json:"name"` // ns/name:port
	Protocol        string       `json:"protocol"`
	ClusterIP       string       `json:"clusterIP"`
	Port            int          `json:"port"`
	NodePort        int          `json:"nodePort,omitempty"`
	ExternalIPs     []string     `json:"externalIPs,omitempty"`
	LoadBalancerIPs []string     `json:"loadBalancerIPs,omitempty"`
	SourceRanges    []string     `json:"sourceRanges,omitempty"`
	ExternalLocal   bool         `json:"externalTrafficLocal,omitempty"`
	InternalLocal   bool         `json:"internalTrafficLocal,omitempty"`
	Affinity        bool         `json:"clientIPAffinity,omitempty"`
	AffinitySeconds int          `json:"affinitySeconds,omitempty"`
	Endpoints       []svctraceEP `json:"endpoints"`
}

// svctraceAfterSync records what a sync of the real IPVS proxier produced.
func svctraceAfterSync(p *Proxier) {
	dir := os.Getenv("SVCT_IPVS_OUT")
	if dir == "" {
		return
	}
	ipvs, ok1 := p.ipvs.(*ipvsutiltest.FakeIPVS)
	ipset, ok2 := p.ipset.(*ipsettest.FakeIPSet)
	ipt, ok3 := p.iptables.(*iptablestest.FakeIPTables)
	nl, ok4 := p.netlinkHandle.(*ipvstest.FakeNetlinkHandle)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return
	}
	test := "Unknown"
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		// "k8s.io/kubernetes/pkg/proxy/ipvs.TestNodePort.func1": the
		// outermost Test function (table tests sync inside closures).
		for _, part := range strings.Split(f.Function[strings.LastIndex(f.Function, "/")+1:], ".") {
			if strings.HasPrefix(part, "Test") {
				test = part
				break
			}
		}
		if !more {
			break
		}
	}
	rec := struct {
		Test      string          `json:"test"`
		Seq       int             `json:"seq"`
		Family    string          `json:"family"`
		NodeIPs   []string        `json:"nodeIPs"`
		Bound     []string        `json:"boundToKubeIPVS0"`
		Scheduler string          `json:"scheduler"`
		Services  []svctraceSvc   `json:"services"`
		VS        []svctraceVS    `json:"virtualServers"`
		Sets      []svctraceSet   `json:"ipsets"`
		IPTables  string          `json:"iptables"`
		IPVSAdm   map[string]string `json:"ipvsadm"`
	}{Test: test, Family: string(p.ipFamily), Scheduler: p.ipvsScheduler, IPTables: ipt.Dump.String(), IPVSAdm: map[string]string{}}
	if all, err := nl.GetAllLocalAddressesExcept(defaultDummyDevice); err == nil {
		rec.NodeIPs = sets2list(all)
	}
	if b, err := nl.GetLocalAddresses(defaultDummyDevice); err == nil {
		rec.Bound = sets2list(b)
	}
	vss, _ := ipvs.GetVirtualServers()
	for _, vs := range vss {
		v := svctraceVS{Address: vs.Address.String(), Protocol: vs.Protocol, Port: vs.Port, Scheduler: vs.Scheduler, Flags: uint32(vs.Flags), Timeout: vs.Timeout}
		rss, _ := ipvs.GetRealServers(vs)
		for _, rs := range rss {
			v.Reals = append(v.Reals, svctraceReal{Address: rs.Address.String(), Port: rs.Port, Weight: rs.Weight, Active: rs.ActiveConn, InAct: rs.InactiveConn})
		}
		rec.VS = append(rec.VS, v)
	}
	for name, s := range ipset.Sets {
		st := svctraceSet{Name: name, Type: string(s.SetType), Family: s.HashFamily, HashSize: s.HashSize, MaxElem: s.MaxElem, PortRange: s.PortRange}
		st.Entries = sets2list(ipset.Entries[name])
		rec.Sets = append(rec.Sets, st)
	}
	sort.Slice(rec.Sets, func(i, j int) bool { return rec.Sets[i].Name < rec.Sets[j].Name })
	for spn, sp := range p.svcPortMap {
		s := svctraceSvc{Name: spn.String(), Protocol: strings.ToLower(string(sp.Protocol())), Port: sp.Port(), NodePort: sp.NodePort(),
			ExternalLocal: sp.ExternalPolicyLocal(), InternalLocal: sp.InternalPolicyLocal(),
			Affinity: sp.SessionAffinityType() == v1.ServiceAffinityClientIP, AffinitySeconds: sp.StickyMaxAgeSeconds()}
		if ip := sp.ClusterIP(); ip != nil {
			s.ClusterIP = ip.String()
		}
		for _, ip := range sp.ExternalIPs() {
			s.ExternalIPs = append(s.ExternalIPs, ip.String())
		}
		for _, ip := range sp.LoadBalancerVIPs() {
			s.LoadBalancerIPs = append(s.LoadBalancerIPs, ip.String())
		}
		for _, n := range sp.LoadBalancerSourceRanges() {
			s.SourceRanges = append(s.SourceRanges, n.String())
		}
		for _, ep := range p.endpointsMap[spn] {
			s.Endpoints = append(s.Endpoints, svctraceEP{IP: ep.IP(), Port: ep.Port(), Local: ep.IsLocal(), Ready: ep.IsReady(), Serving: ep.IsServing(), Terminating: ep.IsTerminating()})
		}
		rec.Services = append(rec.Services, s)
	}
	sort.Slice(rec.Services, func(i, j int) bool {
		return rec.Services[i].Name+rec.Services[i].Protocol < rec.Services[j].Name+rec.Services[j].Protocol
	})
	rec.IPVSAdm["Ln"] = ipvsadmList(vss, ipvs, fmtDefault)
	rec.IPVSAdm["Sn"] = ipvsadmList(vss, ipvs, fmtRule)
	rec.IPVSAdm["Ln-stats"] = ipvsadmList(vss, ipvs, fmtStats)
	rec.IPVSAdm["Ln-rate"] = ipvsadmList(vss, ipvs, fmtRate)
	svctraceSeq.Lock()
	svctraceSeq.n[test]++
	rec.Seq = svctraceSeq.n[test]
	svctraceSeq.Unlock()
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		panic(err)
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(test, "_")
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%03d.json", name, rec.Seq)), append(b, '\n'), 0o644); err != nil {
		panic(err)
	}
}

func sets2list[T interface{ UnsortedList() []string }](s T) []string {
	l := s.UnsortedList()
	sort.Strings(l)
	return l
}

const (
	fmtDefault = iota
	fmtRule
	fmtStats
	fmtRate
)

// ipvsadmList prints the table as ipvsadm 1.31's list_all / print_title /
// print_service_entry do with -n (numeric), in the given format.
// Services are listed in the kernel's order, which for this fake is the
// order GetVirtualServers returns; ipvsadm prints the kernel's hash order,
// so order carries no meaning in either.
func ipvsadmList(vss []*utilipvs.VirtualServer, ipvs *ipvsutiltest.FakeIPVS, format int) string {
	var b strings.Builder
	sort.Slice(vss, func(i, j int) bool {
		a, c := vss[i], vss[j]
		if a.Protocol != c.Protocol {
			return a.Protocol < c.Protocol
		}
		if !a.Address.Equal(c.Address) {
			return a.Address.String() < c.Address.String()
		}
		return a.Port < c.Port
	})
	switch format {
	case fmtRule:
	case fmtStats:
		b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\n")
		fmt.Fprintf(&b, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case fmtRate:
		b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\n")
		fmt.Fprintf(&b, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	default:
		b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\n")
		b.WriteString("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
	for _, vs := range vss {
		addr := vs.Address.String()
		if vs.Address.To4() == nil {
			addr = "[" + addr + "]"
		}
		vname := fmt.Sprintf("%s:%d", addr, vs.Port)
		proto := strings.ToUpper(vs.Protocol)
		switch format {
		case fmtRule:
			sw := map[string]string{"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}[proto]
			svc := sw + " " + vname
			fmt.Fprintf(&b, "-A %s -s %s", svc, vs.Scheduler)
			if vs.Flags&utilipvs.FlagPersistent != 0 {
				fmt.Fprintf(&b, " -p %d", vs.Timeout)
			}
			b.WriteString("\n")
			rss, _ := ipvs.GetRealServers(vs)
			for _, rs := range sortReals(rss) {
				fmt.Fprintf(&b, "-a %s -r %s %s -w %d\n", svc, rsName(rs), "-m", rs.Weight)
			}
			continue
		case fmtStats, fmtRate:
			fmt.Fprintf(&b, "%-33s", fmt.Sprintf("%-4s %s", proto, vname))
			for i := 0; i < 5; i++ {
				fmt.Fprintf(&b, "%9d", 0)
			}
		default:
			fmt.Fprintf(&b, "%s %s", fmt.Sprintf("%-4s %s", proto, vname), vs.Scheduler)
			if vs.Flags&utilipvs.FlagSourceHash != 0 && vs.Scheduler == "mh" {
				b.WriteString(" (mh-port)")
			}
			if vs.Flags&utilipvs.FlagPersistent != 0 {
				fmt.Fprintf(&b, " persistent %d", vs.Timeout)
			}
		}
		b.WriteString("\n")
		rss, _ := ipvs.GetRealServers(vs)
		for _, rs := range sortReals(rss) {
			switch format {
			case fmtStats:
				fmt.Fprintf(&b, "  -> %-28s", rsName(rs))
				for i := 0; i < 5; i++ {
					fmt.Fprintf(&b, "%9d", 0)
				}
				b.WriteString("\n")
			case fmtRate:
				fmt.Fprintf(&b, "  -> %-28s %8d %8d %8d", rsName(rs), 0, 0, 0)
				fmt.Fprintf(&b, "%9d%9d\n", 0, 0)
			default:
				fmt.Fprintf(&b, "  -> %-28s %-7s %-6d %-10d %-10d\n", rsName(rs), "Masq", rs.Weight, rs.ActiveConn, rs.InactiveConn)
			}
		}
	}
	return b.String()
}

func sortReals(rss []*utilipvs.RealServer) []*utilipvs.RealServer {
	sort.Slice(rss, func(i, j int) bool { return rsName(rss[i]) < rsName(rss[j]) })
	return rss
}

func rsName(rs *utilipvs.RealServer) string {
	a := rs.Address.String()
	if rs.Address.To4() == nil {
		a = "[" + a + "]"
	}
	return fmt.Sprintf("%s:%d", a, rs.Port)
}

// TestSvctraceSeedShape drives the real IPVS proxier with Services and
// EndpointSlices shaped like the seed's `ipvsadm -Ln`: the default
// kubernetes Service, kube-dns (53/UDP, 53/TCP, 9153/TCP, two CoreDNS
// pods), a NodePort Service on 30080 (ClusterIP 10.107.159.92) and a
// ClusterIP Service (10.97.166.233), both port 80 to the same three pods,
// on a node with addresses on eth0, cni0 and flannel.1 (NodePorts are
// served on every one).
func TestSvctraceSeedShape(t *testing.T) {
	ipt := iptablestest.NewFake()
	ipvs := ipvsutiltest.NewFake()
	ipset := ipsettest.NewFake(testIPSetVersion)
	fp := NewFakeProxier(context.Background(), ipt, ipvs, ipset, []string{"192.168.49.2"}, nil, v1.IPv4Protocol)
	nl := fp.netlinkHandle.(*ipvstest.FakeNetlinkHandle)
	_ = nl.SetLocalAddresses("cni0", "10.244.0.1")
	_ = nl.SetLocalAddresses("flannel.1", "10.244.0.0")
	port := func(name string, p int32, proto v1.Protocol) v1.ServicePort {
		return v1.ServicePort{Name: name, Port: p, Protocol: proto}
	}
	svcs := []*v1.Service{
		makeTestService("default", "kubernetes", func(s *v1.Service) {
			s.Spec.ClusterIP = "10.96.0.1"
			s.Spec.Ports = []v1.ServicePort{port("https", 443, v1.ProtocolTCP)}
		}),
		makeTestService("kube-system", "kube-dns", func(s *v1.Service) {
			s.Spec.ClusterIP = "10.96.0.10"
			s.Spec.Ports = []v1.ServicePort{port("dns", 53, v1.ProtocolUDP), port("dns-tcp", 53, v1.ProtocolTCP), port("metrics", 9153, v1.ProtocolTCP)}
		}),
		makeTestService("default", "ngx-nodeport", func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.ClusterIP = "10.107.159.92"
			p := port("", 80, v1.ProtocolTCP)
			p.NodePort = 30080
			s.Spec.Ports = []v1.ServicePort{p}
		}),
		makeTestService("default", "ngx-dep-svc", func(s *v1.Service) {
			s.Spec.ClusterIP = "10.97.166.233"
			s.Spec.Ports = []v1.ServicePort{port("", 80, v1.ProtocolTCP)}
		}),
	}
	makeServiceMap(fp, svcs...)
	slice := func(ns, svc string, ips []string, ports ...discovery.EndpointPort) *discovery.EndpointSlice {
		return makeTestEndpointSlice(ns, svc, 1, func(eps *discovery.EndpointSlice) {
			eps.AddressType = discovery.AddressTypeIPv4
			for _, ip := range ips {
				eps.Endpoints = append(eps.Endpoints, discovery.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(testNodeName)})
			}
			eps.Ports = ports
		})
	}
	ep := func(name string, p int32, proto v1.Protocol) discovery.EndpointPort {
		return discovery.EndpointPort{Name: ptr.To(name), Port: ptr.To(p), Protocol: ptr.To(proto)}
	}
	ngx := []string{"10.244.0.5", "10.244.0.6", "10.244.0.7"}
	populateEndpointSlices(fp,
		slice("default", "kubernetes", []string{"192.168.49.2"}, ep("https", 8443, v1.ProtocolTCP)),
		slice("kube-system", "kube-dns", []string{"10.244.0.2", "10.244.0.3"},
			ep("dns", 53, v1.ProtocolUDP), ep("dns-tcp", 53, v1.ProtocolTCP), ep("metrics", 9153, v1.ProtocolTCP)),
		slice("default", "ngx-nodeport", ngx, ep("", 8080, v1.ProtocolTCP)),
		slice("default", "ngx-dep-svc", ngx, ep("", 8080, v1.ProtocolTCP)),
	)
	fp.syncProxyRules()
	vss, _ := ipvs.GetVirtualServers()
	if len(vss) != 10 { // 5 ClusterIP ports + NodePort on 3 addresses + ... (checked loosely)
		t.Logf("seed shape: %d virtual servers", len(vss))
	}
	_ = net.IPv4len
	_ = netutils.ParseIPSloppy
	_ = proxy.ServicePortName{}
}
GO
log "running kube-proxy ${K8S_VERSION:-v1.36.3}'s IPVS proxier tests with the recording hook (compiles the proxier; minutes when cold)"
# Tests that assert on the iptables text with the empty mark now fail; the
# states they synced are recorded all the same.
(cd "$work/mod" && SVCT_IPVS_OUT=$work/rec go test -mod=mod -count=1 k8s.io/kubernetes/pkg/proxy/ipvs >"$work/test.log" 2>&1) ||
  log "some upstream tests failed with the mark set ($(grep -c -- '^--- FAIL' "$work/test.log" || true) of them, as expected); their syncs are recorded"

# Keep one file per distinct state: many tests sync the same tables again.
rm -rf "$OUT"; mkdir -p "$OUT"
python3 - "$work/rec" "$work/keep" <<'PY'
import hashlib, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
seen = set()
for f in sorted(os.listdir(src)):
    r = json.load(open(os.path.join(src, f)))
    if not r["virtualServers"]:
        continue  # nothing for the evaluator: no IPVS services
    # the proxier writes rules in Go map order: compare them as sets
    vs = sorted(json.dumps(v, sort_keys=True) for v in r["virtualServers"])
    key = hashlib.sha256(json.dumps([vs, r["ipsets"], sorted(r["iptables"].splitlines())], sort_keys=True).encode()).hexdigest()
    if key in seen:
        continue
    seen.add(key)
    os.rename(os.path.join(src, f), os.path.join(dst, f))
PY
n=0
for f in "$work"/keep/*.json; do
  base=$OUT/$(basename "$f" .json)
  ns=$TAG-$n
  ip netns add "$ns"; netns_made+=("$ns")
  # ipsets, with kube-proxy's ipset runner arguments (CreateSet: the
  # defaults of setIPSetDefaults, then createSet; AddEntry)
  python3 - "$f" <<'PY' >"$work/ipset.sh"
import json, shlex, sys
r = json.load(open(sys.argv[1]))
for s in r["ipsets"]:
    s["hashSize"] = s["hashSize"] or 1024
    s["maxElem"] = s["maxElem"] or 65536
    s["family"] = s["family"] or "inet"
    s["portRange"] = s["portRange"] or "0-65535"
    args = ["create", s["name"], s["type"]]
    if s["type"] in ("hash:ip,port,ip", "hash:ip,port", "hash:ip,port,net", "hash:ip"):
        args += ["family", s["family"], "hashsize", str(s["hashSize"]), "maxelem", str(s["maxElem"])]
    if s["type"] == "bitmap:port":
        args += ["range", s["portRange"]]
    print("ipset " + " ".join(shlex.quote(a) for a in args))
    for e in s["entries"]:
        print("ipset add " + shlex.quote(s["name"]) + " " + shlex.quote(e))
PY
  ip netns exec "$ns" bash -e "$work/ipset.sh" || die "ipset rejected kube-proxy's sets of $(basename "$f")"
  # The fake keeps the jump rules kube-proxy adds with EnsureRule (one exec
  # argument per word, so a comment is one argument) joined with spaces;
  # quote those multi-word comments as iptables-save would, so the real
  # iptables-restore reads the same rule.
  python3 - "$f" <<'PY' >"$work/ipt"
import json, re, sys
out = []
for line in json.load(open(sys.argv[1]))["iptables"].splitlines():
    m = re.match(r'^(.* --comment )([^"].*?)( -[jg] .*)$', line)
    if m and " " in m.group(2):
        line = m.group(1) + '"' + m.group(2) + '"' + m.group(3)
    out.append(line)
sys.stdout.write("\n".join(out) + "\n")
PY
  fam=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["family"])' "$f")
  pfx=iptables
  [[ $fam == IPv6 ]] && pfx=ip6tables
  if ip netns exec "$ns" "$pfx-nft-restore" <"$work/ipt" 2>"$work/restore.err"; then
    ip netns exec "$ns" "$pfx-nft-save" | sed -E -e 's/^(# Generated by [^ ]* v[^ ]+ \([a-z_]+\)) on .*/\1/' -e 's/^# Completed on .*/# Completed on/' >"$base.iptables-save"
  elif grep -q -- '-m ipvs' "$work/ipt"; then
    # `-m ipvs` (KUBE-IPVS-OUT-FILTER, LoadBalancer source ranges) needs
    # the xt_ipvs module this kernel lacks: keep kube-proxy's own
    # iptables-restore input instead of a save.
    cp "$work/ipt" "$base.iptables-restore"
  else
    cat "$work/restore.err" >&2
    die "$pfx-nft-restore rejected kube-proxy's rules of $(basename "$f")"
  fi
  ip netns exec "$ns" ipset save | sed -E 's/ initval 0x[0-9a-f]+//' >"$base.ipset-save"
  ip netns exec "$ns" ipset list | sed -E 's/ initval 0x[0-9a-f]+//' >"$base.ipset-list"
  ip netns del "$ns"
  python3 - "$f" "$base" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for form, text in r.pop("ipvsadm").items():
    open(sys.argv[2] + ".ipvsadm-" + form, "w").write(text)
json.dump(r, open(sys.argv[2] + ".json", "w"), indent=1)
open(sys.argv[2] + ".json", "a").write("\n")
PY
  n=$((n + 1))
done
log "recorded $n distinct IPVS states (ipvsadm -Ln/-Sn/--stats/--rate, ipset save/list, iptables-save) in $OUT"
