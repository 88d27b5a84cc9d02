package rules

import (
	"net/netip"
	"strconv"
	"strings"
)

// condKind says what a compiled condition tests. Every match iptables-save
// can print compiles to one or more conds; the ones the evaluator cannot
// decide become condUnknown and make the rule "not a match, uncertain".
type condKind uint8

const (
	condUnknown       condKind = iota // s = what was not understood
	condSrc                           // address: v4 in a/bits, or v6 at addrs[a] (fl&condV6)
	condDst                           //
	condProto                         // a = protocol number (0 = all)
	condInIface                       // s = name, fl&condWildcard for "eth+"
	condOutIface                      //
	condFragment                      // -f: matches non-first fragments only
	condSport                         // a = lo, b = hi
	condDport                         //
	condMultiSport                    // s = port list
	condMultiDport                    //
	condMultiPorts                    // s = port list, either direction
	condSrcType                       // a = addrtype bitmask
	condDstType                       //
	condStatRandom                    // s = printed probability
	condStatNth                       // a = every, b = packet
	condMark                          // a = value, b = mask
	condConnmark                      // a = value, b = mask
	condCtState                       // a = ctstate bitmask
	condCtStatus                      // a = ctstatus bitmask
	condCtDir                         // a = 0 ORIGINAL, 1 REPLY
	condCtOrigSrc                     // address like condSrc
	condCtOrigDst                     //
	condCtReplSrc                     //
	condCtOrigDstPort                 // a = lo, b = hi
	condCtProto                       // a = protocol number
	condRecent                        // s = list name, a = recent op/flags, b = seconds | hitcount<<32
	condSet                           // s = set name, a = direction bits, b = dimension count | flags<<8
	condTCPFlags                      // a = mask, b = comparison
	condICMP                          // icmp/icmp6 type: only ICMP packets match
	condPktType                       // a = pkttype
	condSrcRange                      // s = "a-b"
	condDstRange                      //
	condLimit                         // rate limit: first packet of a flow is within the burst
)

// cond flags.
const (
	condV6       uint8 = 1 << iota // address is in Ruleset.addrs
	condWildcard                   // interface name ends in '+'
)

// cond is one compiled condition of a rule. It is kept small (32 bytes)
// because a 700k-line dump holds about a million of them.
type cond struct {
	s    string
	b    uint64
	a    uint32
	kind condKind
	neg  bool
	bits uint8
	fl   uint8
}

// Conntrack states (xt_conntrack / xt_state).
const (
	ctInvalid uint32 = 1 << iota
	ctNew
	ctEstablished
	ctRelated
	ctUntracked
	ctSNAT
	ctDNAT
)

var ctStateNames = map[string]uint32{
	"INVALID": ctInvalid, "NEW": ctNew, "ESTABLISHED": ctEstablished,
	"RELATED": ctRelated, "UNTRACKED": ctUntracked, "SNAT": ctSNAT, "DNAT": ctDNAT,
}

// Conntrack status bits (--ctstatus, IPS_* in the kernel). NONE is the
// empty mask, which xt_conntrack never matches.
const (
	ctsNone     uint32 = 0
	ctsExpected uint32 = 1 << iota
	ctsSeenReply
	ctsAssured
	ctsConfirmed
)

var ctStatusNames = map[string]uint32{
	"NONE": ctsNone, "EXPECTED": ctsExpected, "SEEN_REPLY": ctsSeenReply,
	"ASSURED": ctsAssured, "CONFIRMED": ctsConfirmed,
}

// Address types (xt_addrtype, the kernel's RTN_* route types).
const (
	atUnspec uint32 = 1 << iota
	atUnicast
	atLocal
	atBroadcast
	atAnycast
	atMulticast
	atBlackhole
	atUnreachable
	atProhibit
	atThrow
	atNAT
	atXResolve
)

var addrTypeNames = map[string]uint32{
	"UNSPEC": atUnspec, "UNICAST": atUnicast, "LOCAL": atLocal, "BROADCAST": atBroadcast,
	"ANYCAST": atAnycast, "MULTICAST": atMulticast, "BLACKHOLE": atBlackhole,
	"UNREACHABLE": atUnreachable, "PROHIBIT": atProhibit, "THROW": atThrow,
	"NAT": atNAT, "XRESOLVE": atXResolve,
}

