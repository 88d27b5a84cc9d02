package rules

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Evaluate walks the first packet of a new connection through a node's
// iptables rules the way the kernel does and returns every outcome.
//
// The walk follows the netfilter hooks in priority order (raw, mangle, nat,
// filter, security) for the entry hook, makes the routing decision on the
// post-DNAT destination (local delivery → INPUT, otherwise FORWARD and
// POSTROUTING; a locally sent packet to a local address loops back through
// PREROUTING and INPUT on lo), and within a table follows -j, -g and RETURN
// to the built-in chain's policy. NAT targets end the nat table's walk at
// that hook, as NF_ACCEPT does in the kernel.
//
// `-m statistic` rules fork the walk; each branch carries the exact
// probability (see ExactProbability). `-m recent --rcheck/--update` forks
// into a sticky branch (the client already has an affinity entry) and the
// fresh-client branch, unless EvalInput.Affinity says which. A rule with a
// condition the evaluator cannot decide is never treated as a match: it is
// skipped, the branch is marked uncertain and a warning names the rule.
//
// This mirrors, and extends to the whole node, the tracer kube-proxy's own
// tests use (iptablesTracer/tracePacket in pkg/proxy/iptables/proxier_test.go).
func Evaluate(in EvalInput) (*Result, error) {
	e, err := newEvaluator(in)
	if err != nil {
		return nil, err
	}
	e.run()
	return e.result(), nil
}

type evaluator struct {
	in     EvalInput
	family Family
	tables map[Table][]*TableRules
	// tableOrder lists the iptables tables walked, in input order;
	// nftBase the nftables base chains of the packet's family.
	tableOrder []*TableRules
	nftBase    []*NFTChain
	ipvs       *IPVSTable // the IPVS tables given, merged
	hookCache  [5][]hookEntry
	ipsets     map[string]*IPSet
	local      []netip.Prefix
	proto      uint32
	max        int
	done       []*machine
	warnings   []Warning
	warned     map[string]bool
	pruned     bool
}

