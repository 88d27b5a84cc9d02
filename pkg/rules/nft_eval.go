package rules

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// Evaluation of nftables chains, inside the same walk as iptables (see
// Evaluate): a base chain is entered at its hook and priority, rules run
// statement by statement as nf_tables does (nft_do_chain: a statement
// that does not match ends the rule; verdicts jump, goto, return, accept,
// drop), and NAT statements end the base chain with an implicit accept,
// as NF_ACCEPT does. `numgen random mod N` forks the walk N ways with
// probability 1/N each, which is how kube-proxy's nftables mode balances
// (`dnat ... to numgen random mod N map { ... }`, `numgen ... vmap`).
//
// It mirrors, for the whole node, kube-proxy's own nftables tracer
// (nftablesTracer in pkg/proxy/nftables/helpers_test.go), with exact
// probabilities and every statement kube-proxy writes understood rather
// than pattern-matched.

// nframe is a position in an nft chain: the rule and, within it, the
// statement (a forked statement runs again in each branch).
type nframe struct {
	ch   *NFTChain
	rule int
	stmt int
}

// nres is what running one statement did.
type nres uint8

const (
	nCont   nres = iota // go on with the next statement
	nBreak              // the rule does not match: next rule
	nDone               // a verdict moved the walk (or finished it)
	nFork               // the statement's value is a choice: fork
	nAbsent             // the packet has no such field: no match
)

// nfork is a choice a statement needs made: n alternatives with their
// probabilities (nil = uniform) and labels.
type nfork struct {
	n      int
	probs  []*big.Rat
	labels []string
}

func (e *evaluator) nftSource(c *NFTChain) string {
	if c.table != nil && c.table.rs != nil {
		return c.table.rs.Source
	}
	return ""
}

func (e *evaluator) nftWarnRule(r *NFTRule, msg string) {
	c := r.chain
	e.warn(Warning{Source: e.nftSource(c), Line: r.Line, Table: c.table.String(), Chain: c.Name, Rule: r.Num, Message: msg})
}

// nftStep runs the current nft rule (from the frame's statement) and
// returns the alternatives when a statement forks the walk.
func (e *evaluator) nftStep(m *machine) []*machine {
	f := &m.nstack[len(m.nstack)-1]
	if f.rule >= len(f.ch.Rules) {
		e.nftReturn(m)
		return nil
	}
	r := f.ch.Rules[f.rule]
	if f.stmt == 0 {
		m.nacts = m.nacts[:0]
		m.nsave = [2]uint32{m.mark, m.ctmark}
		if len(r.bad) > 0 {
			e.nftUnknownRule(m, r, strings.Join(r.bad, "; "))
			f.rule++
			return nil
		}
	}
	for f.stmt < len(r.stmts) {
		s := &r.stmts[f.stmt]
		res, fk, why := e.nftExec(m, r, s)
		if why != "" {
			// Undecidable: like an iptables rule with an unknown match,
			// never a match unless a later condition rules it out anyway.
			m.mark, m.ctmark = m.nsave[0], m.nsave[1]
			m.nacts = m.nacts[:0]
			e.nftUnknownRule(m, r, why)
			f = &m.nstack[len(m.nstack)-1]
			f.rule++
			f.stmt = 0
			return nil
		}
		switch res {
		case nCont:
			f.stmt++
		case nBreak, nAbsent:
			f.rule++
			f.stmt = 0
			return nil
		case nDone:
			return nil
		case nFork:
			return e.nftFork(m, r, fk)
		}
	}
	// The rule ran to its end without a verdict.
	e.nftEmit(m, r, "")
	f.rule++
	f.stmt = 0
	return nil
}

// nftUnknownRule reports a rule the evaluator cannot decide, unless one
// of its plain comparisons definitely fails for the packet (then the rule
// simply does not match, as for an iptables rule).
func (e *evaluator) nftUnknownRule(m *machine, r *NFTRule, why string) {
	for i := range r.stmts {
		s := &r.stmts[i]
		if s.kind != stMatch {
			continue
		}
		if s.op == "never" {
			return
		}
		ok, w, fk := e.nftMatch(m, r, s)
		if fk == nil && w == "" && !ok {
			return
		}
	}
	m.uncertain = true
	e.nftWarnRule(r, "not evaluated, treated as not matching: "+why)
}

