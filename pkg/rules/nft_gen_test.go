package rules

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// nftGenOpts sizes a generated kube-proxy nftables ruleset.
type nftGenOpts struct {
	services  int // service ports
	endpoints int // endpoints per service port
	// nodePortEvery gives every n-th service a NodePort, affinityEvery
	// ClientIP affinity (per-endpoint chains and sets), localEvery makes
	// every n-th endpoint local (a hairpin-connections element); 0: none.
	nodePortEvery, affinityEvery, localEvery int
}

// genNFT writes what `nft list ruleset` and `nft -j list ruleset` print
// for kube-proxy's nftables mode (v1.36, syncProxyRules in
// pkg/proxy/nftables/proxier.go) programming the given services: the fixed
// chains, sets and maps, and per service port the cluster-ips and
// service-ips elements, its service- chain with the numgen DNAT map (or,
// with affinity, an endpoint- chain and affinity- set per endpoint and a
// numgen vmap), and for NodePorts the external- chain and service-nodeports
// element. It is the input of the scaling benchmark; the semantics tests use
// the real rulesets under testdata/. TestNFTGenLikeKernel checks its output
// against what the kernel lists back for the same transaction.
func genNFT(o nftGenOpts) (text, js string, svcs []genService) {
	type obj = map[string]any
	var objs []obj
	objs = append(objs, obj{"metainfo": obj{"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}})
	objs = append(objs, obj{"table": obj{"family": "ip", "name": "kube-proxy", "handle": 1}})
	handle := 2
	h := func() int { handle++; return handle }
	payload := func(p, f string) obj { return obj{"payload": obj{"protocol": p, "field": f}} }
	meta := func(k string) obj { return obj{"meta": obj{"key": k}} }
	match := func(op string, l, r any) obj { return obj{"match": obj{"op": op, "left": l, "right": r}} }
	concat := func(xs ...any) obj { return obj{"concat": xs} }
	rules := map[string][]obj{}
	var order []string
	chain := func(name string, base obj) {
		c := obj{"family": "ip", "table": "kube-proxy", "name": name, "handle": h()}
		for k, v := range base {
			c[k] = v
		}
		objs = append(objs, obj{"chain": c})
		order = append(order, name)
	}
	rule := func(ch string, comment string, expr ...obj) {
		r := obj{"family": "ip", "table": "kube-proxy", "chain": ch, "handle": h(), "expr": expr}
		if comment != "" {
			r["comment"] = comment
		}
		rules[ch] = append(rules[ch], r)
	}
	var t strings.Builder
	t.Grow(o.services * (200 + o.endpoints*40))

	// per service data
	var clusterIPs []string
	var serviceIPs, nodePorts []string // text elements
	var serviceIPsJ, nodePortsJ []any
	var hairpin []string
	var hairpinJ []any
	type chainText struct{ name, body string }
	var svcChains []chainText
	var affSets []string
	epIdx := 0
	for i := 0; i < o.services; i++ {
		s := genService{spn: ServicePortName(fmt.Sprintf("ns-%d", i/50), fmt.Sprintf("svc-%d", i), "http"), port: 80 + i%3}
		s.clusterIP = netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
		if o.nodePortEvery > 0 && i%o.nodePortEvery == 0 {
			s.nodePort = 30000 + i%2768
		}
		s.affinity = o.affinityEvery > 0 && i%o.affinityEvery == 0
		var ips []netip.Addr
		for j := 0; j < o.endpoints; j++ {
			ip := netip.AddrFrom4([4]byte{10, byte(128 + epIdx>>16), byte(epIdx >> 8), byte(epIdx)})
			if o.localEvery > 0 && epIdx%o.localEvery == 0 {
				hairpin = append(hairpin, fmt.Sprintf("%s . %s . tcp . 8080", ip, ip))
				hairpinJ = append(hairpinJ, concat(ip.String(), ip.String(), "tcp", 8080))
			}
			epIdx++
			ips = append(ips, ip)
			s.eps = append(s.eps, EndpointString(ip.String(), 8080))
		}
		sort.Strings(s.eps)
		sort.Slice(ips, func(a, b int) bool {
			return EndpointString(ips[a].String(), 8080) < EndpointString(ips[b].String(), 8080)
		})
		ns, name := fmt.Sprintf("ns-%d", i/50), fmt.Sprintf("svc-%d", i)
		base := NFTServiceChainBase(ns, name, "tcp", "http")
		svcChain := NFTPrefixService + base
		s.svcChain = svcChain
		clusterIPs = append(clusterIPs, s.clusterIP.String())
		serviceIPs = append(serviceIPs, fmt.Sprintf("%s . tcp . %d : goto %s", s.clusterIP, s.port, svcChain))
		serviceIPsJ = append(serviceIPsJ, []any{concat(s.clusterIP.String(), "tcp", s.port), obj{"goto": obj{"target": svcChain}}})
		var body strings.Builder
		if !s.affinity {
			var ms []string
			var mj []any
			for k, ip := range ips {
				ms = append(ms, fmt.Sprintf("%d : %s . 8080", k, ip))
				mj = append(mj, []any{k, concat(ip.String(), 8080)})
			}
			fmt.Fprintf(&body, "\t\tmeta l4proto tcp dnat ip to numgen random mod %d map { %s }\n", len(ips), strings.Join(ms, ", "))
			chain(svcChain, nil)
			rule(svcChain, "", match("==", meta("l4proto"), "tcp"),
				obj{"dnat": obj{"family": "ip", "addr": obj{"map": obj{"key": obj{"numgen": obj{"mode": "random", "mod": len(ips), "offset": 0}}, "data": obj{"set": mj}}}}})
		} else {
			chain(svcChain, nil)
			var vs []string
			var vj []any
			for k, ip := range ips {
				eb := NFTEndpointChainBase(ns, name, "tcp", "http", EndpointString(ip.String(), 8080))
				epc, aff := NFTPrefixEndpoint+eb, NFTPrefixAffinity+eb
				s.sepChains = append(s.sepChains, epc)
				fmt.Fprintf(&body, "\t\tip saddr @%s goto %s\n", aff, epc)
				rule(svcChain, "", match("==", payload("ip", "saddr"), "@"+aff), obj{"goto": obj{"target": epc}})
				vs = append(vs, fmt.Sprintf("%d : goto %s", k, epc))
				vj = append(vj, []any{k, obj{"goto": obj{"target": epc}}})
				affSets = append(affSets, aff)
				svcChains = append(svcChains, chainText{epc, fmt.Sprintf("\t\tupdate @%s { ip saddr }\n\t\tmeta l4proto tcp dnat to %s:8080\n", aff, ip)})
				chain(epc, nil)
				rule(epc, "", obj{"set": obj{"op": "update", "elem": payload("ip", "saddr"), "set": "@" + aff}})
				rule(epc, "", match("==", meta("l4proto"), "tcp"), obj{"dnat": obj{"family": "ip", "addr": ip.String(), "port": 8080}})
			}
			fmt.Fprintf(&body, "\t\tnumgen random mod %d vmap { %s }\n", len(ips), strings.Join(vs, ", "))
			rule(svcChain, "", obj{"vmap": obj{"key": obj{"numgen": obj{"mode": "random", "mod": len(ips), "offset": 0}}, "data": obj{"set": vj}}})
		}
		svcChains = append(svcChains, chainText{svcChain, body.String()})
		if s.nodePort != 0 {
			ext := NFTPrefixExternal + base
			s.extChain = ext
			nodePorts = append(nodePorts, fmt.Sprintf("tcp . %d : goto %s", s.nodePort, ext))
			nodePortsJ = append(nodePortsJ, []any{concat("tcp", s.nodePort), obj{"goto": obj{"target": ext}}})
			svcChains = append(svcChains, chainText{ext, fmt.Sprintf("\t\tmeta mark set meta mark | 0x00004000 comment \"masquerade\"\n\t\tgoto %s\n", svcChain)})
			chain(ext, nil)
			rule(ext, "masquerade", obj{"mangle": obj{"key": meta("mark"), "value": obj{"|": []any{meta("mark"), 16384}}}})
			rule(ext, "", obj{"goto": obj{"target": svcChain}})
		}
		svcs = append(svcs, s)
	}

	// The fixed part (nft:468-687), the same in every kube-proxy table.
	vmap := func(key obj, m string) obj { return obj{"vmap": obj{"key": key, "data": "@" + m}} }
	daddrProtoPort := concat(payload("ip", "daddr"), meta("l4proto"), payload("th", "dport"))
	protoPort := concat(meta("l4proto"), payload("th", "dport"))
	newJump := func(to string) []obj {
		return []obj{match("in", obj{"ct": obj{"key": "state"}}, "new"), {"jump": obj{"target": to}}}
	}
	chain("cluster-ips-check", nil)
	rule("cluster-ips-check", "Reject traffic to invalid ports of ClusterIPs", match("==", payload("ip", "daddr"), "@cluster-ips"), obj{"reject": obj{"type": "icmp", "expr": "port-unreachable"}})
	rule("cluster-ips-check", "Drop traffic to unallocated ClusterIPs", match("==", payload("ip", "daddr"), obj{"prefix": obj{"addr": "10.96.0.0", "len": 16}}), obj{"drop": nil})
	base := func(typ, hook string, prio int) obj {
		return obj{"type": typ, "hook": hook, "prio": prio, "policy": "accept"}
	}
	chain("filter-forward", base("filter", "forward", 0))
	rule("filter-forward", "", newJump("service-endpoints-check")...)
	rule("filter-forward", "", newJump("cluster-ips-check")...)
	chain("filter-input", base("filter", "input", 0))
	rule("filter-input", "", newJump("nodeport-endpoints-check")...)
	rule("filter-input", "", newJump("service-endpoints-check")...)
	chain("filter-output", base("filter", "output", 0))
	rule("filter-output", "", newJump("service-endpoints-check")...)
	rule("filter-output", "", newJump("cluster-ips-check")...)
	chain("filter-output-pre-dnat", base("filter", "output", -110))
	rule("filter-output-pre-dnat", "", newJump("firewall-check")...)
	chain("filter-prerouting-pre-dnat", base("filter", "prerouting", -110))
	rule("filter-prerouting-pre-dnat", "", newJump("firewall-check")...)
	chain("firewall-check", nil)
	rule("firewall-check", "", vmap(daddrProtoPort, "firewall-ips"))
	chain("masquerading", nil)
	rule("masquerading", "", match("!=", obj{"&": []any{meta("mark"), 16384}}, 0),
		obj{"mangle": obj{"key": meta("mark"), "value": obj{"^": []any{meta("mark"), 16384}}}}, obj{"masquerade": obj{"flags": "fully-random"}})
	rule("masquerading", "", match("in", obj{"ct": obj{"key": "status"}}, "dnat"),
		match("==", concat(payload("ip", "saddr"), payload("ip", "daddr"), meta("l4proto"), payload("th", "dport")), "@hairpin-connections"),
		obj{"masquerade": obj{"flags": "fully-random"}})
	chain("nat-output", base("nat", "output", -100))
	rule("nat-output", "", obj{"jump": obj{"target": "services"}})
	chain("nat-postrouting", base("nat", "postrouting", 100))
	rule("nat-postrouting", "", obj{"jump": obj{"target": "masquerading"}})
	chain("nat-prerouting", base("nat", "prerouting", -100))
	rule("nat-prerouting", "", obj{"jump": obj{"target": "services"}})
	chain("nodeport-endpoints-check", nil)
	rule("nodeport-endpoints-check", "", match("==", payload("ip", "daddr"), "@nodeport-ips"), vmap(protoPort, "no-endpoint-nodeports"))
	chain("reject-chain", nil)
	rule("reject-chain", "", obj{"reject": obj{"type": "icmp", "expr": "port-unreachable"}})
	chain("service-endpoints-check", nil)
	rule("service-endpoints-check", "", vmap(daddrProtoPort, "no-endpoint-services"))
	chain("services", nil)
	rule("services", "masquerade clusterIP traffic from outside cluster", match("==", payload("ip", "daddr"), "@cluster-ips"),
		match("!=", payload("ip", "saddr"), obj{"prefix": obj{"addr": "10.128.0.0", "len": 10}}),
		obj{"mangle": obj{"key": meta("mark"), "value": obj{"|": []any{meta("mark"), 16384}}}})
	rule("services", "", vmap(daddrProtoPort, "service-ips"))
	rule("services", "", match("==", payload("ip", "daddr"), "@nodeport-ips"), vmap(protoPort, "service-nodeports"))

	set := func(name, typ, comment string, elems []any, isMap bool, flags ...string) {
		s := obj{"family": "ip", "name": name, "table": "kube-proxy", "handle": h()}
		if strings.Contains(typ, " . ") {
			s["type"] = strings.Split(typ, " . ")
		} else {
			s["type"] = typ
		}
		if comment != "" {
			s["comment"] = comment
		}
		if len(flags) > 0 {
			s["flags"] = flags
			s["timeout"] = 10800
		}
		if len(elems) > 0 {
			s["elem"] = elems
		}
		kind := "set"
		if isMap {
			kind = "map"
			s["map"] = "verdict"
		}
		objs = append(objs, obj{kind: s})
	}
	var cipJ []any
	for _, c := range clusterIPs {
		cipJ = append(cipJ, c)
	}
	for _, a := range affSets {
		set(a, "ipv4_addr", "", nil, false, "dynamic", "timeout")
	}
	set("cluster-ips", "ipv4_addr", "Active ClusterIPs", cipJ, false)
	set("hairpin-connections", "ipv4_addr . ipv4_addr . inet_proto . inet_service", "service hairpin connections", hairpinJ, false)
	set("nodeport-ips", "ipv4_addr", "IPs that accept NodePort traffic", []any{"10.250.0.10"}, false)
	set("firewall-ips", "ipv4_addr . inet_proto . inet_service", "destinations that are subject to LoadBalancerSourceRanges", nil, true)
	set("no-endpoint-nodeports", "inet_proto . inet_service", "vmap to drop or reject packets to service nodeports with no endpoints", nil, true)
	set("no-endpoint-services", "ipv4_addr . inet_proto . inet_service", "vmap to drop or reject packets to services with no endpoints", nil, true)
	set("service-ips", "ipv4_addr . inet_proto . inet_service", "ClusterIP, ExternalIP and LoadBalancer IP traffic", serviceIPsJ, true)
	set("service-nodeports", "inet_proto . inet_service", "NodePort traffic", nodePortsJ, true)
	for _, c := range order {
		for _, r := range rules[c] {
			objs = append(objs, obj{"rule": r})
		}
	}
	b, err := json.Marshal(obj{"nftables": objs})
	if err != nil {
		panic(err)
	}

	// Text, in nft list ruleset's layout.
	elements := func(es []string) string {
		if len(es) == 0 {
			return ""
		}
		return "\t\telements = { " + strings.Join(es, ",\n\t\t\t     ") + " }\n"
	}
	t.WriteString("table ip kube-proxy {\n\tcomment \"rules for kube-proxy\"\n")
	for _, a := range affSets {
		fmt.Fprintf(&t, "\tset %s {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n\t}\n\n", a)
	}
	fmt.Fprintf(&t, "\tset cluster-ips {\n\t\ttype ipv4_addr\n\t\tcomment \"Active ClusterIPs\"\n%s\t}\n\n", elements(clusterIPs))
	fmt.Fprintf(&t, "\tset hairpin-connections {\n\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service\n\t\tcomment \"service hairpin connections\"\n%s\t}\n\n", elements(hairpin))
	fmt.Fprintf(&t, "\tset nodeport-ips {\n\t\ttype ipv4_addr\n\t\tcomment \"IPs that accept NodePort traffic\"\n%s\t}\n\n", elements([]string{"10.250.0.10"}))
	for _, m := range [][3]string{
		{"firewall-ips", "ipv4_addr . inet_proto . inet_service", "destinations that are subject to LoadBalancerSourceRanges"},
		{"no-endpoint-nodeports", "inet_proto . inet_service", "vmap to drop or reject packets to service nodeports with no endpoints"},
		{"no-endpoint-services", "ipv4_addr . inet_proto . inet_service", "vmap to drop or reject packets to services with no endpoints"},
	} {
		fmt.Fprintf(&t, "\tmap %s {\n\t\ttype %s : verdict\n\t\tcomment \"%s\"\n\t}\n\n", m[0], m[1], m[2])
	}
	fmt.Fprintf(&t, "\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t\tcomment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\"\n%s\t}\n\n", elements(serviceIPs))
	fmt.Fprintf(&t, "\tmap service-nodeports {\n\t\ttype inet_proto . inet_service : verdict\n\t\tcomment \"NodePort traffic\"\n%s\t}\n\n", elements(nodePorts))
	t.WriteString(`	chain cluster-ips-check {
		ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
		ip daddr 10.96.0.0/16 drop comment "Drop traffic to unallocated ClusterIPs"
	}

	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}

	chain filter-input {
		type filter hook input priority filter; policy accept;
		ct state new jump nodeport-endpoints-check
		ct state new jump service-endpoints-check
	}

	chain filter-output {
		type filter hook output priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}

	chain filter-output-pre-dnat {
		type filter hook output priority -110; policy accept;
		ct state new jump firewall-check
	}

	chain filter-prerouting-pre-dnat {
		type filter hook prerouting priority dstnat - 10; policy accept;
		ct state new jump firewall-check
	}

	chain firewall-check {
		ip daddr . meta l4proto . th dport vmap @firewall-ips
	}

	chain masquerading {
		meta mark & 0x00004000 != 0x00000000 meta mark set meta mark ^ 0x00004000 masquerade fully-random
		ct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random
	}

	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}

	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}

	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}

	chain nodeport-endpoints-check {
		ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
	}

	chain reject-chain {
		comment "helper for @no-endpoint-services / @no-endpoint-nodeports"
		reject
	}

	chain service-endpoints-check {
		ip daddr . meta l4proto . th dport vmap @no-endpoint-services
	}

	chain services {
		ip daddr @cluster-ips ip saddr != 10.128.0.0/10 meta mark set meta mark | 0x00004000 comment "masquerade clusterIP traffic from outside cluster"
		ip daddr . meta l4proto . th dport vmap @service-ips
		ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
	}
`)
	sort.SliceStable(svcChains, func(i, j int) bool { return svcChains[i].name < svcChains[j].name })
	for _, c := range svcChains {
		fmt.Fprintf(&t, "\n\tchain %s {\n%s\t}\n", c.name, c.body)
	}
	t.WriteString("}\n")
	return t.String(), string(b), svcs
}