func newEvaluator(in EvalInput) (*evaluator, error) {
	p := in.Packet
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return nil, errors.New("source and destination addresses are required")
	}
	p.Src, p.Dst = p.Src.Unmap(), p.Dst.Unmap()
	if p.Src.Is4() != p.Dst.Is4() {
		return nil, fmt.Errorf("source %s and destination %s are of different IP families", p.Src, p.Dst)
	}
	in.Packet = p
	proto := strings.ToLower(p.Proto)
	if proto == "" {
		proto = "tcp"
	}
	var pn uint32
	switch proto {
	case "tcp":
		pn = protoTCP
	case "udp":
		pn = protoUDP
	case "sctp":
		pn = protoSCTP
	default:
		return nil, fmt.Errorf("protocol %q: want tcp, udp or sctp", p.Proto)
	}
	in.Packet.Proto = proto
	if p.DstPort == 0 {
		return nil, errors.New("destination port is required")
	}
	switch in.Hook {
	case HookPrerouting, HookOutput:
	case "":
		in.Hook = HookPrerouting
	default:
		return nil, fmt.Errorf("hook %q: want prerouting or output", in.Hook)
	}
	fam := IPv4
	if p.Dst.Is6() {
		fam = IPv6
	}
	e := &evaluator{in: in, family: fam, tables: map[Table][]*TableRules{}, proto: pn, warned: map[string]bool{}}
	e.max = in.MaxBranches
	if e.max <= 0 {
		e.max = 4096
	}
	used := 0
	nftFam := "ip"
	if fam == IPv6 {
		nftFam = "ip6"
	}
	// iptables-nft's tables appear in an nft dump too; when the same
	// node's iptables-save (nft backend) is given, its reading of them is
	// used (nft cannot print every xtables match) and the nft copies are
	// left out.
	iptNFT := map[Table]string{}
	for _, rs := range in.Rulesets {
		if rs != nil && (rs.Family == FamilyUnknown || rs.Family == fam) && rs.Backend == BackendNFT {
			for _, t := range rs.Tables {
				iptNFT[t.Name] = rs.Source
			}
		}
	}
	// ipset contents: from the ipset dumps among the rulesets, and those
	// given explicitly, which win.
	for _, rs := range in.Rulesets {
		if rs == nil {
			continue
		}
		for name, set := range rs.IPSets {
			if e.ipsets == nil {
				e.ipsets = map[string]*IPSet{}
			}
			e.ipsets[name] = set
		}
	}
	for name, set := range in.IPSets {
		if e.ipsets == nil {
			e.ipsets = map[string]*IPSet{}
		}
		e.ipsets[name] = set
	}
	for _, rs := range in.Rulesets {
		if rs == nil {
			continue
		}
		if rs.Family != FamilyUnknown && rs.Family != fam {
			continue
		}
		used++
		if rs.IPVS != nil {
			e.addIPVS(rs)
		}
		if rs.NFT != nil {
			for _, t := range rs.NFT.Tables {
				if t.Family != nftFam && t.Family != "inet" {
					continue
				}
				if src, ok := iptNFT[Table(t.Name)]; ok && t.IptablesNFT {
					e.warn(Warning{Source: rs.Source, Line: t.Line, Message: fmt.Sprintf(
						"table %s (iptables-nft) is read from %s instead of from this nft dump", t, sourceName(src))})
					continue
				}
				for _, c := range t.Chains {
					if c.Base() && (c.Type == "filter" || c.Type == "nat" || c.Type == "route") {
						e.nftBase = append(e.nftBase, c)
					}
				}
			}
		}
		for _, t := range rs.Tables {
			if prev := e.tables[t.Name]; len(prev) > 0 && prev[len(prev)-1].rs != rs {
				e.warn(Warning{Source: rs.Source, Table: string(t.Name), Message: fmt.Sprintf(
					"table %s is also in %s: the kernel runs both (legacy and nft side by side?); walking them in the order given",
					t.Name, sourceName(prev[0].rs.Source))})
			}
			if len(e.tables[t.Name]) > 0 && e.tables[t.Name][len(e.tables[t.Name])-1].rs == rs {
				continue // a repeated table in one dump: the first counts (warned at parse)
			}
			e.tables[t.Name] = append(e.tables[t.Name], t)
			e.tableOrder = append(e.tableOrder, t)
		}
	}
	if used == 0 {
		return nil, fmt.Errorf("no %s rules given (the rulesets are for the other IP family)", fam)
	}
	if len(e.nftBase) == 0 && e.ipvs == nil {
		for _, t := range []Table{TableNAT, TableFilter} {
			if len(e.tables[t]) == 0 {
				e.warn(Warning{Table: string(t), Message: fmt.Sprintf("no %s table in the input: its rules were not evaluated", t)})
			}
		}
	}
	if fam == IPv4 {
		e.local = append(e.local, netip.MustParsePrefix("127.0.0.0/8"))
	} else {
		e.local = append(e.local, netip.MustParsePrefix("::1/128"))
	}
	for _, a := range in.NodeIPs {
		a = a.Unmap()
		if a.IsValid() && a.Is4() == (fam == IPv4) {
			e.local = append(e.local, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	if e.ipvs != nil {
		// kube-proxy binds every virtual address to the dummy interface
		// kube-ipvs0 (syncService), so the node treats them as its own.
		for _, sv := range e.ipvs.Services {
			if sv.Addr.IsValid() && sv.Addr.Is4() == (fam == IPv4) {
				e.local = append(e.local, netip.PrefixFrom(sv.Addr, sv.Addr.BitLen()))
			}
		}
	}
	return e, nil
}

func (e *evaluator) warn(w Warning) {
	key := w.String()
	if e.warned[key] {
		return
	}
	e.warned[key] = true
	e.warnings = append(e.warnings, w)
}

func (e *evaluator) warnRule(r *Rule, msg string) {
	e.warn(Warning{Source: r.chain.table.rs.Source, Line: r.Line(), Table: string(r.Table()), Chain: r.Chain(), Rule: r.Num(), Message: msg})
}

func (e *evaluator) isLocal(a netip.Addr) bool {
	for _, p := range e.local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hookID is a netfilter hook.
type hookID uint8

const (
	hPre hookID = iota
	hIn
	hFwd
	hOut
	hPost
)

var (
	hookNames = [...]string{"prerouting", "input", "forward", "output", "postrouting"}
	// iptChain is the built-in iptables chain of each hook.
	iptChain = [...]string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}
)

// natManip is the NAT manipulation a hook's nat chains set up: the
// destination at prerouting and output, the source at input and
// postrouting (nf_nat_inet_fn; -1: none at forward).
func natManip(h hookID) int {
	switch h {
	case hPre, hOut:
		return 0
	case hIn, hPost:
		return 1
	}
	return -1
}

// natPos is the priority at which the kernel's NAT hook runs all nat-type
// chains of a hook, whatever their own priority (which only orders them
// among themselves): NF_IP_PRI_NAT_DST -100, NF_IP_PRI_NAT_SRC 100.
func natPos(h hookID) int {
	if natManip(h) == 0 {
		return -100
	}
	return 100
}

// stage is one hook of the packet's path, or the routing decision.
type stage struct {
	hook  hookID
	route bool
}

// The paths through the hooks. Within a hook every base chain of every
// table — iptables' built-in chains (raw -300, mangle -150, nat, filter
// 0, security 50) and nftables base chains at their declared priorities —
// runs in priority order (see hookEntries).
var (
	stagesPrerouting = []stage{{hook: hPre}, {route: true}}
	stagesInput      = []stage{{hook: hIn}}
	stagesForward    = []stage{{hook: hFwd}, {hook: hPost}}
	stagesOutput     = []stage{{hook: hOut}, {hook: hPost}}
	// A locally sent packet to a local address comes back in on lo:
	// PREROUTING and INPUT run again, but not their nat chains (the
	// connection's NAT is already set up: nf_nat_initialized).
	stagesLoopback = []stage{{hook: hPre}, {hook: hIn}}
)

// hookEntry is one base chain at a hook, or the output reroute.
type hookEntry struct {
	pos   int  // where it runs: its priority, or natPos for nat chains
	class int8 // 0 filter/route chain, 1 nat chain, 2 the output reroute
	prio  int  // its own priority (orders nat chains among themselves)
	seq   int  // input order, for equal priorities
	nat   bool
	route bool
	ipvs  bool        // the IPVS hook (ip_vs_in / ip_vs_local_request)
	t     *TableRules // iptables: the table and its built-in chain
	ch    *Chain
	nc    *NFTChain // nftables: the base chain
}

// iptPriority is the priority of an iptables table's hooks (iptable_*.c).
func iptPriority(t Table, h hookID) (int, bool) {
	switch t {
	case TableRaw:
		return -300, false
	case TableMangle:
		return -150, false
	case TableNAT:
		return natPos(h), true
	case TableFilter:
		return 0, false
	case TableSecurity:
		return 50, false
	}
	return 0, false
}

// hookEntries lists, in the order the kernel runs them, the base chains
// of hook h in every table of the packet's family. Equal priorities keep
// the order the inputs were given in (the kernel's is registration order,
// which a dump does not show).
func (e *evaluator) hookEntries(h hookID) []hookEntry {
	if c := e.hookCache[h]; c != nil {
		return c
	}
	var out []hookEntry
	seq := 0
	for _, t := range e.tableOrder {
		ch := t.Chain(iptChain[h])
		if ch == nil {
			continue
		}
		pos, nat := iptPriority(t.Name, h)
		cls := int8(0)
		if nat {
			cls = 1
		}
		out = append(out, hookEntry{pos: pos, class: cls, prio: pos, seq: seq, nat: nat, t: t, ch: ch})
		seq++
	}
	for _, c := range e.nftBase {
		if c.Hook != hookNames[h] {
			continue
		}
		en := hookEntry{pos: c.Priority, prio: c.Priority, seq: seq, nc: c}
		if c.Type == "nat" {
			en.pos, en.class, en.nat = natPos(h), 1, true
		}
		out = append(out, en)
		seq++
	}
	if h == hOut {
		// The reroute after the output hook's NAT (ip_route_me_harder in
		// the nat and mangle output hooks): later chains see the route
		// to the DNATed address.
		out = append(out, hookEntry{pos: -100, class: 2, seq: seq, route: true})
		seq++
	}
	if e.ipvs != nil {
		// IPVS schedules packets to a local virtual address at LOCAL_IN
		// (ip_vs_in, NF_IP_PRI_NAT_SRC - 2) and locally sent ones at
		// LOCAL_OUT (ip_vs_local_request4, NF_IP_PRI_NAT_DST + 2).
		switch h {
		case hIn:
			out = append(out, hookEntry{pos: 98, seq: seq, ipvs: true})
		case hOut:
			out = append(out, hookEntry{pos: -98, seq: seq, ipvs: true})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.pos != b.pos {
			return a.pos < b.pos
		}
		if a.class != b.class {
			return a.class < b.class
		}
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		return a.seq < b.seq
	})
	if out == nil {
		out = []hookEntry{}
	}
	e.hookCache[h] = out
	return out
}

type frame struct {
	ch  *Chain
	idx int
}

// machine is one branch of the walk. Forks copy it.
type machine struct {
	// packet state
	src, dst     netip.Addr
	sport, dport uint16
	origDst      netip.Addr
	origDport    uint16
	mark, ctmark uint32
	dnat         bool
	dnatTo       string
	dnatChain    string
	snat         bool
	snatTo       string
	accepted     bool
	inIface      string
	outIface     string
	inKnown      bool
	outKnown     bool

	// position
	stages   []stage
	stageIdx int
	hook     hookID
	inHook   bool
	entries  []hookEntry // remaining base chains of the current hook
	cur      hookEntry   // the base chain being walked
	tbl      *TableRules // iptables: its table, built-in chain and stack
	base     *Chain
	stack    []frame
	nstack   []nframe // nftables: the chain stack
	natInit  [2]bool  // NAT set up for the destination, the source
	routed   bool
	loopback bool
	// nchoice is the value a forked nft statement takes (numgen, meta
	// random) when it runs again in this branch; -1 when none.
	nchoice int
	nacts   []string // what the current nft rule did so far
	nsave   [2]uint32
	jumps   int // jumps and gotos so far (see maxJumps)
	// IPVS: the hook is to run for this packet; it has forwarded it.
	ipvsPending, ipvsDone bool
	// choice, when set, says how this branch was chosen where no
	// probability applies (an IPVS scheduler that decides by state).
	choice string

	// record
	steps      []Step
	decisions  []decision
	prob       *big.Rat
	sticky     bool
	conditions []string
	uncertain  bool
	verdict    Verdict
	finished   bool
}

// decision records a fork: at which step it happened and what was chosen.
type decision struct {
	step  int
	label string
	prob  *big.Rat // conditional probability of this choice; nil = sticky
}

func (m *machine) clone() *machine {
	c := *m
	c.stages = append([]stage(nil), m.stages...)
	c.entries = append([]hookEntry(nil), m.entries...)
	c.nstack = append([]nframe(nil), m.nstack...)
	c.nacts = append([]string(nil), m.nacts...)
	c.stack = append([]frame(nil), m.stack...)
	c.steps = append([]Step(nil), m.steps...)
	c.decisions = append([]decision(nil), m.decisions...)
	c.conditions = append([]string(nil), m.conditions...)
	c.prob = new(big.Rat).Set(m.prob)
	return &c
}

func (e *evaluator) run() {
	p := e.in.Packet
	m := &machine{
		src: p.Src, dst: p.Dst, sport: p.SrcPort, dport: p.DstPort,
		origDst: p.Dst, origDport: p.DstPort, mark: p.Mark,
		prob: big.NewRat(1, 1), nchoice: -1,
	}
	if e.in.Hook == HookOutput {
		m.stages = append(m.stages, stagesOutput...)
		m.inIface, m.inKnown = "", true // locally generated: no input interface
		e.setOutIface(m)
	} else {
		m.stages = append(m.stages, stagesPrerouting...)
		m.inIface, m.inKnown = p.InIface, p.InIface != ""
		m.outIface, m.outKnown = "", true // no output interface before routing
	}
	work := []*machine{m}
	for len(work) > 0 {
		m := work[len(work)-1]
		work = work[:len(work)-1]
		forks := e.step(m)
		if m.finished {
			e.done = append(e.done, m)
			continue
		}
		// Depth-first, in rule order: push alternatives in reverse so the
		// first choice runs first.
		if len(forks) > 0 {
			if len(e.done)+len(work)+len(forks) > e.max {
				e.pruned = true
				forks = forks[:1]
			}
			for i := len(forks) - 1; i >= 0; i-- {
				work = append(work, forks[i])
			}
			continue
		}
		work = append(work, m)
	}
	if e.pruned {
		e.warn(Warning{Message: fmt.Sprintf("more than %d branches: some alternatives were not explored", e.max)})
	}
}

// setOutIface fills in the output interface for a locally sent packet.
func (e *evaluator) setOutIface(m *machine) {
	if e.isLocal(m.dst) {
		m.outIface, m.outKnown = "lo", true
	} else {
		m.outIface, m.outKnown = e.routeDev(m.dst)
	}
}

// routeDev is the output interface for dst: Packet.OutIface when given,
// else the longest matching prefix of Routes.
func (e *evaluator) routeDev(dst netip.Addr) (string, bool) {
	if e.in.Packet.OutIface != "" {
		return e.in.Packet.OutIface, true
	}
	best := -1
	dev := ""
	for _, r := range e.in.Routes {
		if r.Dst.IsValid() && r.Dst.Contains(dst) && r.Dst.Bits() > best {
			best, dev = r.Dst.Bits(), r.Dev
		}
	}
	return dev, best >= 0 && dev != ""
}

// maxDepth bounds chain nesting, and maxJumps the jumps and gotos of one
// branch; the kernel refuses loops at load time, so only a malformed dump
// gets there (a chain that gotos itself never nests deeper).
const (
	maxDepth = 128
	maxJumps = 4096
)

// loop counts a jump or goto and, past maxJumps, abandons the branch.
func (e *evaluator) loop(m *machine) bool {
	m.jumps++
	if m.jumps <= maxJumps {
		return false
	}
	m.uncertain, m.finished, m.verdict = true, true, VerdictNone
	return true
}

// step runs m until it finishes or forks. On a fork it returns the
// alternatives (m itself is abandoned).
func (e *evaluator) step(m *machine) []*machine {
	for !m.finished {
		if m.ipvsPending {
			if forks := e.ipvsStep(m); forks != nil {
				return forks
			}
			continue
		}
		if len(m.stack) == 0 && len(m.nstack) == 0 {
			if !e.nextChain(m) {
				e.finish(m)
				return nil
			}
			continue
		}
		if len(m.nstack) > 0 {
			if forks := e.nftStep(m); forks != nil {
				return forks
			}
			continue
		}
		f := &m.stack[len(m.stack)-1]
		if f.idx >= f.ch.Len() {
			e.popChain(m)
			continue
		}
		r, code := e.ruleAt(m, f.ch, f.idx)
		f.idx++
		if r == nil {
			continue // provably no match (prefilter)
		}
		res, forks := e.match(m, r, code)
		switch res {
		case matchNo:
			continue
		case matchFork:
			return e.fork(m, r, forks)
		}
		e.apply(m, r)
	}
	return nil
}

// nextChain enters the next base chain of the current hook, moving on
// to the next hook (or the routing decision) when the hook is done.
func (e *evaluator) nextChain(m *machine) bool {
	for {
		if len(m.entries) > 0 {
			en := m.entries[0]
			m.entries = m.entries[1:]
			if en.route {
				e.route(m)
				continue
			}
			if en.ipvs {
				if m.ipvsDone {
					continue // a packet IPVS already forwarded
				}
				m.cur = en
				m.ipvsPending = true
				return true
			}
			if en.nat {
				if mp := natManip(m.hook); mp >= 0 && m.natInit[mp] {
					continue // this connection's NAT is set up already
				}
			}
			m.cur = en
			if en.ch != nil {
				m.tbl, m.base = en.t, en.ch
				m.stack = append(m.stack[:0], frame{ch: en.ch})
			} else {
				m.nstack = append(m.nstack[:0], nframe{ch: en.nc})
			}
			return true
		}
		if m.inHook {
			// After a hook's NAT chains ran, the connection has its NAT
			// binding (a null one if no rule matched).
			if mp := natManip(m.hook); mp >= 0 {
				m.natInit[mp] = true
			}
			m.inHook = false
		}
		if m.stageIdx >= len(m.stages) {
			return false
		}
		st := m.stages[m.stageIdx]
		m.stageIdx++
		if st.route {
			e.route(m)
			continue
		}
		m.hook, m.inHook = st.hook, true
		m.entries = append(m.entries[:0], e.hookEntries(st.hook)...)
	}
}

// route is the routing decision after PREROUTING (or the reroute after nat
// OUTPUT): local delivery when the (post-DNAT) destination is one of the
// node's addresses.
func (e *evaluator) route(m *machine) {
	local := e.isLocal(m.dst)
	if m.ipvsDone {
		// IPVS routed the packet to its real server itself.
		e.setOutIface(m)
		return
	}
	m.routed = true
	if e.in.Hook == HookOutput {
		e.setOutIface(m)
		if local {
			m.loopback = true
		}
		return
	}
	if local {
		m.outIface, m.outKnown = "", true
		m.stages = append(m.stages, stagesInput...)
	} else {
		m.outIface, m.outKnown = e.routeDev(m.dst)
		m.stages = append(m.stages, stagesForward...)
	}
}

// popChain returns from the current chain (its end or RETURN): to the
// caller, or at the built-in chain to its policy.
func (e *evaluator) popChain(m *machine) {
	m.stack = m.stack[:len(m.stack)-1]
	if len(m.stack) > 0 {
		return
	}
	// End of the built-in chain: its policy decides.
	// (nat chains are not filters: their policy is always ACCEPT.)
	if m.base.Policy == "" && m.tbl.Name != TableNAT {
		e.warn(Warning{Source: m.tbl.rs.Source, Line: m.base.Line, Table: string(m.tbl.Name), Chain: m.base.Name,
			Message: "the dump gives no policy for this built-in chain (\"-\"); assumed ACCEPT, the kernel's default"})
	}
	if m.base.Policy == "DROP" {
		m.steps = append(m.steps, Step{Source: m.tbl.rs.Source, Table: string(m.tbl.Name), Chain: m.base.Name, Line: m.base.Line,
			Action: "policy DROP"})
		m.verdict = VerdictDrop
		m.finished = true
	}
	e.endTable(m)
}

// endTable leaves the current table at this hook.
func (e *evaluator) endTable(m *machine) {
	m.stack = m.stack[:0]
	m.nstack = m.nstack[:0]
	if !m.finished && m.loopback && m.stageIdx >= len(m.stages) && len(m.entries) == 0 {
		// Sent to a local address: after POSTROUTING on lo the packet
		// comes back in through PREROUTING and INPUT.
		m.loopback = false
		m.inIface, m.inKnown = "lo", true
		m.outIface, m.outKnown = "", true
		m.stages = append(m.stages, stagesLoopback...)
	}
}

func (e *evaluator) finish(m *machine) {
	if m.loopback {
		e.endTable(m)
		if m.stageIdx < len(m.stages) {
			return
		}
	}
	m.finished = true
	if m.verdict == "" {
		switch {
		case m.dnat:
			m.verdict = VerdictDNAT
		case m.accepted:
			m.verdict = VerdictAccept
		default:
			m.verdict = VerdictNone
		}
	}
}

type matchRes uint8

const (
	matchNo matchRes = iota
	matchYes
	matchFork
)

// forkCond is a condition whose outcome is a choice, not a fact.
type forkCond struct {
	prob   *big.Rat // nil for a sticky (state) condition
	label  string
	sticky string // the affinity condition text, for sticky forks
	notLbl string
}

// ruleAt returns rule i of ch compiled, with the code holding its
// conditions, or nil when the chain's prefilter proves that the rule
// cannot match the packet in state m (see prefilter.go). Short chains, and
// chains someone compiled as a whole already, are used compiled.
func (e *evaluator) ruleAt(m *machine, ch *Chain, i int) (*Rule, *chainCode) {
	if code := ch.code.Load(); code != nil {
		return &code.rules[i], code
	}
	if ch.n < lazyMinRules || ch.table == nil || ch.table.rs == nil {
		code := ch.compiled()
		return &code.rules[i], code
	}
	px := ch.prefilter()
	if px.skip(ch, i, m.dst, m.dport, e.proto) {
		return nil, nil
	}
	code := px.rule(ch, i)
	return &code.rules[0], code
}

// match decides whether rule r (compiled in code) matches the packet in
// state m.
func (e *evaluator) match(m *machine, r *Rule, code *chainCode) (matchRes, []forkCond) {
	var forks []forkCond
	var unknown []string
	conds := r.conds(code)
	for i := range conds {
		cd := &conds[i]
		ok, why, fk := e.test(m, code, cd)
		switch {
		case fk != nil:
			forks = append(forks, *fk)
		case why != "":
			unknown = append(unknown, why)
		case !ok:
			return matchNo, nil // a definite mismatch decides, whatever else is unknown
		}
	}
	if r.flags&(ruleMalformed|ruleTruncated) != 0 {
		unknown = append(unknown, "the rule's line is malformed or cut off")
	}
	if len(unknown) > 0 {
		m.uncertain = true
		e.warnRule(r, "not evaluated, treated as not matching: "+strings.Join(unknown, "; "))
		return matchNo, nil
	}
	if len(forks) > 0 {
		return matchFork, forks
	}
	return matchYes, nil
}

// test evaluates one condition. It returns (result, "", nil) when decided,
// (_, reason, nil) when undecidable, or a fork.
func (e *evaluator) test(m *machine, code *chainCode, cd *cond) (bool, string, *forkCond) {
	neg := cd.neg
	var ok bool
	switch cd.kind {
	case condUnknown:
		return false, cd.s, nil
	case condSrc:
		ok = e.addrIn(code, cd, m.src)
	case condCtOrigSrc:
		ok = e.addrIn(code, cd, e.in.Packet.Src)
	case condDst:
		ok = e.addrIn(code, cd, m.dst)
	case condCtOrigDst:
		ok = e.addrIn(code, cd, m.origDst)
	case condCtReplSrc:
		// The reply comes from where the connection was DNATed to.
		ok = e.addrIn(code, cd, m.dst)
	case condProto, condCtProto:
		ok = e.proto == cd.a
	case condInIface, condOutIface:
		name, known := m.inIface, m.inKnown
		if cd.kind == condOutIface {
			name, known = m.outIface, m.outKnown
		}
		if !known {
			opt := "-i"
			if cd.kind == condOutIface {
				opt = "-o"
			}
			return false, fmt.Sprintf("%s %s: the packet's interface is not known here (give it with --in-interface/--out-interface)", opt, ifaceText(cd)), nil
		}
		if cd.fl&condWildcard != 0 {
			ok = name != "" && strings.HasPrefix(name, cd.s)
		} else {
			ok = name == cd.s
		}
	case condFragment:
		ok = false // the first packet is never a non-first fragment
	case condSport:
		if m.sport == 0 {
			return false, "source port test: the source port is not known (give --sport)", nil
		}
		ok = uint64(m.sport) >= uint64(cd.a) && uint64(m.sport) <= cd.b
	case condDport:
		ok = uint64(m.dport) >= uint64(cd.a) && uint64(m.dport) <= cd.b
	case condCtOrigDstPort:
		ok = uint64(m.origDport) >= uint64(cd.a) && uint64(m.origDport) <= cd.b
	case condMultiDport:
		ok = portInList(cd.s, m.dport)
	case condMultiSport, condMultiPorts:
		if cd.kind == condMultiPorts && portInList(cd.s, m.dport) {
			ok = true
			break
		}
		if m.sport == 0 {
			return false, "multiport source port test: the source port is not known (give --sport)", nil
		}
		ok = portInList(cd.s, m.sport)
	case condSrcType:
		ok = e.addrType(m.src)&cd.a != 0
	case condDstType:
		ok = e.addrType(m.dst)&cd.a != 0
	case condStatRandom:
		p, snapped, good := ExactProbability(cd.s)
		if !good {
			return false, "statistic --probability " + cd.s, nil
		}
		if neg {
			p = new(big.Rat).Sub(big.NewRat(1, 1), p)
		}
		lbl := "statistic --probability " + cd.s
		if snapped {
			lbl += " (= " + ratString(p) + ")"
		} else if neg {
			lbl = "! " + lbl
		}
		return false, "", &forkCond{prob: p, label: lbl + " matched", notLbl: lbl + " not matched"}
	case condStatNth:
		p := big.NewRat(1, int64(cd.a))
		if neg {
			p = new(big.Rat).Sub(big.NewRat(1, 1), p)
		}
		lbl := fmt.Sprintf("statistic --mode nth --every %d --packet %d (%s of connections)", cd.a, cd.b, ratString(p))
		return false, "", &forkCond{prob: p, label: lbl + " matched", notLbl: lbl + " not matched"}
	case condMark:
		ok = m.mark&uint32(cd.b) == cd.a
	case condConnmark:
		ok = m.ctmark&uint32(cd.b) == cd.a
	case condCtState:
		ok = e.ctState(m)&cd.a != 0
	case condCtStatus:
		ok = false // a new, unconfirmed connection has none of the listed status bits
	case condCtDir:
		ok = cd.a == 0 // the first packet is in the ORIGINAL direction
	case condRecent:
		return e.testRecent(m, cd)
	case condSet:
		return e.testSet(m, cd)
	case condTCPFlags:
		// The first packet of a TCP connection is a SYN.
		ok = e.proto == protoTCP && tcpSYN&cd.a == uint32(cd.b)
	case condICMP:
		return false, "", nil // our packets are never ICMP
	case condPktType:
		t := uint32(0)
		if m.dst.IsMulticast() {
			t = 2
		} else if m.dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			t = 1
		}
		ok = t == cd.a
	case condSrcRange, condDstRange:
		lo, hi, _ := parseIPRange(cd.s)
		a := m.src
		if cd.kind == condDstRange {
			a = m.dst
		}
		ok = !a.Less(lo) && !hi.Less(a)
	case condLimit:
		ok = true // the first packet of a flow is within any burst
	default:
		return false, "internal: unhandled condition", nil
	}
	return ok != neg, "", nil
}

func ifaceText(cd *cond) string {
	if cd.fl&condWildcard != 0 {
		return cd.s + "+"
	}
	return cd.s
}

func (e *evaluator) addrIn(code *chainCode, cd *cond, a netip.Addr) bool {
	if cd.fl&condV6 != 0 {
		if !a.Is6() {
			return false
		}
		return code.addrs[cd.a].Contains(a)
	}
	if !a.Is4() {
		return false
	}
	b := a.As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if cd.bits == 0 {
		return true
	}
	mask := ^uint32(0) << (32 - uint32(cd.bits))
	return x&mask == cd.a&mask
}

// addrType is the route type of an address as xt_addrtype sees it: LOCAL
// for the node's own addresses (and loopback), MULTICAST, BROADCAST for
// the limited broadcast address, UNICAST otherwise (inet_addr_type only
// consults the local routing table, so every other address is UNICAST).
func (e *evaluator) addrType(a netip.Addr) uint32 {
	switch {
	case e.isLocal(a):
		return atLocal
	case a.IsMulticast():
		return atMulticast
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return atBroadcast
	case a.IsUnspecified():
		return atUnspec
	}
	return atUnicast
}

// ctState is the conntrack state of the first packet of a new connection:
// NEW, plus DNAT once it was DNATed and SNAT once it was SNATed. Before
// conntrack runs (the raw table) the packet has no entry and xt_conntrack
// reports INVALID.
func (e *evaluator) ctState(m *machine) uint32 {
	if m.cur.pos < -200 { // before conntrack (NF_IP_PRI_CONNTRACK)
		return ctInvalid
	}
	s := ctNew
	if m.dnat {
		s |= ctDNAT
	}
	if m.snat {
		s |= ctSNAT
	}
	return s
}

// testRecent decides -m recent. --set always matches (it records the
// client); --rcheck/--update/--remove depend on whether the list already
// holds the client, which is session-affinity state: known from
// EvalInput.Affinity, otherwise a sticky fork.
func (e *evaluator) testRecent(m *machine, cd *cond) (bool, string, *forkCond) {
	if cd.a&recentSet != 0 {
		return !cd.neg, "", nil
	}
	key := "source"
	if cd.a&recentRdest != 0 {
		key = "destination"
	}
	if e.in.Affinity != nil {
		return e.in.Affinity[cd.s] != cd.neg, "", nil
	}
	secs := cd.b & 0xffffffff
	hits := cd.b >> 32
	desc := fmt.Sprintf("recent list %s already holds the %s address", cd.s, key)
	if secs > 0 {
		desc += fmt.Sprintf(" (seen within %ds)", secs)
	}
	if hits > 0 {
		desc += fmt.Sprintf(" (at least %d hits)", hits)
	}
	notDesc := fmt.Sprintf("recent list %s does not hold the %s address", cd.s, key)
	if cd.neg {
		desc, notDesc = notDesc, desc
	}
	return false, "", &forkCond{sticky: desc, label: desc, notLbl: notDesc}
}

// testSet decides -m set --match-set with the given ipset contents.
func (e *evaluator) testSet(m *machine, cd *cond) (bool, string, *forkCond) {
	set := e.ipsets[cd.s]
	if set == nil {
		return false, "--match-set " + cd.s + ": the set's contents were not given", nil
	}
	var el ipsetElem
	el.proto = e.proto
	dims := int(cd.b & 0xff)
	for i := 0; i < dims; i++ {
		if cd.a&(1<<i) != 0 {
			el.addrs[i], el.ports[i] = m.src, m.sport
		} else {
			el.addrs[i], el.ports[i] = m.dst, m.dport
		}
	}
	in, err := set.contains(&el, dims)
	if err != nil {
		return false, err.Error(), nil
	}
	return in != cd.neg, "", nil
}

// fork splits m at rule r into its alternatives.
func (e *evaluator) fork(m *machine, r *Rule, forks []forkCond) []*machine {
	// Combine the rule's choice conditions: it matches only if all do.
	pMatch := big.NewRat(1, 1)
	var labels, notLabels, sticky []string
	for _, f := range forks {
		labels = append(labels, f.label)
		notLabels = append(notLabels, f.notLbl)
		if f.prob != nil {
			pMatch.Mul(pMatch, f.prob)
		}
		if f.sticky != "" {
			sticky = append(sticky, f.sticky)
		}
	}
	prefix := fmt.Sprintf("%s rule %d: ", r.Chain(), r.Num())
	yes := m.clone()
	no := m
	step := len(m.steps)
	if len(sticky) > 0 {
		// State-dependent: the matched side is the sticky scenario (no
		// share of the new-client distribution); the fresh client never
		// matches, so the other side keeps the full probability.
		yes.sticky = true
		yes.conditions = append(yes.conditions, sticky...)
		yes.decisions = append(yes.decisions, decision{step: step, label: prefix + strings.Join(labels, ", ")})
		no.decisions = append(no.decisions, decision{step: step, label: prefix + strings.Join(notLabels, ", "), prob: big.NewRat(1, 1)})
	} else {
		pNo := new(big.Rat).Sub(big.NewRat(1, 1), pMatch)
		yes.prob.Mul(yes.prob, pMatch)
		no.prob.Mul(no.prob, pNo)
		yes.decisions = append(yes.decisions, decision{step: step, label: prefix + strings.Join(labels, ", "), prob: pMatch})
		no.decisions = append(no.decisions, decision{step: step, label: prefix + strings.Join(notLabels, ", "), prob: pNo})
		if pNo.Sign() == 0 {
			e.apply(yes, r)
			return []*machine{yes}
		}
		if pMatch.Sign() == 0 {
			return []*machine{no}
		}
	}
	e.apply(yes, r)
	return []*machine{yes, no}
}

// apply runs rule r's target on m: a jump/goto to a user chain, or one of
// the target extensions below; anything else is reported, never guessed.
func (e *evaluator) apply(m *machine, r *Rule) {
	tgt := r.Target()
	s := Step{Source: r.chain.table.rs.Source, Table: string(r.Table()), Chain: r.Chain(), Rule: r.Num(), Line: r.Line(), Raw: r.Raw()}
	if tgt == "" {
		s.Action = "match only (no target)"
		m.steps = append(m.steps, s)
		return
	}
	if ch := m.tbl.Chain(tgt); ch != nil && !ch.Builtin {
		if e.loop(m) {
			e.warnRule(r, "more than 4096 jumps and gotos in one walk (a loop?); branch abandoned")
			return
		}
		if r.Goto() {
			s.Action = "goto " + tgt
			m.steps = append(m.steps, s)
			m.stack[len(m.stack)-1] = frame{ch: ch}
			return
		}
		s.Action = "jump " + tgt
		m.steps = append(m.steps, s)
		if len(m.stack) >= maxDepth {
			e.warnRule(r, "chains nest more than 128 deep (a loop?); branch abandoned")
			m.uncertain = true
			m.finished = true
			m.verdict = VerdictNone
			return
		}
		m.stack = append(m.stack, frame{ch: ch})
		return
	}
	args := r.TargetArgs()
	switch tgt {
	case "ACCEPT":
		s.Action = "ACCEPT"
		m.steps = append(m.steps, s)
		m.accepted = true
		e.endTable(m)
	case "DROP":
		s.Action = "DROP"
		m.steps = append(m.steps, s)
		m.verdict = VerdictDrop
		m.finished = true
	case "REJECT":
		s.Action = "REJECT"
		if v := optValue(args, "--reject-with"); v != "" {
			s.Action += " with " + v
		}
		m.steps = append(m.steps, s)
		m.verdict = VerdictReject
		m.finished = true
	case "RETURN":
		s.Action = "RETURN"
		m.steps = append(m.steps, s)
		e.popChain(m)
	case "DNAT":
		to := optValue(args, "--to-destination")
		ip, port, err := parseNATTarget(to, m.dport)
		if err != nil {
			e.warnRule(r, "DNAT "+err.Error()+"; branch stops here")
			s.Action = "DNAT (not understood)"
			m.steps = append(m.steps, s)
			m.uncertain = true
			m.finished = true
			m.verdict = VerdictNone
			return
		}
		if strings.Count(strings.Join(args, " "), "--to-destination") > 1 {
			e.warnRule(r, "several --to-destination ranges: only the first is shown")
			m.uncertain = true
		}
		m.dst, m.dport = ip, port
		m.dnat = true
		m.dnatTo = netip.AddrPortFrom(ip, port).String()
		m.dnatChain = r.Chain()
		s.Action = "DNAT to " + m.dnatTo
		m.steps = append(m.steps, s)
		e.endTable(m)
	case "REDIRECT":
		port := m.dport
		if v := optValue(args, "--to-ports"); v != "" {
			lo, _, ok := parsePortRange(strings.Replace(v, "-", ":", 1))
			if !ok {
				e.warnRule(r, "REDIRECT --to-ports "+v+" not understood")
				m.uncertain = true
			}
			port = uint16(lo)
		}
		// REDIRECT sends to the primary address of the input interface
		// (or 127.0.0.1 / ::1 for locally generated packets).
		addr := netip.MustParseAddr("127.0.0.1")
		if e.family == IPv6 {
			addr = netip.IPv6Loopback()
		}
		if e.in.Hook == HookPrerouting && !m.routed {
			if len(e.in.NodeIPs) > 0 {
				addr = e.in.NodeIPs[0]
			}
			e.warnRule(r, "REDIRECT goes to the input interface's primary address; assumed "+addr.String())
		}
		m.dst, m.dport = addr, port
		m.dnat = true
		m.dnatTo = netip.AddrPortFrom(addr, port).String()
		m.dnatChain = r.Chain()
		s.Action = "REDIRECT to " + m.dnatTo
		m.steps = append(m.steps, s)
		e.endTable(m)
	case "MASQUERADE":
		m.snat = true
		m.snatTo = "masquerade"
		s.Action = "MASQUERADE"
		m.steps = append(m.steps, s)
		e.endTable(m)
	case "SNAT":
		m.snat = true
		m.snatTo = optValue(args, "--to-source")
		s.Action = "SNAT to " + m.snatTo
		m.steps = append(m.steps, s)
		e.endTable(m)
	case "MARK", "CONNMARK":
		s.Action = e.applyMark(m, r, tgt, args)
		m.steps = append(m.steps, s)
	case "LOG", "NFLOG", "ULOG", "TRACE", "AUDIT", "CHECKSUM", "TCPMSS", "TOS", "DSCP", "TTL", "HL",
		"ECN", "CLASSIFY", "IDLETIMER", "LED", "RATEEST", "SECMARK", "CONNSECMARK", "SET", "TCPOPTSTRIP", "CT", "NOTRACK":
		s.Action = tgt + " (continues)"
		m.steps = append(m.steps, s)
		if tgt == "NOTRACK" || (tgt == "CT" && containsWord(args, "--notrack")) {
			e.warnRule(r, "the packet becomes untracked: conntrack and NAT do not apply to it, which this evaluator does not model")
			m.uncertain = true
		}
	case "NFQUEUE", "QUEUE", "TPROXY", "NETMAP", "CLUSTERIP", "TEE", "SYNPROXY", "BALANCE":
		s.Action = tgt + " (not modelled)"
		m.steps = append(m.steps, s)
		e.warnRule(r, "target "+tgt+" is not modelled; the branch stops here")
		m.uncertain = true
		m.finished = true
		m.verdict = VerdictNone
	default:
		if ch := m.tbl.Chain(tgt); ch != nil && ch.Builtin {
			e.warnRule(r, "jump to built-in chain "+tgt+" is not allowed; ignored")
		} else {
			e.warnRule(r, "jump to "+tgt+", which is neither a chain in table "+string(r.Table())+" nor a known target; ignored")
		}
		s.Action = "jump " + tgt + " (missing)"
		m.steps = append(m.steps, s)
		m.uncertain = true
	}
}

func containsWord(args []string, w string) bool {
	for _, a := range args {
		if a == w {
			return true
		}
	}
	return false
}

func optValue(args []string, name string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == name {
			return args[i+1]
		}
	}
	return ""
}

