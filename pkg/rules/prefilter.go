package rules

import (
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
)

// The first evaluation on a freshly parsed dump must not compile all of
// kube-proxy's KUBE-SERVICES (one rule per service port: tens of thousands
// of rules on a big cluster) to find the two or three that concern one
// destination. Long chains are therefore not compiled as a whole by the
// evaluator: on first use each rule's line is scanned once for the
// conditions that rule most of them out — its `-d` prefix, its `-p`
// protocol and its `--dport` — and only rules that can match the packet are
// compiled, one at a time, and cached.
//
// The scan is exact by construction. It reads the words from the start of
// the rule exactly as the compiler splits and consumes them (a whitelist of
// options with their arities: `!`, -s/-d/-i/-o/-p ARG, -m tcp|udp|sctp|comment,
// --comment with kube-proxy's continuation words, --dport ARG, -j/-g) and
// stops at the first word it does not know or that holds a quote it cannot
// read exactly. Every condition it recorded before stopping is therefore a
// condition of the compiled rule — the compiler keeps the conditions read
// before a malformed word and the first maxConds of an overlong rule (see
// compileRule) — and when one of them definitely fails for the packet the
// evaluator's match says "no match" without a warning. Skipping the rule
// gives exactly that result, so the prefilter changes timings, never
// answers (TestPrefilterExact and FuzzPrefilter check it).

// lazyMinRules is the chain length from which the evaluator uses the
// prefilter instead of compiling the chain as a whole.
const lazyMinRules = 64

// maxScanWords bounds the words the scanner reads on one line; longer
// lines are opaque (the compiler caps a rule's conditions too).
const maxScanWords = 64

// preRec is what the scan learnt about one rule.
type preRec struct {
	dst      uint32 // IPv4 address, or index into preIndex.v6
	dlo, dhi uint16 // --dport range
	bits     uint8  // -d prefix length
	fl       uint8
	proto    uint8
}

const (
	preOpaque uint8 = 1 << iota // compile and evaluate it
	preDst                      // -d dst/bits (IPv4)
	preDst6                     // -d v6[dst]
	preProto                    // -p proto
	preDport                    // --dport dlo:dhi
)

// preIndex is a long chain's prefilter: one record per rule, and the
// rules compiled so far (each its own one-rule chainCode). The records are
// filled in blocks as the evaluator reaches them, so a packet that is
// DNATed by a rule early in KUBE-SERVICES never pays for the rest.
type preIndex struct {
	recs []preRec
	// v6 holds, per rule, the IPv6 `-d` prefix (allocated at the first).
	v6  atomic.Pointer[[]netip.Prefix]
	one []atomic.Pointer[chainCode]
	// upto: recs[:upto] are filled (published by the atomic store).
	upto atomic.Int32
}

// preBlock is how many records are filled at a time.
const preBlock = 2048

// prefilter returns the chain's prefilter, creating it on first use.
func (c *Chain) prefilter() *preIndex {
	if px := c.pre.Load(); px != nil {
		return px
	}
	rs := c.table.rs
	rs.compileMu.Lock()
	defer rs.compileMu.Unlock()
	if px := c.pre.Load(); px != nil {
		return px
	}
	px := &preIndex{recs: make([]preRec, c.n), one: make([]atomic.Pointer[chainCode], c.n)}
	c.pre.Store(px)
	return px
}