// recent ops and flags (xt_recent), packed in cond.a.
const (
	recentSet uint32 = 1 << iota
	recentRcheck
	recentUpdate
	recentRemove
	recentReap
	recentRdest
	recentRttl
)

// set match flags packed above the dimension count in cond.b.
const (
	setReturnNomatch uint64 = 1 << (8 + iota)
)

// protoNumbers maps the names iptables prints for -p to numbers. iptables
// prints names from /etc/protocols when it has them, numbers otherwise.
var protoNumbers = map[string]uint32{
	"all": 0, "tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58,
	"icmp6": 58, "udplite": 136, "dccp": 33, "gre": 47, "esp": 50, "ah": 51, "igmp": 2,
	"ipip": 4, "ipencap": 4, "mh": 135, "ospf": 89, "vrrp": 112, "pim": 103,
}

// Protocol numbers of the packets we evaluate.
const (
	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

// compiler turns one rule's words into conds. It is reused across the
// rules of a chain to keep compiling allocation-free in the common case.
type compiler struct {
	code *chainCode
	raw  string // the current rule's line
	// problems collects what was not understood in the current rule, as
	// human-readable fragments; each becomes a condUnknown and a warning.
	problems []string
	// buf holds the current rule's conds until they are copied to the chain.
	buf []cond
	// mod is the module being read; toks and ends are the split words.
	// All are reused from rule to rule and, through Ruleset.scratch, from
	// chain to chain (compiling is serialised by compileMu).
	mod  modState
	toks []string
	ends []int32
}

// compile materialises the chain's rules from their records and compiles
// them (run once, under the ruleset's compile lock; see compiled).
func (ch *Chain) compile() *chainCode { return ch.compileSpan(0, int(ch.n)) }

// compileSpan compiles rules lo..lo+n-1 of the chain (0-based) into a code
// of their own; the evaluator's prefilter compiles single rules this way.
// Must be called under the ruleset's compile lock.
func (ch *Chain) compileSpan(lo, n int) *chainCode {
	rs := ch.table.rs
	code := &chainCode{rules: make([]Rule, n), conds: make([]cond, 0, 2*n)}
	c := rs.scratch
	if c == nil {
		c = &compiler{toks: make([]string, 0, 64), ends: make([]int32, 0, 64)}
		rs.scratch = c
	}
	c.code = code
	toks, ends := c.toks, c.ends
	warn := func(r *Rule, msg string) {
		code.warnings = append(code.warnings, Warning{Source: rs.Source, Line: r.Line(), Table: string(ch.table.Name),
			Chain: ch.Name, Rule: r.Num(), Message: msg})
	}
	idx := rs.scattered[ch]
	for i := range code.rules {
		k := lo + i
		ri := ch.first + int32(k)
		if idx != nil {
			ri = idx[k]
		}
		rec := rs.recAt(ri)
		r := &code.rules[i]
		r.chain, r.off, r.n, r.line, r.num = ch, rec.off, rec.n, rec.line, int32(k+1)
		if rec.line == rs.truncLine {
			r.flags |= ruleTruncated
		}
		var serr splitErr
		raw := r.Raw()
		toks, ends, serr = splitEnds(raw, toks[:0], ends[:0])
		j := 0
		if len(toks) > 0 && len(toks[0]) > 0 && toks[0][0] == '[' {
			j = 1
		}
		j += 2 // "-A CHAIN", checked by the parser
		if j > len(toks) {
			j = len(toks)
		}
		c.raw = raw
		if bad := c.compileRule(r, toks[j:], ends[j:]); bad != "" {
			r.flags |= ruleMalformed
			warn(r, bad)
		}
		if serr == splitUnterminated {
			r.flags |= ruleMalformed
			warn(r, "unterminated quote (line cut off?)")
		}
		for _, cd := range r.conds(code) {
			if cd.kind == condUnknown {
				warn(r, "not understood: "+cd.s)
			}
		}
	}
	c.toks, c.ends, c.code = toks[:0], ends[:0], nil
	return code
}

// compileRule compiles toks (the words after "-A CHAIN") into r, appending
// its conds to the chain's code. It returns a description when the rule is
// malformed (an option is missing its argument), which the caller reports.
//
// A malformed rule keeps the conditions read before the break: the
// evaluator never matches it (it is reported instead), but a condition that
// definitely fails still decides "no match" silently, as for every rule —
// which is what lets the evaluator's prefilter skip rules by their leading
// `-d` without reading their ends (see prefilter.go). Likewise a rule with
// more than maxConds conditions keeps the first maxConds.
func (c *compiler) compileRule(r *Rule, toks []string, ends []int32) (malformed string) {
	c.buf = c.buf[:0]
	c.problems = c.problems[:0]
	malformed = c.compileWords(r, toks, ends)
	for _, p := range c.problems {
		c.add(cond{kind: condUnknown, s: p})
	}
	if len(c.problems) > 0 {
		r.flags |= ruleUnknown
	}
	if len(c.buf) > maxConds {
		c.buf = append(c.buf[:maxConds], cond{kind: condUnknown, s: "too many matches in one rule"})
		r.flags |= ruleUnknown
	}
	r.cond0 = uint32(len(c.code.conds))
	r.ncond = uint16(len(c.buf))
	c.code.conds = append(c.code.conds, c.buf...)
	return malformed
}

// compileWords reads the words into c.buf and c.problems.
func (c *compiler) compileWords(r *Rule, toks []string, ends []int32) (malformed string) {
	neg := false
	i := 0
	n := len(toks)
	mod := &c.mod
	*mod = modState{recentOther: mod.recentOther[:0]}
	flush := func() {
		if mod.name != "" {
			c.flushModule(mod)
		}
		*mod = modState{recentOther: mod.recentOther[:0]}
	}
	arg := func() (string, bool) {
		if i+1 >= n {
			return "", false
		}
		i++
		return toks[i], true
	}
	for ; i < n; i++ {
		t := toks[i]
		if t == "!" {
			neg = true
			continue
		}
		if len(t) < 2 || t[0] != '-' {
			c.unknown("unexpected word " + strconv.Quote(t))
			neg = false
			continue
		}
		switch t {
		case "-s", "--source", "--src", "-d", "--destination", "--dst":
			flush()
			v, ok := arg()
			if !ok {
				return "option " + t + " needs an address"
			}
			kind := condSrc
			if t[1] == 'd' || t == "--destination" || t == "--dst" {
				kind = condDst
			}
			c.addAddr(kind, v, neg, t)
		case "-p", "--protocol":
			flush()
			v, ok := arg()
			if !ok {
				return "option -p needs a protocol"
			}
			if num, ok := parseProto(v); ok {
				if num == 0 && !neg {
					break // -p all matches everything
				}
				c.add(cond{kind: condProto, a: num, neg: neg})
			} else {
				c.unknown("protocol " + strconv.Quote(v))
			}
		case "-i", "--in-interface", "-o", "--out-interface":
			flush()
			v, ok := arg()
			if !ok {
				return "option " + t + " needs an interface"
			}
			kind := condInIface
			if t == "-o" || t == "--out-interface" {
				kind = condOutIface
			}
			cd := cond{kind: kind, s: v, neg: neg}
			if strings.HasSuffix(v, "+") {
				cd.s = v[:len(v)-1]
				cd.fl |= condWildcard
			}
			c.add(cd)
		case "-f", "--fragment":
			flush()
			c.add(cond{kind: condFragment, neg: neg})
		case "-m", "--match":
			flush()
			v, ok := arg()
			if !ok {
				return "option -m needs a module name"
			}
			mod.name = v
		case "-j", "--jump", "-g", "--goto":
			flush()
			v, ok := arg()
			if !ok {
				return "option " + t + " needs a target"
			}
			end := uint32(ends[i])
			if start := end - uint32(len(v)); end >= uint32(len(v)) && c.raw[start:end] == v {
				r.tgt0, r.tgt1 = start, end
			} else {
				// quoted or escaped target name
				if c.code.targets == nil {
					c.code.targets = map[int32]string{}
				}
				c.code.targets[r.num] = v
				r.flags |= ruleQuotedTarget
				r.tgt0, r.tgt1 = end, end
			}
			if t == "-g" || t == "--goto" {
				r.flags |= ruleGoto
			}
			i = n // the rest belongs to the target
		case "-c", "--set-counters":
			flush()
			if i+2 >= n {
				return "option -c needs packet and byte counts"
			}
			i += 2
		case "-4", "--ipv4", "-6", "--ipv6":
			// family selectors for iptables-restore-translate; no match.
		default:
			// A module option. iptables allows --dport after -p tcp without
			// -m tcp (the protocol module is loaded implicitly).
			if mod.name == "" {
				if p := implicitModule(t, c.buf); p != "" {
					mod.name = p
				}
			}
			if mod.name == "" {
				c.unknown("option " + t + " outside any match module")
				// skip its argument, if it looks like one
				if i+1 < n && !strings.HasPrefix(toks[i+1], "-") && toks[i+1] != "!" {
					i++
				}
				break
			}
			var bad string
			i, bad = c.moduleOption(mod, toks, i, neg)
			if bad != "" {
				return bad
			}
		}
		neg = false
	}
	flush()
	return ""
}

// maxConds is far above any real rule; it bounds a hostile one.
const maxConds = 1024

// implicitModule returns the protocol module an option belongs to when it
// appears without -m (only the protocol modules are loaded implicitly).
func implicitModule(opt string, conds []cond) string {
	switch opt {
	case "--dport", "--sport", "--destination-port", "--source-port", "--tcp-flags", "--syn":
	default:
		return ""
	}
	for _, cd := range conds {
		if cd.kind == condProto && !cd.neg {
			switch cd.a {
			case protoTCP:
				return "tcp"
			case protoUDP:
				return "udp"
			case protoSCTP:
				return "sctp"
			}
		}
	}
	return ""
}

func (c *compiler) add(cd cond) { c.buf = append(c.buf, cd) }

func (c *compiler) unknown(what string) { c.problems = append(c.problems, what) }

// addAddr compiles -s/-d (and conntrack's address options).
func (c *compiler) addAddr(kind condKind, v string, neg bool, opt string) {
	p, ok := parsePrefix(v)
	if !ok {
		c.unknown(opt + " " + strconv.Quote(v) + " is not an address or CIDR")
		return
	}
	if p.Bits() == 0 && !neg {
		return // 0.0.0.0/0 matches everything
	}
	cd := cond{kind: kind, neg: neg, bits: uint8(p.Bits())}
	if p.Addr().Is4() {
		if c.code.family == FamilyUnknown {
			c.code.family = IPv4
		}
		b := p.Addr().As4()
		cd.a = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	} else {
		if c.code.family == FamilyUnknown {
			c.code.family = IPv6
		}
		cd.fl |= condV6
		cd.a = uint32(len(c.code.addrs))
		c.code.addrs = append(c.code.addrs, p)
	}
	c.add(cd)
}

// parsePrefix parses what iptables prints for an address: "10.0.0.1",
// "10.0.0.0/8", "10.0.0.0/255.0.0.0" (non-CIDR masks print dotted; only
// contiguous ones are accepted), and the IPv6 forms.
func parsePrefix(v string) (netip.Prefix, bool) {
	addrPart, maskPart, hasMask := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addrPart)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	bits := a.BitLen()
	if hasMask {
		if n, err := strconv.Atoi(maskPart); err == nil {
			if n < 0 || n > a.BitLen() {
				return netip.Prefix{}, false
			}
			bits = n
		} else {
			m, err := netip.ParseAddr(maskPart)
			if err != nil || m.BitLen() != a.BitLen() {
				return netip.Prefix{}, false
			}
			n, ok := maskBits(m.AsSlice())
			if !ok {
				return netip.Prefix{}, false
			}
			bits = n
		}
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}

// maskBits converts a contiguous netmask to its prefix length.
func maskBits(m []byte) (int, bool) {
	n := 0
	seenZero := false
	for _, b := range m {
		for i := 7; i >= 0; i-- {
			if b&(1<<i) != 0 {
				if seenZero {
					return 0, false
				}
				n++
			} else {
				seenZero = true
			}
		}
	}
	return n, true
}

func parseProto(v string) (uint32, bool) {
	if n, ok := protoNumbers[strings.ToLower(v)]; ok {
		return n, true
	}
	if n, err := strconv.ParseUint(v, 10, 8); err == nil {
		return uint32(n), true
	}
	return 0, false
}

// parsePortRange parses "80" or "80:90" (iptables also accepts an open end,
// ":90" or "80:").
func parsePortRange(v string) (lo, hi uint64, ok bool) {
	a, b, isRange := strings.Cut(v, ":")
	if !isRange {
		p, err := strconv.ParseUint(v, 10, 16)
		return p, p, err == nil
	}
	lo, hi = 0, 65535
	var err error
	if a != "" {
		if lo, err = strconv.ParseUint(a, 10, 16); err != nil {
			return 0, 0, false
		}
	}
	if b != "" {
		if hi, err = strconv.ParseUint(b, 10, 16); err != nil {
			return 0, 0, false
		}
	}
	return lo, hi, lo <= hi
}

// modState accumulates one `-m MODULE` instance's options; some modules
// (statistic, recent) need several options before they mean anything.
type modState struct {
	name string
	// statistic
	statMode   string
	statProb   string
	statNeg    bool
	statEvery  uint64
	statPacket uint64
	statSeen   bool
	// recent
	recentName  string
	recentOps   uint32
	recentNeg   bool
	recentSecs  uint64
	recentHits  uint64
	recentSeen  bool
	recentOther []string
}

// moduleOption handles toks[i], an option of module mod. It returns the
// index of the last word consumed, or a non-empty string when the option is
// missing its arguments.
func (c *compiler) moduleOption(mod *modState, toks []string, i int, neg bool) (int, string) {
	opt := toks[i]
	n := len(toks)
	// The old syntax put the negation after the option ("--dport ! 80");
	// iptables still accepts it, so skip a "!" before the arguments.
	argStart := i + 1
	if argStart < n && toks[argStart] == "!" && opt != "--comment" {
		neg = !neg
		argStart++
	}
	need := func(k int) ([]string, bool) {
		if argStart+k > n {
			return nil, false
		}
		return toks[argStart : argStart+k], true
	}
	one := func() (string, int, string) {
		a, ok := need(1)
		if !ok {
			return "", n - 1, "option " + opt + " of -m " + mod.name + " needs an argument"
		}
		return a[0], argStart, ""
	}
	switch mod.name {
	case "tcp", "udp", "sctp", "udplite", "dccp":
		switch opt {
		case "--dport", "--destination-port", "--sport", "--source-port":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			lo, hi, ok := parsePortRange(v)
			if !ok {
				c.unknown(opt + " " + strconv.Quote(v))
				return j, ""
			}
			kind := condDport
			if opt == "--sport" || opt == "--source-port" {
				kind = condSport
			}
			c.add(cond{kind: kind, a: uint32(lo), b: hi, neg: neg})
			return j, ""
		case "--tcp-flags":
			a, ok := need(2)
			if !ok {
				return n - 1, "option --tcp-flags needs a mask and a comparison"
			}
			m, ok1 := parseTCPFlags(a[0])
			cmp, ok2 := parseTCPFlags(a[1])
			if !ok1 || !ok2 {
				c.unknown("--tcp-flags " + a[0] + " " + a[1])
			} else {
				c.add(cond{kind: condTCPFlags, a: m, b: uint64(cmp), neg: neg})
			}
			return argStart + 1, ""
		case "--syn":
			// --syn is --tcp-flags SYN,RST,ACK,FIN SYN (libxt_tcp).
			c.add(cond{kind: condTCPFlags, a: tcpSYN | tcpRST | tcpACK | tcpFIN, b: uint64(tcpSYN), neg: neg})
			return i, ""
		}
	case "multiport":
		switch opt {
		case "--dports", "--destination-ports", "--sports", "--source-ports", "--ports":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			if !validPortList(v) {
				c.unknown(opt + " " + strconv.Quote(v))
				return j, ""
			}
			kind := condMultiDport
			switch opt {
			case "--sports", "--source-ports":
				kind = condMultiSport
			case "--ports":
				kind = condMultiPorts
			}
			c.add(cond{kind: kind, s: v, neg: neg})
			return j, ""
		}
	case "comment":
		if opt == "--comment" {
			_, j, bad := one()
			// A multi-word comment printed without quotes (kube-proxy's own
			// test fixtures and restore input logged at -v=9 look like
			// that; iptables-save always quotes) continues up to the next
			// option: take those words as part of it rather than as
			// unknown words.
			for bad == "" && j+1 < n && toks[j+1] != "!" && !strings.HasPrefix(toks[j+1], "-") {
				j++
			}
			return j, bad
		}
	case "nfacct":
		// Accounting only: always matches.
		if opt == "--nfacct-name" {
			_, j, bad := one()
			return j, bad
		}
	case "statistic":
		mod.statSeen = true
		switch opt {
		case "--mode":
			v, j, bad := one()
			mod.statMode = v
			return j, bad
		case "--probability":
			v, j, bad := one()
			mod.statProb = v
			mod.statNeg = neg
			return j, bad
		case "--every", "--packet":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			x, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				c.unknown("statistic " + opt + " " + strconv.Quote(v))
				return j, ""
			}
			if opt == "--every" {
				mod.statEvery = x
				mod.statNeg = neg
			} else {
				mod.statPacket = x
			}
			return j, ""
		}
	case "recent":
		mod.recentSeen = true
		switch opt {
		case "--name":
			v, j, bad := one()
			mod.recentName = v
			return j, bad
		case "--set", "--rcheck", "--update", "--remove":
			mod.recentOps |= recentOps[opt]
			if neg {
				mod.recentNeg = true
			}
			return i, ""
		case "--seconds", "--hitcount":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			x, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				c.unknown("recent " + opt + " " + strconv.Quote(v))
				return j, ""
			}
			if opt == "--seconds" {
				mod.recentSecs = x
			} else {
				mod.recentHits = x
			}
			return j, ""
		case "--reap":
			mod.recentOps |= recentReap
			return i, ""
		case "--rttl":
			mod.recentOps |= recentRttl
			return i, ""
		case "--rsource":
			return i, ""
		case "--rdest":
			mod.recentOps |= recentRdest
			return i, ""
		case "--mask":
			v, j, bad := one()
			if bad == "" && v != "255.255.255.255" && v != "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" {
				mod.recentOther = append(mod.recentOther, "--mask "+v)
			}
			return j, bad
		}
	case "mark", "connmark":
		if opt == "--mark" {
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			val, mask, ok := parseMark(v)
			if !ok {
				c.unknown("--mark " + strconv.Quote(v))
				return j, ""
			}
			kind := condMark
			if mod.name == "connmark" {
				kind = condConnmark
			}
			c.add(cond{kind: kind, a: val, b: uint64(mask), neg: neg})
			return j, ""
		}
	case "conntrack", "state":
		switch opt {
		case "--ctstate", "--state":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			bits, ok := parseFlagList(v, ctStateNames)
			if !ok {
				c.unknown(opt + " " + v)
				return j, ""
			}
			c.add(cond{kind: condCtState, a: bits, neg: neg})
			return j, ""
		case "--ctstatus":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			bits, ok := parseFlagList(v, ctStatusNames)
			if !ok {
				c.unknown(opt + " " + v)
				return j, ""
			}
			c.add(cond{kind: condCtStatus, a: bits, neg: neg})
			return j, ""
		case "--ctdir":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			switch v {
			case "ORIGINAL":
				c.add(cond{kind: condCtDir, a: 0, neg: neg})
			case "REPLY":
				c.add(cond{kind: condCtDir, a: 1, neg: neg})
			default:
				c.unknown("--ctdir " + v)
			}
			return j, ""
		case "--ctorigsrc", "--ctorigdst", "--ctreplsrc":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			kind := condCtOrigSrc
			switch opt {
			case "--ctorigdst":
				kind = condCtOrigDst
			case "--ctreplsrc":
				kind = condCtReplSrc
			}
			c.addAddr(kind, v, neg, opt)
			return j, ""
		case "--ctorigdstport":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			lo, hi, ok := parsePortRange(v)
			if !ok {
				c.unknown(opt + " " + v)
				return j, ""
			}
			c.add(cond{kind: condCtOrigDstPort, a: uint32(lo), b: hi, neg: neg})
			return j, ""
		case "--ctproto":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			num, ok := parseProto(v)
			if !ok {
				c.unknown(opt + " " + v)
				return j, ""
			}
			c.add(cond{kind: condCtProto, a: num, neg: neg})
			return j, ""
		}
	case "addrtype":
		switch opt {
		case "--src-type", "--dst-type":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			bits, ok := parseFlagList(v, addrTypeNames)
			if !ok {
				c.unknown(opt + " " + v)
				return j, ""
			}
			kind := condSrcType
			if opt == "--dst-type" {
				kind = condDstType
			}
			c.add(cond{kind: kind, a: bits, neg: neg})
			return j, ""
		case "--limit-iface-in", "--limit-iface-out":
			c.unknown("addrtype " + opt + " (the type is looked up on one interface only)")
			return i, ""
		}
	case "set":
		switch opt {
		case "--match-set", "--set":
			a, ok := need(2)
			if !ok {
				return n - 1, "option --match-set needs a set name and flags"
			}
			dirs, dims, ok := parseSetFlags(a[1])
			if !ok {
				c.unknown("--match-set " + a[0] + " " + a[1])
				return argStart + 1, ""
			}
			c.add(cond{kind: condSet, s: a[0], a: dirs, b: uint64(dims), neg: neg})
			return argStart + 1, ""
		case "--return-nomatch":
			c.markLastSet(setReturnNomatch)
			return i, ""
		case "--update-counters", "--update-subcounters":
			return i, "" // counters only; "! --update-counters" too
		}
	case "limit":
		switch opt {
		case "--limit", "--limit-burst":
			_, j, bad := one()
			if bad == "" && !c.lastIs(condLimit) {
				c.add(cond{kind: condLimit})
			}
			return j, bad
		}
	case "icmp", "icmp6", "ipv6-icmp":
		switch opt {
		case "--icmp-type", "--icmpv6-type":
			_, j, bad := one()
			if bad == "" {
				c.add(cond{kind: condICMP, neg: neg})
			}
			return j, bad
		}
	case "pkttype":
		if opt == "--pkt-type" {
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			t, ok := pktTypes[strings.ToLower(v)]
			if !ok {
				c.unknown("--pkt-type " + v)
				return j, ""
			}
			c.add(cond{kind: condPktType, a: t, neg: neg})
			return j, ""
		}
	case "iprange":
		switch opt {
		case "--src-range", "--dst-range":
			v, j, bad := one()
			if bad != "" {
				return j, bad
			}
			if _, _, ok := parseIPRange(v); !ok {
				c.unknown(opt + " " + v)
				return j, ""
			}
			kind := condSrcRange
			if opt == "--dst-range" {
				kind = condDstRange
			}
			c.add(cond{kind: kind, s: v, neg: neg})
			return j, ""
		}
	default:
		// A module we do not model. Consume its options as best we can
		// (an option takes the following word when it does not look like
		// another option) and report it once.
		j := i
		if i+1 < n && !strings.HasPrefix(toks[i+1], "-") && toks[i+1] != "!" {
			j = i + 1
		}
		text := opt
		if j > i {
			text += " " + toks[j]
		}
		if neg {
			text = "! " + text
		}
		c.unknown("-m " + mod.name + " " + text)
		return j, ""
	}
	// Known module, unknown option.
	j := i
	if i+1 < n && !strings.HasPrefix(toks[i+1], "-") && toks[i+1] != "!" {
		j = i + 1
	}
	c.unknown("-m " + mod.name + " option " + opt)
	return j, ""
}