// parseNATTarget reads DNAT's --to-destination: "ip", "ip:port",
// "[v6]:port", with ranges ("ip1-ip2", ":p1-p2") reduced to their first
// value.
func parseNATTarget(to string, dport uint16) (netip.Addr, uint16, error) {
	if to == "" {
		return netip.Addr{}, 0, errors.New("without --to-destination")
	}
	host, port := to, ""
	switch {
	case strings.HasPrefix(to, "["):
		end := strings.IndexByte(to, ']')
		if end < 0 {
			return netip.Addr{}, 0, fmt.Errorf("--to-destination %q is not an address", to)
		}
		host = to[1:end]
		if rest := to[end+1:]; strings.HasPrefix(rest, ":") {
			port = rest[1:]
		}
	case strings.Count(to, ":") == 1:
		host, port, _ = strings.Cut(to, ":")
	}
	if a, _, isRange := strings.Cut(host, "-"); isRange {
		host = a
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("--to-destination %q is not an address", to)
	}
	p := dport
	if port != "" {
		if a, _, isRange := strings.Cut(port, "-"); isRange {
			port = a
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return netip.Addr{}, 0, fmt.Errorf("--to-destination %q has a bad port", to)
		}
		p = uint16(n)
	}
	return ip.Unmap(), p, nil
}