// fill makes sure record i is filled, scanning the next block of rules
// (under the ruleset's compile lock) when it is not.
func (px *preIndex) fill(c *Chain, i int) {
	if i < int(px.upto.Load()) {
		return
	}
	rs := c.table.rs
	rs.compileMu.Lock()
	defer rs.compileMu.Unlock()
	from := int(px.upto.Load())
	if i < from {
		return
	}
	to := min(len(px.recs), max(i+1, from+preBlock))
	idx := rs.scattered[c]
	// Nearly every rule of KUBE-SERVICES starts with an IPv4 -d, which
	// the parser noted (Ruleset.lead, in record order): walk that list
	// beside the records instead of reading the lines.
	lead := rs.lead
	li := 0
	if idx == nil {
		start := c.first + int32(from)
		li = sort.Search(len(lead), func(j int) bool { return lead[j].rec >= start })
	}
	for k := from; k < to; k++ {
		ri := c.first + int32(k)
		if idx != nil {
			ri = idx[k]
			li = sort.Search(len(lead), func(j int) bool { return lead[j].rec >= ri })
		}
		for li < len(lead) && lead[li].rec < ri {
			li++
		}
		rec := rs.recAt(ri)
		if rec.line == rs.truncLine {
			px.recs[k].fl = preOpaque
			continue
		}
		if li < len(lead) && lead[li].rec == ri {
			if d := lead[li]; d.bits > 0 {
				px.recs[k] = preRec{dst: d.addr, bits: d.bits, fl: preDst}
			}
			continue
		}
		r, p6 := scanRule(rs.text[rec.off:rec.off+rec.n], c.Name)
		if r.fl&preDst6 != 0 {
			v6 := px.v6.Load()
			if v6 == nil {
				s := make([]netip.Prefix, len(px.recs))
				v6 = &s
				px.v6.Store(v6)
			}
			(*v6)[k] = p6
		}
		px.recs[k] = r
	}
	px.upto.Store(int32(to))
}

// skip reports whether rule i provably cannot match a packet to dst:dport
// of protocol proto.
func (px *preIndex) skip(c *Chain, i int, dst netip.Addr, dport uint16, proto uint32) bool {
	px.fill(c, i)
	r := &px.recs[i]
	if r.fl&preOpaque != 0 {
		return false
	}
	if r.fl&preDst != 0 {
		if !dst.Is4() {
			return true
		}
		b := dst.As4()
		x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		mask := ^uint32(0) << (32 - uint32(r.bits))
		if x&mask != r.dst&mask {
			return true
		}
	} else if r.fl&preDst6 != 0 && !(*px.v6.Load())[i].Contains(dst) {
		return true
	}
	if r.fl&preProto != 0 && uint32(r.proto) != proto {
		return true
	}
	if r.fl&preDport != 0 && (dport < r.dlo || dport > r.dhi) {
		return true
	}
	return false
}

// rule returns rule i compiled (on its own), compiling it on first use.
func (px *preIndex) rule(c *Chain, i int) *chainCode {
	if code := px.one[i].Load(); code != nil {
		return code
	}
	rs := c.table.rs
	rs.compileMu.Lock()
	defer rs.compileMu.Unlock()
	if code := px.one[i].Load(); code != nil {
		return code
	}
	code := c.compileSpan(i, 1)
	px.one[i].Store(code)
	return code
}