func (c *compiler) lastIs(k condKind) bool {
	return len(c.buf) > 0 && c.buf[len(c.buf)-1].kind == k
}

func (c *compiler) markLastSet(fl uint64) {
	if c.lastIs(condSet) {
		c.buf[len(c.buf)-1].b |= fl
	}
}

// flushModule emits the conds of modules that need all their options first.
func (c *compiler) flushModule(mod *modState) {
	switch mod.name {
	case "statistic":
		switch mod.statMode {
		case "random":
			if mod.statProb == "" {
				c.unknown("statistic --mode random without --probability")
				return
			}
			if _, ok := parseProbability(mod.statProb); !ok {
				c.unknown("statistic --probability " + strconv.Quote(mod.statProb))
				return
			}
			c.add(cond{kind: condStatRandom, s: mod.statProb, neg: mod.statNeg})
		case "nth":
			if mod.statEvery == 0 || mod.statPacket >= mod.statEvery {
				c.unknown("statistic --mode nth with bad --every/--packet")
				return
			}
			c.add(cond{kind: condStatNth, a: uint32(mod.statEvery), b: mod.statPacket, neg: mod.statNeg})
		default:
			c.unknown("statistic --mode " + strconv.Quote(mod.statMode))
		}
	case "recent":
		if len(mod.recentOther) > 0 {
			c.unknown("recent " + strings.Join(mod.recentOther, " "))
			return
		}
		name := mod.recentName
		if name == "" {
			name = "DEFAULT" // xt_recent's default list name
		}
		ops := mod.recentOps
		if ops&(recentSet|recentRcheck|recentUpdate|recentRemove) == 0 {
			c.unknown("recent without --set/--rcheck/--update/--remove")
			return
		}
		c.add(cond{kind: condRecent, s: name, a: ops, b: mod.recentSecs | mod.recentHits<<32, neg: mod.recentNeg})
	}
}