// nftFork splits m at the current statement into its alternatives.
func (e *evaluator) nftFork(m *machine, r *NFTRule, fk *nfork) []*machine {
	var out []*machine
	step := len(m.steps)
	prefix := fmt.Sprintf("%s rule %d: ", r.chain.Name, r.Num)
	for i := 0; i < fk.n; i++ {
		c := m
		if i < fk.n-1 {
			c = m.clone()
		}
		p := big.NewRat(1, int64(fk.n))
		if fk.probs != nil {
			p = fk.probs[i]
		}
		if p.Sign() == 0 {
			continue
		}
		c.prob = new(big.Rat).Mul(c.prob, p)
		c.decisions = append(c.decisions, decision{step: step, label: prefix + fk.labels[i], prob: p})
		c.nchoice = i
		out = append(out, c)
	}
	// The last alternative reuses m; order them as the choices go.
	return out
}

// nftReturn leaves the current chain: back to the caller, or at the base
// chain to its policy.
func (e *evaluator) nftReturn(m *machine) {
	m.nstack = m.nstack[:len(m.nstack)-1]
	if len(m.nstack) > 0 {
		return
	}
	c := m.cur.nc
	if c.Policy == "drop" {
		m.steps = append(m.steps, Step{Source: e.nftSource(c), Table: c.table.String(), Chain: c.Name, Line: c.Line, Action: "policy drop"})
		m.verdict = VerdictDrop
		m.finished = true
	}
	e.endTable(m)
}

// nftEmit records the rule as a step, with what it did.
func (e *evaluator) nftEmit(m *machine, r *NFTRule, verdict string) {
	acts := m.nacts
	if verdict != "" {
		acts = append(acts, verdict)
	}
	m.nacts = m.nacts[:0]
	if len(acts) == 0 {
		return
	}
	c := r.chain
	m.steps = append(m.steps, Step{Source: e.nftSource(c), Table: c.table.String(), Chain: c.Name, Rule: r.Num, Line: r.Line,
		Raw: r.Text, Action: strings.Join(acts, "; ")})
}

// nftExec runs one statement.
func (e *evaluator) nftExec(m *machine, r *NFTRule, s *nstmt) (nres, *nfork, string) {
	switch s.kind {
	case stMatch:
		ok, why, fk := e.nftMatch(m, r, s)
		switch {
		case fk != nil:
			return nFork, fk, ""
		case why != "":
			return 0, nil, why
		case !ok:
			return nBreak, nil, ""
		}
		return nCont, nil, ""
	case stVmap:
		key, why, fk, absent := e.nftValues(m, s.left)
		switch {
		case fk != nil:
			return nFork, fk, ""
		case why != "":
			return 0, nil, why
		case absent:
			return nBreak, nil, ""
		}
		idx, name := e.nftIndex(r.chain.table, s.right)
		i := idx.lookup(key)
		if i < 0 {
			return nBreak, nil, ""
		}
		v := idx.data[i]
		if v == nil {
			return 0, nil, "vmap element without a verdict"
		}
		m.nacts = append(m.nacts, fmt.Sprintf("%s %s -> %s", name, nkeyText(key), nftVerdictText(v)))
		return e.nftVerdict(m, r, v, true), nil, ""
	case stVerdict:
		return e.nftVerdict(m, r, s, false), nil, ""
	case stReject:
		act := "reject"
		if s.s != "" {
			act += " with " + s.s
		}
		e.nftEmit(m, r, act)
		m.verdict = VerdictReject
		m.finished = true
		return nDone, nil, ""
	case stNAT:
		return e.nftNAT(m, r, s)
	case stMangle:
		vals, why, fk, absent := e.nftValues(m, s.right)
		switch {
		case fk != nil:
			return nFork, fk, ""
		case why != "":
			return 0, nil, why
		case absent || len(vals) != 1:
			return 0, nil, "value of " + printExpr(s.right) + " not known"
		}
		x := uint32(vals[0].i0)
		switch {
		case s.left.kind == exMeta && s.left.a == "mark":
			m.nacts = append(m.nacts, fmt.Sprintf("meta mark set %s: mark %#x -> %#x", printExpr(s.right), m.mark, x))
			m.mark = x
		case s.left.kind == exCT && s.left.b == "mark":
			m.nacts = append(m.nacts, fmt.Sprintf("ct mark set %s: ctmark %#x -> %#x", printExpr(s.right), m.ctmark, x))
			m.ctmark = x
		default:
			m.nacts = append(m.nacts, printStmt(s)+" (no effect on the evaluation)")
		}
		return nCont, nil, ""
	case stSetOp:
		vals, why, fk, _ := e.nftValues(m, s.left)
		if fk != nil {
			return nFork, fk, ""
		}
		what := printExpr(s.left)
		if why == "" {
			what = nkeyText(vals)
		}
		m.nacts = append(m.nacts, fmt.Sprintf("%s %s in @%s (remembers the client for later connections)", s.verb, what, s.target))
		return nCont, nil, ""
	case stNop:
		return nCont, nil, ""
	case stNotrack:
		e.nftWarnRule(r, "the packet becomes untracked: conntrack and NAT do not apply to it, which this evaluator does not model")
		m.uncertain = true
		return nCont, nil, ""
	}
	return 0, nil, s.s
}