// scanRule reads one rule line of chain along the whitelisted grammar.
// An IPv6 `-d` prefix is returned beside the record.
func scanRule(line, chain string) (r preRec, v6 netip.Prefix) {
	if strings.IndexByte(chain, '"') >= 0 {
		return r, v6 // the compiler splits such a line differently
	}
	if r, ok := scanKubeProxyRule(line, chain); ok {
		return r, v6
	}
	s := line
	if len(s) > 4+len(chain) && s[:3] == "-A " && s[3:3+len(chain)] == chain && s[3+len(chain)] == ' ' {
		s = s[4+len(chain):] // the common form, read without splitting
	} else {
		w, rest := nextWord(s)
		if len(w) > 0 && w[0] == '[' {
			if strings.IndexByte(w, '"') >= 0 {
				return r, v6
			}
			w, rest = nextWord(rest)
		}
		if w != "-A" && w != "--append" {
			return r, v6
		}
		if w, rest = nextWord(rest); w == "" || strings.IndexByte(w, '"') >= 0 {
			return r, v6
		}
		s = rest
	}
	mod := ""     // current -m module
	protoOK := "" // non-negated -p tcp/udp/sctp, for an implicit --dport
	neg := false
	for n := 0; n < maxScanWords; n++ {
		var w, arg string
		w, s = nextWord(s)
		if w == "" || w[0] == '"' {
			return r, v6
		}
		if w == "!" {
			if neg {
				return r, v6
			}
			neg = true
			continue
		}
		switch w {
		case "-s", "--source", "--src", "-i", "--in-interface", "-o", "--out-interface":
			mod = ""
			if arg, s = nextWord(s); !plainArg(arg) {
				return r, v6
			}
		case "-d", "--destination", "--dst":
			mod = ""
			if arg, s = nextWord(s); !plainArg(arg) {
				return r, v6
			}
			if !neg {
				// The first -d decides; the rest of the line cannot
				// make this condition go away.
				if x, bits, ok := parseV4Prefix(arg); ok {
					if bits > 0 {
						r.dst, r.bits = x, bits
						r.fl |= preDst
					}
				} else if p, ok := parsePrefix(arg); ok && p.Bits() > 0 {
					if p.Addr().Is4() {
						b := p.Addr().As4()
						r.dst = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
						r.bits = uint8(p.Bits())
						r.fl |= preDst
					} else {
						v6 = p
						r.fl |= preDst6
					}
				}
				return r, v6
			}
		case "-p", "--protocol":
			mod = ""
			if arg, s = nextWord(s); !plainArg(arg) {
				return r, v6
			}
			num, ok := fastProto(arg)
			if !ok {
				return r, v6
			}
			if !neg && num != 0 && r.fl&preProto == 0 {
				r.proto = uint8(num)
				r.fl |= preProto
				switch num {
				case protoTCP:
					protoOK = "tcp"
				case protoUDP:
					protoOK = "udp"
				case protoSCTP:
					protoOK = "sctp"
				}
			}
		case "-m", "--match":
			if arg, s = nextWord(s); neg || !plainArg(arg) {
				return r, v6
			}
			switch arg {
			case "tcp", "udp", "sctp", "comment":
				mod = arg
			default:
				return r, v6
			}
		case "--dport", "--destination-port":
			if mod == "" && protoOK != "" {
				mod = protoOK // loaded implicitly after -p
			}
			if mod != "tcp" && mod != "udp" && mod != "sctp" {
				return r, v6
			}
			if arg, s = nextWord(s); !plainArg(arg) || arg == "!" {
				return r, v6
			}
			lo, hi, ok := fastPortRange(arg)
			if !ok {
				return r, v6
			}
			if !neg && r.fl&preDport == 0 {
				r.dlo, r.dhi = uint16(lo), uint16(hi)
				r.fl |= preDport
			}
		case "--comment":
			if mod != "comment" || neg {
				return r, v6
			}
			rest, ok := skipCommentWords(s)
			if !ok {
				return r, v6
			}
			s = rest
		default: // -j/-g (the rest belongs to the target) or anything else
			return r, v6
		}
		neg = false
	}
	return r, v6
}

// scanKubeProxyRule reads the two forms that make up almost all of a big
// dump's long chains, as iptables-save prints kube-proxy's rules, without
// the general word loop: a leading IPv4 `-d` (KUBE-SERVICES, KUBE-SVC-*
// masquerade rules) and `-p P -m comment --comment "…" -m P --dport N -j`
// (KUBE-NODEPORTS). It gives up (ok false) on anything else, and then
// scanRule reads the line word by word; where it answers, the answer is
// the one scanRule would give.
func scanKubeProxyRule(line, chain string) (r preRec, ok bool) {
	n := len(chain)
	if len(line) < n+8 || line[:3] != "-A " || line[3:3+n] != chain || line[3+n] != ' ' {
		return r, false
	}
	s := line[4+n:]
	if len(s) > 3 && s[:3] == "-d " {
		x, bits, ok := parseV4Prefix(s[3:])
		if !ok {
			return r, false
		}
		if bits > 0 {
			r.dst, r.bits, r.fl = x, bits, preDst
		}
		return r, true
	}
	if len(s) < 3 || s[:3] != "-p " {
		return r, false
	}
	proto, s := nextWord(s[3:])
	num, ok := fastProto(proto)
	if !ok || num == 0 || (num != protoTCP && num != protoUDP && num != protoSCTP) {
		return r, false
	}
	const cm = " -m comment --comment \""
	if len(s) < len(cm) || s[:len(cm)] != cm {
		return r, false
	}
	s = s[len(cm):]
	end := strings.IndexByte(s, '"')
	if end < 0 || strings.IndexByte(s[:end], '\\') >= 0 {
		return r, false
	}
	s = s[end+1:]
	if len(s) < 4+len(proto)+9 || s[:4] != " -m " || s[4:4+len(proto)] != proto || s[4+len(proto):4+len(proto)+9] != " --dport " {
		return r, false
	}
	port, s := nextWord(s[4+len(proto)+9:])
	lo, hi, ok := fastPortRange(port)
	if !ok || len(s) < 4 || (s[:4] != " -j " && s[:4] != " -g ") {
		return r, false
	}
	r.proto, r.dlo, r.dhi, r.fl = uint8(num), uint16(lo), uint16(hi), preProto|preDport
	return r, true
}