// TCP flag bits.
const (
	tcpFIN uint32 = 1 << iota
	tcpSYN
	tcpRST
	tcpPSH
	tcpACK
	tcpURG
	tcpECE
	tcpCWR
)

var tcpFlagNames = map[string]uint32{"FIN": tcpFIN, "SYN": tcpSYN, "RST": tcpRST, "PSH": tcpPSH,
	"ACK": tcpACK, "URG": tcpURG, "ECE": tcpECE, "CWR": tcpCWR, "ALL": 0xff, "NONE": 0}

var recentOps = map[string]uint32{"--set": recentSet, "--rcheck": recentRcheck, "--update": recentUpdate, "--remove": recentRemove}

// pktTypes: xt_pkttype's names; "host" is the kernel's name for unicast.
var pktTypes = map[string]uint32{"unicast": 0, "host": 0, "broadcast": 1, "multicast": 2}

func parseTCPFlags(v string) (uint32, bool) { return parseFlagList(v, tcpFlagNames) }

// parseFlagList parses a comma-separated list of names into a bitmask.
func parseFlagList(v string, names map[string]uint32) (uint32, bool) {
	var bits uint32
	for v != "" {
		var w string
		w, v, _ = strings.Cut(v, ",")
		b, ok := names[strings.ToUpper(w)]
		if !ok {
			return 0, false
		}
		bits |= b
	}
	return bits, true
}

