package rules

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// addIPVS merges an ipvsadm dump into the evaluator's IPVS table. Several
// forms of the same node's table may be given (-Ln and --stats, say): a
// service keeps the scheduler, flags and weights of whichever form shows
// them.
func (e *evaluator) addIPVS(rs *Ruleset) {
	if e.ipvs == nil {
		e.ipvs = &IPVSTable{Form: rs.IPVS.Form, Version: rs.IPVS.Version}
	}
	for _, s := range rs.IPVS.Services {
		if s.Addr.IsValid() && s.Addr.Is4() != (e.family == IPv4) {
			continue
		}
		var prev *IPVSService
		for _, p := range e.ipvs.Services {
			if p.Key() == s.Key() {
				prev = p
			}
		}
		switch {
		case prev == nil:
			e.ipvs.Services = append(e.ipvs.Services, s)
		case prev.Scheduler == "" && s.Scheduler != "":
			*prev = *s
		case prev.Scheduler != "" && s.Scheduler != "" && prev.String() != s.String():
			e.warn(Warning{Source: rs.Source, Line: s.Line, Message: fmt.Sprintf(
				"IPVS service %s differs from the one given earlier (%s); the first is used", s, prev)})
		}
	}
}

// schedulerChoice says how IPVS's scheduler picks the real server of a new
// connection (net/netfilter/ipvs/ip_vs_*.c): with known shares for rr
// (each in turn), wrr (by weight) and fo (the heaviest), or by state or
// by the packet for the others — then there is no probability to give.
func schedulerChoice(sched string) (known bool, how string) {
	switch sched {
	case "rr":
		return true, "round robin: each real server in turn, an equal share of new connections"
	case "wrr":
		return true, "weighted round robin: new connections in proportion to weight"
	case "fo":
		return true, "weighted failover: the available real server of highest weight"
	case "lc":
		return false, "lc (least-connection) picks by the real servers' current connection counts"
	case "wlc":
		return false, "wlc (weighted least-connection) picks by current connections per weight"
	case "sed":
		return false, "sed (shortest expected delay) picks by current connections and weight"
	case "nq":
		return false, "nq (never queue) picks an idle server, else by expected delay"
	case "lblc", "lblcr":
		return false, sched + " (locality-based least-connection) picks by destination address and load"
	case "sh":
		return false, "sh (source hashing) picks by a hash of the client address"
	case "dh":
		return false, "dh (destination hashing) picks by a hash of the destination address"
	case "mh":
		return false, "mh (maglev hashing) picks by a hash of the client address (and port with mh-port)"
	case "ovf":
		return false, "ovf (overflow) picks by current connections against weight"
	case "twos":
		return false, "twos (weighted random twos choice) picks by current connections"
	case "":
		return false, "the scheduler is not shown by this ipvsadm form (--stats/--rate); give ipvsadm -Ln"
	}
	return false, sched + " scheduler: its choice is not modelled"
}