// applyMark runs the MARK / CONNMARK target (xt_MARK, xt_CONNMARK).
// iptables-save prints every MARK form as --set-xmark value/mask, meaning
// mark = (mark & ^mask) ^ value; --or-mark v is v/v, --xor-mark v is v/0,
// --and-mark v is 0/^v, --set-mark v/m is v/(m|v) (libxt_MARK).
func (e *evaluator) applyMark(m *machine, r *Rule, tgt string, args []string) string {
	before := m.mark
	if tgt == "CONNMARK" {
		before = m.ctmark
	}
	val, mask, desc, ok := markOp(args)
	if tgt == "CONNMARK" {
		switch {
		case containsWord(args, "--save-mark"):
			nm, cm := maskPair(args, "--nfmask", "--ctmask", "--mask")
			m.ctmark = (m.ctmark &^ cm) ^ (m.mark & nm)
			return fmt.Sprintf("CONNMARK save: ctmark %#x", m.ctmark)
		case containsWord(args, "--restore-mark"):
			nm, cm := maskPair(args, "--nfmask", "--ctmask", "--mask")
			m.mark = (m.mark &^ nm) ^ (m.ctmark & cm)
			return fmt.Sprintf("CONNMARK restore: mark %#x", m.mark)
		}
	}
	if !ok {
		e.warnRule(r, tgt+" "+strings.Join(args, " ")+" not understood; mark unchanged")
		m.uncertain = true
		return tgt + " (not understood)"
	}
	after := (before &^ mask) ^ val
	if tgt == "CONNMARK" {
		m.ctmark = after
		return fmt.Sprintf("CONNMARK %s: ctmark %#x -> %#x", desc, before, after)
	}
	m.mark = after
	return fmt.Sprintf("MARK %s: mark %#x -> %#x", desc, before, after)
}