// nftVerdict applies a verdict (from a rule or a vmap element).
func (e *evaluator) nftVerdict(m *machine, r *NFTRule, v *nstmt, fromMap bool) nres {
	text := nftVerdictText(v)
	if fromMap {
		text = "" // already in the vmap action
	}
	switch v.verb {
	case "accept":
		e.nftEmit(m, r, text)
		m.accepted = true
		e.endTable(m)
		return nDone
	case "drop":
		e.nftEmit(m, r, orText(text, "drop"))
		m.verdict = VerdictDrop
		m.finished = true
		return nDone
	case "continue":
		e.nftEmit(m, r, text)
		f := &m.nstack[len(m.nstack)-1]
		f.rule++
		f.stmt = 0
		return nDone
	case "return":
		e.nftEmit(m, r, text)
		e.nftReturn(m)
		return nDone
	case "jump", "goto":
		target := r.chain.table.chainIdx[v.target]
		e.nftEmit(m, r, text)
		if e.loop(m) {
			e.nftWarnRule(r, "more than 4096 jumps and gotos in one walk (a loop?); branch abandoned")
			return nDone
		}
		f := &m.nstack[len(m.nstack)-1]
		if v.verb == "goto" {
			*f = nframe{ch: target}
			return nDone
		}
		f.rule++
		f.stmt = 0
		if len(m.nstack) >= maxDepth {
			e.nftWarnRule(r, "chains nest more than 128 deep (a loop?); branch abandoned")
			m.uncertain, m.finished, m.verdict = true, true, VerdictNone
			return nDone
		}
		m.nstack = append(m.nstack, nframe{ch: target})
		return nDone
	}
	e.nftWarnRule(r, "verdict "+v.verb+" is not modelled; the branch stops here")
	m.uncertain, m.finished, m.verdict = true, true, VerdictNone
	return nDone
}