// ipvsStep runs the IPVS hook: look up the virtual service of the packet's
// destination (ip_vs_service_find: protocol, address, port; or a firewall
// mark), schedule a real server, and NAT to it. The packet then leaves
// through LOCAL_OUT and POSTROUTING to the real server (ip_vs_nat_xmit),
// where iptables' KUBE-POSTROUTING masquerades it when kube-proxy's rules
// marked it (or its KUBE-LOOP-BACK set matches a hairpin).
func (e *evaluator) ipvsStep(m *machine) []*machine {
	m.ipvsPending = false
	proto := map[uint32]string{protoTCP: "TCP", protoUDP: "UDP", protoSCTP: "SCTP"}[e.proto]
	var svc *IPVSService
	for _, s := range e.ipvs.Services {
		if (s.Proto == proto && s.Addr == m.dst && s.Port == m.dport) || (s.Proto == "FWM" && s.FWMark != 0 && s.FWMark == m.mark) {
			svc = s
			break
		}
	}
	if svc == nil {
		return nil
	}
	hookName := "LOCAL_IN"
	if m.hook == hOut {
		hookName = "LOCAL_OUT"
	}
	step := Step{Source: e.ipvsSource(svc), Table: "ipvs", Chain: svc.Key(), Line: svc.Line, Raw: svc.String(),
		Action: fmt.Sprintf("virtual service %s (IPVS at %s)", svc, hookName)}
	var eligible []IPVSReal
	for _, r := range svc.Reals {
		// weight 0: quiesced (kube-proxy's graceful termination); no new
		// connections (IP_VS_DEST_F_OVERLOAD aside, not in dumps)
		if r.Weight != 0 {
			eligible = append(eligible, r)
		}
	}
	m.steps = append(m.steps, step)
	if len(eligible) == 0 {
		why := "no real server"
		if len(svc.Reals) > 0 {
			why = "every real server has weight 0 (draining)"
		}
		// ip_vs_leave: no destination — ICMP port unreachable, drop.
		m.steps = append(m.steps, Step{Source: step.Source, Table: "ipvs", Chain: svc.Key(), Line: svc.Line,
			Action: why + ": IPVS answers ICMP port unreachable (REJECT)"})
		m.verdict = VerdictReject
		m.finished = true
		return nil
	}
	known, how := schedulerChoice(svc.Scheduler)
	weights := map[int]int{}
	total := 0
	for i, r := range eligible {
		w := 1
		if svc.Scheduler == "wrr" || svc.Scheduler == "fo" {
			w = r.Weight
			if w < 0 {
				known, how = false, svc.Scheduler+" needs the weights, which this ipvsadm form does not show"
			}
		}
		weights[i] = w
		total += w
	}
	if svc.Scheduler == "fo" && known {
		best := 0
		for i, r := range eligible {
			if r.Weight > eligible[best].Weight {
				best = i
			}
		}
		for i := range eligible {
			weights[i] = 0
		}
		weights[best], total = 1, 1
	}
	var out []*machine
	dstep := len(m.steps)
	add := func(c *machine, r IPVSReal, label string, p *big.Rat, sticky bool) {
		c.decisions = append(c.decisions, decision{step: dstep, label: label, prob: p})
		if sticky {
			c.sticky = true
			c.conditions = append(c.conditions, label)
		} else if p != nil {
			c.prob = new(big.Rat).Mul(c.prob, p)
		} else {
			c.choice = how
			c.conditions = append(c.conditions, how)
		}
		e.ipvsNAT(c, svc, r)
		out = append(out, c)
	}
	for i, r := range eligible {
		if known && weights[i] == 0 {
			continue
		}
		var p *big.Rat
		label := fmt.Sprintf("%s -> %s", svc.Key(), r)
		if known {
			p = big.NewRat(int64(weights[i]), int64(total))
			label += fmt.Sprintf(" (%s: %s)", svc.Scheduler, ratString(p))
		} else {
			label += " (" + strings.SplitN(how, " ", 2)[0] + ")"
		}
		add(m.clone(), r, label, p, false)
	}
	if svc.Persistent {
		for _, r := range eligible {
			label := fmt.Sprintf("%s persistent %ds: the client has a persistence template for %s", svc.Key(), svc.Timeout, r)
			add(m.clone(), r, label, nil, true)
		}
	}
	return out
}

func (e *evaluator) ipvsSource(svc *IPVSService) string {
	for _, rs := range e.in.Rulesets {
		if rs != nil && rs.IPVS != nil {
			for _, s := range rs.IPVS.Services {
				if s == svc {
					return rs.Source
				}
			}
		}
	}
	return ""
}

// ipvsNAT sends m to real server r of svc.
func (e *evaluator) ipvsNAT(m *machine, svc *IPVSService, r IPVSReal) {
	fwd := r.Forward
	if fwd == "" {
		fwd = "Masq"
	}
	act := fmt.Sprintf("IPVS %s to %s", strings.ToLower(fwd), r)
	switch fwd {
	case "Masq", "Local":
		m.dst, m.dport = r.Addr, r.Port
	default:
		// Direct routing and tunnelling hand the unchanged packet to
		// the real server; kube-proxy never programs them.
		e.warn(Warning{Source: e.ipvsSource(svc), Line: r.Line, Table: "ipvs", Chain: svc.Key(),
			Message: "forwarding method " + fwd + " is not modelled beyond naming the real server"})
		m.uncertain = true
	}
	m.dnat = true
	m.dnatTo = netip.AddrPortFrom(r.Addr, r.Port).String()
	m.dnatChain = svc.Key()
	m.natInit[0] = true
	m.ipvsDone = true
	m.steps = append(m.steps, Step{Source: e.ipvsSource(svc), Table: "ipvs", Chain: svc.Key(), Line: r.Line, Raw: "-> " + r.String(), Action: act})
	if m.hook == hOut {
		// ip_vs_local_request: the locally sent packet goes on through
		// LOCAL_OUT and POSTROUTING, routed to the real server.
		m.loopback = e.isLocal(m.dst)
		e.setOutIface(m)
		return
	}
	if e.isLocal(r.Addr) && fwd != "Route" {
		// A local real server (a hostNetwork endpoint): delivered
		// locally, the rest of LOCAL_IN continues.
		return
	}
	// ip_vs_nat_xmit: routed to the real server and sent through
	// LOCAL_OUT and POSTROUTING. The rest of LOCAL_IN never runs, its
	// source NAT hook (priority 100, after IPVS's 98) included, so the
	// source binding is made at POSTROUTING.
	m.inHook = false
	m.entries = m.entries[:0]
	m.stages = append(m.stages[:m.stageIdx:m.stageIdx], stage{hook: hOut}, stage{hook: hPost})
	m.loopback = false
	e.setOutIface(m)
}