func maskPair(args []string, a, b, both string) (uint32, uint32) {
	x, y := uint32(0xffffffff), uint32(0xffffffff)
	if v := optValue(args, both); v != "" {
		if n, err := strconv.ParseUint(v, 0, 32); err == nil {
			x, y = uint32(n), uint32(n)
		}
	}
	if v := optValue(args, a); v != "" {
		if n, err := strconv.ParseUint(v, 0, 32); err == nil {
			x = uint32(n)
		}
	}
	if v := optValue(args, b); v != "" {
		if n, err := strconv.ParseUint(v, 0, 32); err == nil {
			y = uint32(n)
		}
	}
	return x, y
}

// markOp converts the MARK/CONNMARK target options to (value, mask).
func markOp(args []string) (val, mask uint32, desc string, ok bool) {
	for i := 0; i+1 < len(args); i++ {
		v := args[i+1]
		a, b, hasMask := strings.Cut(v, "/")
		x, err := strconv.ParseUint(a, 0, 32)
		if err != nil {
			return 0, 0, "", false
		}
		var y uint64 = 0xffffffff
		if hasMask {
			if y, err = strconv.ParseUint(b, 0, 32); err != nil {
				return 0, 0, "", false
			}
		}
		switch args[i] {
		case "--set-xmark":
			return uint32(x), uint32(y), "--set-xmark " + v, true
		case "--set-mark":
			return uint32(x), uint32(x) | uint32(y), "--set-mark " + v, true
		case "--or-mark":
			return uint32(x), uint32(x), "--or-mark " + v, true
		case "--xor-mark":
			return uint32(x), 0, "--xor-mark " + v, true
		case "--and-mark":
			return 0, ^uint32(x), "--and-mark " + v, true
		}
	}
	return 0, 0, "", false
}