func orText(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// nftNAT runs dnat, snat, masquerade and redirect. Like iptables' NAT
// targets they end the base chain (NF_ACCEPT) and set up the
// connection's NAT binding, so later nat chains of the hook are skipped.
func (e *evaluator) nftNAT(m *machine, r *NFTRule, s *nstmt) (nres, *nfork, string) {
	var addr netip.Addr
	port := m.dport
	if s.addr != nil {
		var vals []nval
		if s.addr.kind == exBinop && s.addr.a == "map" {
			key, why, fk, absent := e.nftValues(m, s.addr.args[0])
			switch {
			case fk != nil:
				return nFork, fk, ""
			case why != "":
				return 0, nil, why
			case absent:
				return nBreak, nil, ""
			}
			idx, _ := e.nftIndex(r.chain.table, s.addr.args[1])
			i := idx.lookup(key)
			if i < 0 {
				return nBreak, nil, "" // no mapping: NFT_BREAK
			}
			vals = idx.vals[i]
		} else {
			vals = s.addr.v
		}
		if len(vals) == 0 || !vals[0].isAddr() || vals[0].a0 != vals[0].a1 {
			return 0, nil, s.verb + " to an address range (not modelled)"
		}
		addr = vals[0].a0
		if len(vals) > 1 {
			port = uint16(vals[1].i0)
		}
	}
	if s.port != nil && len(s.port.v) == 1 {
		port = uint16(s.port.v[0].i0)
	}
	switch s.verb {
	case "dnat", "redirect":
		if s.verb == "redirect" {
			addr = netip.MustParseAddr("127.0.0.1")
			if e.family == IPv6 {
				addr = netip.IPv6Loopback()
			}
			if e.in.Hook == HookPrerouting && !m.routed {
				if len(e.in.NodeIPs) > 0 {
					addr = e.in.NodeIPs[0]
				}
				e.nftWarnRule(r, "redirect goes to the input interface's primary address; assumed "+addr.String())
			}
		}
		if !addr.IsValid() {
			return 0, nil, "dnat without an address"
		}
		m.dst, m.dport = addr, port
		m.dnat = true
		m.dnatTo = netip.AddrPortFrom(addr, port).String()
		m.dnatChain = r.chain.Name
		e.nftEmit(m, r, s.verb+" to "+m.dnatTo)
		m.natInit[0] = true
	default: // snat, masquerade
		m.snat = true
		m.snatTo = "masquerade"
		act := "masquerade"
		if s.verb == "snat" {
			m.snatTo = addr.String()
			act = "snat to " + m.snatTo
		}
		if s.flags != "" {
			act += " " + s.flags
		}
		e.nftEmit(m, r, act)
		m.natInit[1] = true
	}
	e.endTable(m)
	return nDone, nil, ""
}

// nftIndex returns the lookup index of a set operand (named or anonymous)
// and a name for it.
func (e *evaluator) nftIndex(t *NFTTable, x *nexpr) (*nindex, string) {
	if x.kind == exSetRef {
		if s := t.setIdx[x.s]; s != nil {
			return s.idx, "@" + x.s
		}
		return nil, "@" + x.s
	}
	return x.set, "{...}"
}

func nkeyText(vs []nval) string {
	var ps []string
	for _, v := range vs {
		ps = append(ps, v.String())
	}
	return strings.Join(ps, " . ")
}

// nftMatch decides a comparison or lookup.
func (e *evaluator) nftMatch(m *machine, r *NFTRule, s *nstmt) (bool, string, *nfork) {
	if s.op == "never" {
		return false, "", nil
	}
	// meta random & M < X: iptables-nft's statistic --probability.
	if s.left.kind == exBinop && s.left.a == "&" && s.left.args[0].kind == exMeta && s.left.args[0].a == "random" &&
		s.op == "<" && len(s.right.v) == 1 && len(s.left.args[1].v) == 1 {
		if m.nchoice >= 0 {
			ok := m.nchoice == 0
			m.nchoice = -1
			return ok, "", nil
		}
		mask := s.left.args[1].v[0].i0
		x := s.right.v[0].i0
		if mask != 0x7fffffff {
			return false, "meta random with mask " + fmt.Sprint(mask), nil
		}
		p, _, _ := ExactProbability(fmt.Sprintf("%.11f", float64(x)/0x80000000))
		lbl := fmt.Sprintf("meta random < %d (probability %s)", x, ratString(p))
		return false, "", &nfork{n: 2, probs: []*big.Rat{p, new(big.Rat).Sub(big.NewRat(1, 1), p)},
			labels: []string{lbl + " matched", lbl + " not matched"}}
	}
	vals, why, fk, absent := e.nftValues(m, s.left)
	if fk != nil || why != "" {
		return false, why, fk
	}
	if absent {
		return false, "", nil
	}
	switch s.right.kind {
	case exSetRef:
		set := r.chain.table.setIdx[s.right.s]
		var in bool
		if set.Dynamic() && e.in.Affinity != nil {
			in = e.in.Affinity[set.Name]
		} else {
			in = set.idx.lookup(vals) >= 0
		}
		if set.Dynamic() && in {
			m.nacts = append(m.nacts, fmt.Sprintf("%s is in @%s (state in the dump)", nkeyText(vals), set.Name))
		}
		return in != (s.op == "!="), "", nil
	case exAnon:
		in := s.right.set.lookup(vals) >= 0
		return in != (s.op == "!="), "", nil
	}
	want := s.right.v
	if len(want) != len(vals) {
		return false, "comparison of " + printExpr(s.left) + " with " + printExpr(s.right), nil
	}
	if isFlagType(exprType(s.left)) && len(vals) == 1 {
		x, mask := vals[0].i0, want[0].i0
		switch s.op {
		case "in":
			return x&mask != 0, "", nil
		case "!=":
			return x&mask == 0, "", nil
		case "==":
			return x == mask, "", nil
		}
	}
	switch s.op {
	case "==", "in":
		for i := range vals {
			if !want[i].contains(vals[i]) {
				return false, "", nil
			}
		}
		return true, "", nil
	case "!=":
		for i := range vals {
			if !want[i].contains(vals[i]) {
				return true, "", nil
			}
		}
		return false, "", nil
	case "<", ">", "<=", ">=":
		a, b := vals[0], want[0]
		var less, eq bool
		if a.isAddr() {
			less, eq = a.a0.Less(b.a0), a.a0 == b.a0
		} else {
			less, eq = a.i0 < b.i0, a.i0 == b.i0
		}
		switch s.op {
		case "<":
			return less, "", nil
		case "<=":
			return less || eq, "", nil
		case ">":
			return !less && !eq, "", nil
		}
		return !less, "", nil
	}
	return false, "operator " + s.op, nil
}

// nftValues computes what an expression yields for the packet in state m:
// its values, or why it cannot be known, or a fork (numgen), or absent
// when the packet has no such field (an IPv4 field of an IPv6 packet, the
// TCP port of a UDP packet), which nft treats as no match.
func (e *evaluator) nftValues(m *machine, x *nexpr) (vals []nval, why string, fk *nfork, absent bool) {
	if x.kind == exConcat {
		for _, a := range x.args {
			v, w, f, ab := e.nftValues(m, a)
			if f != nil || w != "" || ab {
				return nil, w, f, ab
			}
			vals = append(vals, v...)
		}
		return vals, "", nil, false
	}
	v, w, f, ab := e.nftValue(m, x)
	if f != nil || w != "" || ab {
		return nil, w, f, ab
	}
	return []nval{v}, "", nil, false
}

// fibType is nft's fib address type of an address (the same lookup as
// xt_addrtype: the local table only).
func (e *evaluator) fibType(a netip.Addr) uint64 {
	switch e.addrType(a) {
	case atLocal:
		return 2
	case atMulticast:
		return 5
	case atBroadcast:
		return 3
	case atUnspec:
		return 0
	}
	return 1
}

func (e *evaluator) nftValue(m *machine, x *nexpr) (nval, string, *nfork, bool) {
	v4 := e.family == IPv4
	switch x.kind {
	case exLit:
		if len(x.v) == 1 {
			return x.v[0], "", nil, false
		}
		return nval{}, "literal " + x.s + " has no type here", nil, false
	case exPayload:
		switch x.a {
		case "ip", "ip6":
			if (x.a == "ip") != v4 {
				return nval{}, "", nil, true
			}
			switch x.b {
			case "saddr":
				return nvAddr(m.src), "", nil, false
			case "daddr":
				return nvAddr(m.dst), "", nil, false
			case "protocol", "nexthdr":
				return nvInt(tyProto, uint64(e.proto)), "", nil, false
			}
			return nval{}, x.a + " " + x.b + " is not known", nil, false
		default: // th, tcp, udp, sctp, udplite, dccp
			switch x.a {
			case "tcp":
				if e.proto != protoTCP {
					return nval{}, "", nil, true
				}
			case "udp", "udplite":
				if e.proto != protoUDP || x.a == "udplite" {
					return nval{}, "", nil, true
				}
			case "sctp":
				if e.proto != protoSCTP {
					return nval{}, "", nil, true
				}
			case "dccp":
				return nval{}, "", nil, true
			}
			switch x.b {
			case "dport":
				return nvInt(tyPort, uint64(m.dport)), "", nil, false
			case "sport":
				if m.sport == 0 {
					return nval{}, "source port test: the source port is not known (give --sport)", nil, false
				}
				return nvInt(tyPort, uint64(m.sport)), "", nil, false
			}
			return nval{}, x.a + " " + x.b + " is not known", nil, false
		}
	case exMeta:
		switch x.a {
		case "l4proto":
			return nvInt(tyProto, uint64(e.proto)), "", nil, false
		case "nfproto":
			if v4 {
				return nvInt(tyNFProto, 2), "", nil, false
			}
			return nvInt(tyNFProto, 10), "", nil, false
		case "mark":
			return nvInt(tyInt, uint64(m.mark)), "", nil, false
		case "iifname", "oifname":
			name, known := m.inIface, m.inKnown
			if x.a == "oifname" {
				name, known = m.outIface, m.outKnown
			}
			if !known {
				return nval{}, "meta " + x.a + ": the packet's interface is not known here (give it with --in-interface/--out-interface)", nil, false
			}
			return nvStr(tyIface, name), "", nil, false
		case "pkttype":
			t := uint64(0)
			if m.dst.IsMulticast() {
				t = 2
			} else if m.dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				t = 1
			}
			return nvInt(tyPktType, t), "", nil, false
		}
		return nval{}, "meta " + x.a + " is not known for this packet", nil, false
	case exCT:
		if x.a == "reply" {
			return nval{}, "ct reply ... is not modelled", nil, false
		}
		switch x.b {
		case "state":
			if m.cur.pos < -200 {
				return nvInt(tyCtState, 1), "", nil, false // invalid: no conntrack entry yet
			}
			return nvInt(tyCtState, 8), "", nil, false // new
		case "status":
			var st uint64
			if m.dnat {
				st |= 32
			}
			if m.snat {
				st |= 16
			}
			return nvInt(tyCtStatus, st), "", nil, false
		case "mark":
			return nvInt(tyInt, uint64(m.ctmark)), "", nil, false
		case "direction":
			return nvInt(tyCtDir, 0), "", nil, false
		case "saddr":
			return nvAddr(e.in.Packet.Src), "", nil, false
		case "daddr":
			return nvAddr(m.origDst), "", nil, false
		case "proto-dst":
			return nvInt(tyPort, uint64(m.origDport)), "", nil, false
		case "l3proto":
			if v4 {
				return nvInt(tyNFProto, 2), "", nil, false
			}
			return nvInt(tyNFProto, 10), "", nil, false
		case "protocol":
			return nvInt(tyProto, uint64(e.proto)), "", nil, false
		}
		return nval{}, "ct " + x.b + " is not known for this packet", nil, false
	case exFib:
		if x.b != "type" && x.b != "oifname" {
			return nval{}, "fib " + x.b + " is not modelled", nil, false
		}
		switch x.a {
		case "daddr", "saddr":
			a := m.dst
			if x.a == "saddr" {
				a = m.src
			}
			if x.b == "type" {
				return nvInt(tyFibType, e.fibType(a)), "", nil, false
			}
			if e.isLocal(a) {
				return nvStr(tyIface, "lo"), "", nil, false
			}
			if dev, ok := e.routeDev(a); ok {
				return nvStr(tyIface, dev), "", nil, false
			}
			return nval{}, "fib " + x.a + " oifname: the route is not known (give --routes)", nil, false
		}
		return nval{}, "fib " + x.a + " " + x.b + " is not modelled", nil, false
	case exNumgen:
		if x.a != "random" {
			return nval{}, "numgen " + x.a + " depends on the packets before this one", nil, false
		}
		if m.nchoice >= 0 {
			v := nvInt(tyInt, uint64(m.nchoice)+x.o)
			m.nchoice = -1
			return v, "", nil, false
		}
		fk := &nfork{n: int(x.n)}
		for i := uint64(0); i < x.n; i++ {
			fk.labels = append(fk.labels, fmt.Sprintf("numgen random mod %d = %d (1/%d)", x.n, i+x.o, x.n))
		}
		return nval{}, "", fk, false
	case exBinop:
		a, w, f, ab := e.nftValue(m, x.args[0])
		if f != nil || w != "" || ab {
			return nval{}, w, f, ab
		}
		if len(x.args[1].v) != 1 {
			return nval{}, "operand of " + x.a + " not known", nil, false
		}
		b := x.args[1].v[0].i0
		r := a.i0
		switch x.a {
		case "&":
			r &= b
		case "|":
			r |= b
		case "^":
			r ^= b
		case "<<":
			r <<= b
		case ">>":
			r >>= b
		}
		return nvInt(tyInt, r), "", nil, false
	}
	return nval{}, printExpr(x) + " is not modelled", nil, false
}