// parseMark parses "0x4000", "0x4000/0x4000" or decimal forms.
func parseMark(v string) (val, mask uint32, ok bool) {
	a, b, hasMask := strings.Cut(v, "/")
	x, err := strconv.ParseUint(a, 0, 32)
	if err != nil {
		return 0, 0, false
	}
	m := uint64(0xffffffff)
	if hasMask {
		if m, err = strconv.ParseUint(b, 0, 32); err != nil {
			return 0, 0, false
		}
	}
	return uint32(x), uint32(m), true
}

// parseSetFlags parses "src,dst,dst": bit i set means dimension i is taken
// from the source.
func parseSetFlags(v string) (dirs uint32, dims int, ok bool) {
	for v != "" {
		var w string
		w, v, _ = strings.Cut(v, ",")
		switch w {
		case "src":
			dirs |= 1 << dims
		case "dst":
		default:
			return 0, 0, false
		}
		dims++
		if dims > 6 {
			return 0, 0, false
		}
	}
	return dirs, dims, dims > 0
}

func validPortList(v string) bool {
	if v == "" {
		return false
	}
	for v != "" {
		var w string
		w, v, _ = strings.Cut(v, ",")
		if _, _, ok := parsePortRange(w); !ok {
			return false
		}
	}
	return true
}

// portInList reports whether port is in a multiport list like "80,443,8000:8080".
func portInList(list string, port uint16) bool {
	for list != "" {
		var w string
		w, list, _ = strings.Cut(list, ",")
		lo, hi, ok := parsePortRange(w)
		if ok && uint64(port) >= lo && uint64(port) <= hi {
			return true
		}
	}
	return false
}

func parseIPRange(v string) (netip.Addr, netip.Addr, bool) {
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		b = a
	}
	lo, err1 := netip.ParseAddr(a)
	hi, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil || lo.BitLen() != hi.BitLen() || hi.Less(lo) {
		return netip.Addr{}, netip.Addr{}, false
	}
	return lo, hi, true
}