// result assembles the Result from the finished branches.
func (e *evaluator) result() *Result {
	p := e.in.Packet
	res := &Result{
		Query: Query{Hook: string(e.in.Hook), Src: p.Src.String(), Dst: p.Dst.String(), DstPort: int(p.DstPort),
			SrcPort: int(p.SrcPort), Proto: p.Proto, Family: e.family.String()},
		Endpoints: []Endpoint{},
		Warnings:  e.warnings,
	}
	for _, a := range e.in.NodeIPs {
		res.Query.NodeIPs = append(res.Query.NodeIPs, a.String())
	}
	if res.Warnings == nil {
		res.Warnings = []Warning{}
	}
	type epAgg struct {
		ep   Endpoint
		prob *big.Rat
	}
	var eps []*epAgg
	byKey := map[string]*epAgg{}
	mass := map[Verdict]*big.Rat{}
	seen := map[Verdict]bool{}
	for _, m := range e.done {
		prob := m.prob
		if m.sticky {
			prob = new(big.Rat)
		}
		b := Branch{
			Probability: ratFloat(prob), Fraction: ratString(prob), Conditions: m.conditions, Sticky: m.sticky,
			Verdict: m.verdict, Masquerade: m.snat, SNAT: m.snatTo, Uncertain: m.uncertain, Steps: m.steps, Choice: m.choice,
		}
		if m.choice != "" && !m.sticky {
			b.Fraction, b.Probability = "?", 0
		}
		if b.Steps == nil {
			b.Steps = []Step{}
		}
		if m.dnat {
			b.DNAT = m.dnatTo
		}
		res.Branches = append(res.Branches, b)
		res.Uncertain = res.Uncertain || m.uncertain
		seen[m.verdict] = true
		if mass[m.verdict] == nil {
			mass[m.verdict] = new(big.Rat)
		}
		mass[m.verdict].Add(mass[m.verdict], prob)
		if m.verdict != VerdictDrop && m.verdict != VerdictReject && m.snat {
			res.Masquerade = true
		}
		if m.verdict == VerdictDNAT {
			a := byKey[m.dnatTo]
			if a == nil {
				ap, _ := netip.ParseAddrPort(m.dnatTo)
				a = &epAgg{ep: Endpoint{IP: ap.Addr().String(), Port: int(ap.Port()), Chain: m.dnatChain}, prob: new(big.Rat)}
				byKey[m.dnatTo] = a
				eps = append(eps, a)
			}
			a.prob.Add(a.prob, prob)
			a.ep.Masquerade = a.ep.Masquerade || m.snat
			a.ep.Sticky = a.ep.Sticky || m.sticky
			a.ep.Uncertain = a.ep.Uncertain || m.uncertain
			if m.choice != "" && !m.sticky {
				a.ep.Choice = m.choice
			}
		}
	}
	for _, a := range eps {
		a.ep.Probability = ratFloat(a.prob)
		a.ep.Fraction = ratString(a.prob)
		if a.ep.Choice != "" {
			a.ep.Fraction, a.ep.Probability = "?", 0
		}
		res.Endpoints = append(res.Endpoints, a.ep)
	}
	switch {
	case seen[VerdictDrop] || seen[VerdictReject]:
		res.Verdict = VerdictDrop
		if seen[VerdictReject] && (!seen[VerdictDrop] || mass[VerdictReject].Cmp(mass[VerdictDrop]) > 0) {
			res.Verdict = VerdictReject
		}
	case seen[VerdictDNAT]:
		res.Verdict = VerdictDNAT
	case seen[VerdictAccept]:
		res.Verdict = VerdictAccept
	default:
		res.Verdict = VerdictNone
	}
	res.Path = buildTree(e.done)
	res.Inputs = e.inputs()
	return res
}

