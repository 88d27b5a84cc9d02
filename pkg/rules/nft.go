package rules

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// NFTRuleset is a node's nftables ruleset as `nft list ruleset` prints it
// (text), as `nft -j list ruleset` prints it (JSON, what the node helper
// collects), or as an `nft -f` file (kube-proxy's own transactions, the
// `add table/chain/rule/set/map/element` commands it logs). All three give
// the same model. Every table is kept — kube-proxy's `ip kube-proxy` and
// `ip6 kube-proxy`, iptables-nft's `ip nat`/`ip filter`, firewalld's,
// CNI plugins' — and the evaluator walks all base chains of the packet's
// family in hook and priority order, as the kernel does.
type NFTRuleset struct {
	Tables []*NFTTable
	// Version is nft's version from the JSON metainfo ("1.0.6").
	Version string
}

// Table returns the table of that family and name, or nil.
func (r *NFTRuleset) Table(family, name string) *NFTTable {
	for _, t := range r.Tables {
		if t.Family == family && t.Name == name {
			return t
		}
	}
	return nil
}

// NFTTable is one nftables table.
type NFTTable struct {
	// Family is ip, ip6, inet, arp, bridge or netdev.
	Family  string
	Name    string
	Comment string
	Line    int
	Handle  int
	// IptablesNFT marks a table iptables-nft manages (nft prints "managed
	// by iptables-nft", or its rules hold xt expressions): its rules are
	// iptables rules in nft clothing, better read from iptables-save
	// output, which the evaluator prefers when it is given too.
	IptablesNFT bool
	Chains      []*NFTChain
	// Sets holds the named sets and maps.
	Sets []*NFTSet

	chainIdx map[string]*NFTChain
	setIdx   map[string]*NFTSet
	rs       *Ruleset
}

// Chain returns the named chain, or nil.
func (t *NFTTable) Chain(name string) *NFTChain { return t.chainIdx[name] }

// Set returns the named set or map, or nil.
func (t *NFTTable) Set(name string) *NFTSet { return t.setIdx[name] }

// String is "family name".
func (t *NFTTable) String() string { return t.Family + " " + t.Name }

func (t *NFTTable) chain(name string, line int) *NFTChain {
	if c := t.chainIdx[name]; c != nil {
		return c
	}
	c := &NFTChain{Name: name, Line: line, table: t}
	if t.chainIdx == nil {
		t.chainIdx = map[string]*NFTChain{}
	}
	t.chainIdx[name] = c
	t.Chains = append(t.Chains, c)
	return c
}

func (t *NFTTable) set(name string, line int) *NFTSet {
	if s := t.setIdx[name]; s != nil {
		return s
	}
	s := &NFTSet{Name: name, Line: line}
	if t.setIdx == nil {
		t.setIdx = map[string]*NFTSet{}
	}
	t.setIdx[name] = s
	t.Sets = append(t.Sets, s)
	return s
}

// NFTChain is one chain. Base chains (Hook set) are where packets enter.
type NFTChain struct {
	Name    string
	Line    int
	Handle  int
	Comment string
	// Type (filter, nat, route), Hook (prerouting, input, forward,
	// output, postrouting, ingress, egress), Priority and Policy are set
	// for base chains only.
	Type, Hook, Device string
	Priority           int
	// PriorityText is the priority as printed ("dstnat - 10").
	PriorityText string
	Policy       string
	Rules        []*NFTRule
	// Declared is false when rules or jumps named the chain but nothing
	// declared it.
	Declared bool

	table *NFTTable
}

// Table returns the chain's table.
func (c *NFTChain) Table() *NFTTable { return c.table }

// Base reports whether packets enter the chain from a hook.
func (c *NFTChain) Base() bool { return c.Hook != "" }

// NFTRule is one rule: its text as printed (for JSON input, as this
// package prints the expressions back in nft syntax) and its compiled
// statements.
type NFTRule struct {
	// Num is the 1-based position in the chain; Handle is nft's handle
	// (JSON and `nft -a`), 0 when unknown.
	Num, Handle int
	Line        int
	Text        string
	Comment     string

	chain *NFTChain
	stmts []nstmt
	// bad lists what was not understood; such a rule never matches.
	bad []string
}

// Chain returns the rule's chain.
func (r *NFTRule) Chain() *NFTChain { return r.chain }