// parseV4Prefix is a fast, strict reader of the word at the start of s
// when it is "a.b.c.d" or "a.b.c.d/n" (no leading zeros) and ends at a
// blank or the end of s: whatever it accepts, parsePrefix reads the same
// way; anything else is left to parsePrefix.
func parseV4Prefix(s string) (addr uint32, bits uint8, ok bool) {
	i := 0
	for k := 0; k < 4; k++ {
		if k > 0 {
			if i >= len(s) || s[i] != '.' {
				return 0, 0, false
			}
			i++
		}
		if i >= len(s) {
			return 0, 0, false
		}
		c := s[i]
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		v := uint32(c - '0')
		i++
		if v != 0 {
			for d := 0; d < 2 && i < len(s) && s[i] >= '0' && s[i] <= '9'; d++ {
				v = v*10 + uint32(s[i]-'0')
				i++
			}
			if v > 255 {
				return 0, 0, false
			}
		}
		addr = addr<<8 | v
	}
	bits = 32
	if i < len(s) && s[i] == '/' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, 0, false
		}
		v := uint32(s[i] - '0')
		i++
		if v != 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' {
			v = v*10 + uint32(s[i]-'0')
			i++
		}
		if v > 32 {
			return 0, 0, false
		}
		bits = uint8(v)
	}
	if i < len(s) && s[i] != ' ' && s[i] != '\t' {
		return 0, 0, false
	}
	return addr, bits, true
}

// skipCommentWords skips a --comment argument the way the compiler reads
// it: one word (a quoted one may hold spaces), then any further words up
// to the next one starting with '-' or "!" (kube-proxy's unquoted
// multi-word comments). It fails on quotes it cannot read exactly.
func skipCommentWords(s string) (string, bool) {
	s = trimBlank(s)
	if s == "" {
		return "", false
	}
	if s[0] == '"' {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 || strings.IndexByte(s[1:end+1], '\\') >= 0 {
			return "", false // unterminated, or an escape inside
		}
		s = s[end+2:]
		if s != "" && s[0] != ' ' && s[0] != '\t' {
			return "", false // a word continues after the quote
		}
	} else {
		var w string
		w, s = nextWord(s)
		if strings.IndexByte(w, '"') >= 0 {
			return "", false
		}
	}
	for {
		t := trimBlank(s)
		if t == "" || t[0] == '-' || t[0] == '!' {
			return s, true
		}
		var w string
		w, s = nextWord(s)
		if strings.IndexByte(w, '"') >= 0 {
			return "", false
		}
	}
}

// nextWord returns the next blank-separated word of s and the rest.
func nextWord(s string) (string, string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[i:j], s[j:]
}

// plainArg: an option argument the scanner reads as the compiler would
// (present, unquoted).
func plainArg(a string) bool {
	return a != "" && strings.IndexByte(a, '"') < 0
}

// fastProto is parseProto with the names kube-proxy prints read directly.
func fastProto(a string) (uint32, bool) {
	switch a {
	case "tcp":
		return protoTCP, true
	case "udp":
		return protoUDP, true
	case "sctp":
		return protoSCTP, true
	}
	return parseProto(a)
}

// fastPortRange is parsePortRange with a plain port (no leading zeros, at
// most 5 digits) read directly.
func fastPortRange(a string) (lo, hi uint64, ok bool) {
	if n := len(a); n > 0 && n <= 5 && a[0] != '0' {
		v := uint64(0)
		for i := 0; i < n; i++ {
			c := a[i]
			if c < '0' || c > '9' {
				return parsePortRange(a)
			}
			v = v*10 + uint64(c-'0')
		}
		if v <= 65535 {
			return v, v, true
		}
	}
	return parsePortRange(a)
}