// inputs describes every dump given, what it held and whether it was of
// the packet's family.
func (e *evaluator) inputs() []Input {
	var out []Input
	for _, rs := range e.in.Rulesets {
		if rs == nil {
			continue
		}
		in := Input{Source: rs.Source, Format: string(rs.Format), Family: rs.Family.String(), Contents: []string{},
			Used: rs.Family == FamilyUnknown || rs.Family == e.family}
		if rs.Family == FamilyUnknown {
			in.Family = "any"
		}
		if rs.Backend != BackendUnknown {
			in.Format += " (" + string(rs.Backend) + ")"
		}
		for _, t := range rs.Tables {
			in.Contents = append(in.Contents, string(t.Name))
		}
		if rs.NFT != nil {
			for _, t := range rs.NFT.Tables {
				c := t.String()
				var notes []string
				if t.IptablesNFT {
					notes = append(notes, "iptables-nft")
				}
				bases := 0
				for _, ch := range t.Chains {
					if ch.Base() {
						bases++
					}
				}
				if bases == 0 {
					notes = append(notes, "no base chains")
				} else if (t.Family == "ip" && e.family == IPv6) || (t.Family == "ip6" && e.family == IPv4) || (t.Family != "ip" && t.Family != "ip6" && t.Family != "inet") {
					notes = append(notes, "not this family")
				}
				if len(notes) > 0 {
					c += " (" + strings.Join(notes, ", ") + ")"
				}
				in.Contents = append(in.Contents, c)
			}
		}
		if rs.IPVS != nil {
			in.Contents = append(in.Contents, fmt.Sprintf("%d IPVS virtual services (%s form)", len(rs.IPVS.Services), rs.IPVS.Form))
		}
		if len(rs.IPSets) > 0 {
			in.Contents = append(in.Contents, fmt.Sprintf("%d ipsets", len(rs.IPSets)))
		}
		out = append(out, in)
	}
	return out
}