// Problems lists the parts of the rule the evaluator does not understand
// (the rule is then never treated as matching).
func (r *NFTRule) Problems() []string { return r.bad }

// NFTSet is a named set or map.
type NFTSet struct {
	Name   string
	Line   int
	Handle int
	// Map is true for maps (vmaps included); DataType is then "verdict"
	// or the value's type ("ipv4_addr . inet_service").
	Map      bool
	KeyType  string // "ipv4_addr . inet_proto . inet_service"
	DataType string
	Flags    []string
	Timeout  string
	Comment  string
	Elements []NFTElement

	keyTy  []ntype
	dataTy []ntype
	idx    *nindex
}

// Dynamic reports a set the data path fills (flags dynamic or timeout):
// its elements are state at the time of the dump, such as kube-proxy's
// session-affinity sets.
func (s *NFTSet) Dynamic() bool {
	for _, f := range s.Flags {
		if f == "dynamic" || f == "timeout" {
			return true
		}
	}
	return s.Timeout != ""
}

// NFTElement is one element of a set or map.
type NFTElement struct {
	// Text is the element as printed ("10.0.0.1 . tcp . 80 : goto X").
	Text    string
	Comment string
	Expires string
	Line    int

	key  []nval
	data *nstmt // a verdict, for vmaps
	val  []nval // the value, for data maps
	// rawKey and rawVal are the words as read, typed once the set's
	// type is known.
	rawKey, rawVal []string
}

// ---------------------------------------------------------------- values

// ntype is the type of a value, which decides how a literal reads
// (nft's datatypes: ipv4_addr, inet_proto, inet_service, mark, ifname,
// ct_state, ...).
type ntype uint8

const (
	tyUnknown ntype = iota
	tyAddr4
	tyAddr6
	tyProto    // inet_proto
	tyPort     // inet_service
	tyInt      // mark, integer, numgen values, bit fields
	tyIface    // ifname
	tyCtState  // ct_state (bitmask)
	tyCtStatus // ct_status (bitmask)
	tyCtDir    // ct_dir
	tyFibType  // fib_addrtype
	tyNFProto  // nf_proto (ipv4, ipv6)
	tyPktType  // pkt_type
	tyVerdict
	tyString
)

var ntypeNames = map[string]ntype{
	"ipv4_addr": tyAddr4, "ipv6_addr": tyAddr6, "inet_proto": tyProto, "inet_service": tyPort,
	"mark": tyInt, "integer": tyInt, "ifname": tyIface, "ct_state": tyCtState, "ct_status": tyCtStatus,
	"ct_dir": tyCtDir, "fib_addrtype": tyFibType, "nf_proto": tyNFProto, "pkt_type": tyPktType,
	"verdict": tyVerdict, "string": tyString, "iface_index": tyInt, "ipv4_addr_mask": tyAddr4,
}

// nval is a typed value or an interval of them: an address range (a
// prefix or a-b), an integer range, or a string (an interface name, with
// a trailing * as a prefix match).
type nval struct {
	ty     ntype
	a0, a1 netip.Addr
	i0, i1 uint64
	s      string
	wild   bool
}

func nvAddr(a netip.Addr) nval     { return nval{ty: tyAddr4, a0: a, a1: a} }
func nvInt(t ntype, x uint64) nval { return nval{ty: t, i0: x, i1: x} }
func nvStr(t ntype, s string) nval { return nval{ty: t, s: s} }

func (v nval) isAddr() bool { return v.a0.IsValid() }

// contains reports whether x (a packet value) is in v.
func (v nval) contains(x nval) bool {
	switch {
	case v.isAddr():
		if !x.a0.IsValid() || x.a0.Is4() != v.a0.Is4() {
			return false
		}
		return !x.a0.Less(v.a0) && !v.a1.Less(x.a0)
	case v.ty == tyIface || v.ty == tyString:
		if v.wild {
			return strings.HasPrefix(x.s, v.s)
		}
		return x.s == v.s
	}
	return x.i0 >= v.i0 && x.i0 <= v.i1
}