// buildTree turns the branches into the path tree: the steps they share,
// then one child per choice at the first fork. Chains of statistic forks
// (rule 1 matched / not matched → rule 2 matched / not matched ...) are
// flattened into one list of siblings.
func buildTree(ms []*machine) *PathNode {
	if len(ms) == 0 {
		return &PathNode{}
	}
	n := buildNode(ms, 0, 0)
	return &n
}

func buildNode(ms []*machine, depth, from int) PathNode {
	m0 := ms[0]
	if len(ms) == 1 || depth >= len(m0.decisions) {
		steps := m0.steps[min(from, len(m0.steps)):]
		return PathNode{Steps: steps, Outcome: &Outcome{Verdict: m0.verdict, DNAT: m0.dnatTo, Masquerade: m0.snat, SNAT: m0.snatTo, Uncertain: m0.uncertain}}
	}
	at := m0.decisions[depth].step
	node := PathNode{Steps: m0.steps[min(from, at):at]}
	// Group by the choice made at this fork, keeping order.
	var order []string
	groups := map[string][]*machine{}
	for _, m := range ms {
		if depth >= len(m.decisions) {
			continue
		}
		l := m.decisions[depth].label
		if _, ok := groups[l]; !ok {
			order = append(order, l)
		}
		groups[l] = append(groups[l], m)
	}
	for _, l := range order {
		g := groups[l]
		child := buildNode(g, depth+1, at)
		br := PathBranch{Condition: l, Node: child}
		sum := new(big.Rat)
		sticky := true
		for _, m := range g {
			if !m.sticky {
				sum.Add(sum, m.prob)
				sticky = false
				if m.choice != "" {
					br.Choice = m.choice
				}
			}
		}
		br.Probability, br.Fraction, br.Sticky = ratFloat(sum), ratString(sum), sticky
		if br.Choice != "" {
			br.Fraction, br.Probability = "?", 0
		}
		// Flatten: a "not matched" child that only forks again (no steps,
		// no outcome) contributes its branches as siblings.
		if len(child.Steps) == 0 && child.Outcome == nil && len(child.Branches) > 0 && !sticky {
			node.Branches = append(node.Branches, child.Branches...)
			continue
		}
		node.Branches = append(node.Branches, br)
	}
	return node
}