func (v nval) String() string {
	switch {
	case v.isAddr():
		if v.a0 == v.a1 {
			return v.a0.String()
		}
		return v.a0.String() + "-" + v.a1.String()
	case v.ty == tyIface || v.ty == tyString:
		if v.wild {
			return v.s + "*"
		}
		return v.s
	}
	if v.i0 == v.i1 {
		if name := symbolName(v.ty, v.i0); name != "" {
			return name
		}
		if v.ty == tyInt && v.i0 > 9 {
			return fmt.Sprintf("%#x", v.i0)
		}
		return strconv.FormatUint(v.i0, 10)
	}
	return fmt.Sprintf("%d-%d", v.i0, v.i1)
}

// symbolName prints a value of a symbolic type as nft names it.
func symbolName(t ntype, x uint64) string {
	var names map[string]uint64
	switch t {
	case tyProto:
		for n, v := range map[string]uint64{"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "ipv6-icmp": 58} {
			if v == x {
				return n
			}
		}
		return ""
	case tyFibType:
		names = nftFibTypes
	case tyPktType:
		names = nftPktTypes
	case tyCtState:
		names = nftCtStates
	case tyCtStatus:
		names = nftCtStatus
	case tyNFProto:
		switch x {
		case 2:
			return "ipv4"
		case 10:
			return "ipv6"
		}
		return ""
	default:
		return ""
	}
	if t == tyCtState || t == tyCtStatus {
		var out []string
		for n, v := range names {
			if x&v != 0 {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for n, v := range names {
		if v == x && n != "unicast" || (n == "unicast" && x == 1 && t == tyFibType) {
			if t == tyPktType && x == 0 {
				return "host"
			}
			return n
		}
	}
	return ""
}

// Constant tables of nft's symbolic values.
var (
	nftCtStates = map[string]uint64{"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64}
	// ct status bits (IPS_* in the kernel).
	nftCtStatus = map[string]uint64{"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8,
		"snat": 16, "dnat": 32, "dying": 512}
	nftFibTypes = map[string]uint64{"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4,
		"multicast": 5, "blackhole": 6, "unreachable": 7, "prohibit": 8}
	nftPktTypes = map[string]uint64{"host": 0, "unicast": 0, "broadcast": 1, "multicast": 2, "other": 3}
)

// nftPriorities are the named priorities (nft's standard priority names
// for the ip/ip6/inet families).
var nftPriorities = map[string]int{"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}

// parseNFTPriority reads "dstnat - 10", "filter", "-110", "srcnat+5".
func parseNFTPriority(words []string) (int, bool) {
	s := strings.Join(words, "")
	if s == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	name, off := s, 0
	if i := strings.IndexAny(s[1:], "+-"); i >= 0 {
		name = s[:i+1]
		n, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return 0, false
		}
		off = n
	}
	base, ok := nftPriorities[name]
	return base + off, ok
}

// parseLiteral reads one literal of type t: an address (with /len or a
// range), a number or range, a symbolic name (protocols, ct states, fib
// types), or an interface name.
func parseLiteral(t ntype, s string) (nval, bool) {
	switch t {
	case tyAddr4, tyAddr6:
		if a, b, ok := strings.Cut(s, "-"); ok {
			lo, err1 := netip.ParseAddr(a)
			hi, err2 := netip.ParseAddr(b)
			if err1 != nil || err2 != nil || lo.Is4() != hi.Is4() || hi.Less(lo) {
				return nval{}, false
			}
			return nval{ty: t, a0: lo.Unmap(), a1: hi.Unmap()}, true
		}
		p, ok := parsePrefix(s)
		if !ok {
			return nval{}, false
		}
		return nval{ty: t, a0: p.Masked().Addr(), a1: lastAddr(p)}, true
	case tyProto:
		if n, ok := parseProto(s); ok {
			return nvInt(t, uint64(n)), true
		}
		return nval{}, false
	case tyCtState, tyCtStatus, tyFibType, tyPktType:
		names := map[ntype]map[string]uint64{tyCtState: nftCtStates, tyCtStatus: nftCtStatus, tyFibType: nftFibTypes, tyPktType: nftPktTypes}[t]
		var bits uint64
		for _, w := range strings.Split(s, ",") {
			b, ok := names[w]
			if !ok {
				n, err := strconv.ParseUint(w, 0, 64)
				if err != nil {
					return nval{}, false
				}
				b = n
			}
			bits |= b
		}
		return nvInt(t, bits), true
	case tyNFProto:
		switch s {
		case "ipv4":
			return nvInt(t, 2), true
		case "ipv6":
			return nvInt(t, 10), true
		}
		return nval{}, false
	case tyCtDir:
		switch s {
		case "original":
			return nvInt(t, 0), true
		case "reply":
			return nvInt(t, 1), true
		}
		return nval{}, false
	case tyIface, tyString:
		if strings.HasSuffix(s, "*") && !strings.HasSuffix(s, "\\*") {
			return nval{ty: t, s: s[:len(s)-1], wild: true}, true
		}
		return nvStr(t, s), true
	case tyPort, tyInt:
		if a, b, ok := strings.Cut(s, "-"); ok && a != "" {
			lo, err1 := strconv.ParseUint(a, 0, 64)
			hi, err2 := strconv.ParseUint(b, 0, 64)
			if err1 != nil || err2 != nil || hi < lo {
				return nval{}, false
			}
			return nval{ty: t, i0: lo, i1: hi}, true
		}
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			if t == tyPort {
				if p, ok := wellKnownPorts[s]; ok {
					return nvInt(t, p), true
				}
			}
			return nval{}, false
		}
		if t == tyPort && n > 65535 {
			return nval{}, false
		}
		return nvInt(t, n), true
	}
	return nval{}, false
}

// wellKnownPorts are the service names `nft -S` prints for ports kube-proxy
// and clusters commonly use (/etc/services).
var wellKnownPorts = map[string]uint64{"http": 80, "https": 443, "domain": 53, "ssh": 22, "ntp": 123,
	"http-alt": 8080, "snmp": 161, "bgp": 179, "ldap": 389, "mysql": 3306, "postgresql": 5432, "kubernetes": 6443}

// lastAddr is the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	r, _ := netip.AddrFromSlice(b)
	return r
}

// ---------------------------------------------------------------- statements

// nexprKind says what an expression reads from the packet.
type nexprKind uint8

const (
	exLit     nexprKind = iota // a literal (s), typed by its context
	exPayload                  // proto + field (ip saddr, th dport, ...)
	exMeta                     // meta key
	exCT                       // ct [dir] key
	exFib                      // fib flags result
	exNumgen                   // numgen random|inc mod n offset o
	exConcat                   // args
	exBinop                    // op, args[0] op args[1]
	exSetRef                   // @name
	exAnon                     // anonymous set / map: elems
	exUnknown                  // s: what it was
)

// nexpr is one expression of a rule.
type nexpr struct {
	kind  nexprKind
	a, b  string // payload proto/field, meta key, ct dir/key, fib flags/result, numgen mode, binop op
	n, o  uint64 // numgen mod and offset
	s     string // literal text, set name, or unknown text
	args  []*nexpr
	elems []nelem // anonymous set/map elements
	ty    ntype   // the value type, when known
	v     []nval  // a literal (or concatenation of literals), typed
	// set is the anonymous set's lookup index, once typed.
	set *nindex
}

// nelem is an element of an anonymous set or map, before typing.
type nelem struct {
	key  []string
	data *nstmt   // verdict data (vmap)
	val  []string // value data (map)
	text string
	kv   []nval // typed key
	vv   []nval // typed value
}

// nstmtKind is what a statement does.
type nstmtKind uint8

const (
	stMatch   nstmtKind = iota // left op right
	stVmap                     // key vmap (set)
	stVerdict                  // verb (accept, drop, continue, return, jump, goto, queue) target
	stReject                   // s: with ...
	stNAT                      // verb dnat|snat|masquerade|redirect; addr, port exprs
	stMangle                   // left set right (meta mark set ..., ct mark set ...)
	stSetOp                    // verb add|update|delete @set { args }
	stNop                      // counter, log, limit, comment, xt comment/nfacct, notrack-less no-ops
	stNotrack                  // notrack
	stUnknown                  // s
)

// nstmt is one statement of a rule.
type nstmt struct {
	kind   nstmtKind
	verb   string
	op     string // match: ==, !=, <, >, <=, >=, in
	left   *nexpr
	right  *nexpr
	target string // jump/goto target, set name
	family string // dnat ip / ip6
	addr   *nexpr // NAT address (may be a map)
	port   *nexpr // NAT port
	flags  string
	s      string
}

// nftVerdictText renders a verdict statement ("goto X", "drop").
func nftVerdictText(s *nstmt) string {
	if s.target != "" {
		return s.verb + " " + s.target
	}
	return s.verb
}

// sortedSetNames is for stable output.
func sortedSetNames(m map[string]*NFTSet) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
