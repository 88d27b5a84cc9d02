package rules

import (
	"strconv"
	"strings"
)

// nrp parses one rule's tokens into statements. nft's rule syntax is
// context-sensitive (`ip daddr` starts a comparison, a lookup or a
// concatenation), so this follows the grammar nft itself prints: an
// expression, then `set`, `vmap`, a relational operator or an implicit
// comparison with one literal (or a set, a set reference, a flag list);
// or a statement keyword. What it cannot read is kept as an "unknown"
// statement: the evaluator never lets such a rule match and says why.
type nrp struct {
	p    *ntp
	toks []ntok
	i    int
	bad  []string
}

func (r *nrp) eof() bool { return r.i >= len(r.toks) }

func (r *nrp) peek() ntok {
	if r.i < len(r.toks) {
		return r.toks[r.i]
	}
	return ntok{kind: tkNL}
}

func (r *nrp) at(k int) ntok {
	if r.i+k < len(r.toks) {
		return r.toks[r.i+k]
	}
	return ntok{kind: tkNL}
}

func (r *nrp) word() string {
	t := r.peek()
	if r.eof() || t.kind == tkNL {
		return ""
	}
	r.i++
	return t.s
}

func (r *nrp) isP(s string) bool { t := r.peek(); return t.kind == tkPunct && t.s == s }

func (r *nrp) text(from int) string {
	if r.p == nil || from >= len(r.toks) {
		var ws []string
		for _, t := range r.toks[min(from, len(r.toks)):] {
			ws = append(ws, t.s)
		}
		return strings.Join(ws, " ")
	}
	last := min(len(r.toks), max(r.i, from+1)) - 1
	return strings.TrimSpace(r.p.text[r.toks[from].off:r.toks[last].end])
}

// unknownRest turns the rest of the rule into one unknown statement.
func (r *nrp) unknownRest(from int, why string) nstmt {
	r.i = len(r.toks)
	t := r.text(from)
	if why != "" {
		t = why + ": " + t
	}
	r.bad = append(r.bad, t)
	return nstmt{kind: stUnknown, s: t}
}

// rule parses all statements; the rule comment is returned separately.
func (r *nrp) rule() (out []nstmt, comment string, bad []string) {
	for !r.eof() {
		if r.isP(";") {
			r.i++
			continue
		}
		if r.peek().s == "comment" && r.at(1).kind == tkStr {
			comment = r.at(1).s
			r.i += 2
			continue
		}
		start := r.i
		st := r.stmt()
		if r.i == start { // no progress: never loop
			st = r.unknownRest(start, "")
		}
		out = append(out, st)
	}
	return out, comment, r.bad
}

func (r *nrp) stmt() nstmt {
	start := r.i
	t := r.peek()
	if t.kind == tkStr {
		return r.unknownRest(start, "unexpected string")
	}
	switch t.s {
	case "accept", "drop", "continue", "return":
		r.i++
		return nstmt{kind: stVerdict, verb: t.s}
	case "jump", "goto":
		r.i++
		tgt := r.word()
		if tgt == "" {
			return r.unknownRest(start, t.s+" without a target")
		}
		return nstmt{kind: stVerdict, verb: t.s, target: tgt}
	case "queue":
		return r.unknownRest(start, "queue (not modelled)")
	case "reject":
		r.i++
		st := nstmt{kind: stReject}
		if r.peek().s == "with" {
			r.i++
			var ws []string
			for k := 0; k < 3 && !r.eof(); k++ {
				w := r.peek().s
				if k > 0 && (isStmtKeyword(w) || w == "comment") {
					break
				}
				ws = append(ws, w)
				r.i++
				if w == "reset" {
					break
				}
			}
			st.s = strings.Join(ws, " ")
		}
		return st
	case "counter":
		r.i++
		for {
			switch r.peek().s {
			case "packets", "bytes", "name":
				r.i += 2
				continue
			}
			break
		}
		return nstmt{kind: stNop, verb: "counter"}
	case "log":
		r.i++
		for !r.eof() {
			switch r.peek().s {
			case "prefix", "level", "group", "snaplen", "queue-threshold", "flags":
				r.i += 2
				for r.isP(",") {
					r.i += 2
				}
				continue
			}
			break
		}
		return nstmt{kind: stNop, verb: "log"}
	case "limit":
		r.i++
		over := false
		if r.peek().s == "rate" {
			r.i++
		}
		if r.peek().s == "over" {
			over = true
			r.i++
		}
		for !r.eof() && !isStmtKeyword(r.peek().s) && r.peek().s != "comment" {
			r.i++
		}
		if over {
			// the first packet of a flow is never over the limit
			return nstmt{kind: stMatch, op: "never", s: "limit rate over"}
		}
		return nstmt{kind: stNop, verb: "limit"}
	case "masquerade", "snat", "dnat", "redirect":
		return r.nat()
	case "notrack":
		r.i++
		return nstmt{kind: stNotrack}
	case "xt":
		r.i++
		typ := r.word()
		name := r.word()
		if typ == "match" && (name == "comment" || name == "nfacct") {
			return nstmt{kind: stNop, verb: "xt " + name}
		}
		r.bad = append(r.bad, "xt "+typ+" "+name+" (an iptables extension nft cannot show; read this table from iptables-save instead)")
		return nstmt{kind: stUnknown, s: "xt " + typ + " " + name}
	case "add", "update", "delete":
		if a := r.at(1); strings.HasPrefix(a.s, "@") {
			r.i += 2
			st := nstmt{kind: stSetOp, verb: t.s, target: a.s[1:]}
			if !r.isP("{") {
				return r.unknownRest(start, "set statement without an element")
			}
			r.i++
			st.left = r.expr()
			for !r.eof() && !r.isP("}") {
				r.i++ // timeout, counter, ... of the element
			}
			if !r.isP("}") {
				return r.unknownRest(start, "unterminated set statement")
			}
			r.i++
			return st
		}
	case "meta":
		if r.at(1).s == "nftrace" {
			r.i += 4
			return nstmt{kind: stNop, verb: "nftrace"}
		}
	}
	// An expression statement.
	left := r.expr()
	if left == nil {
		return r.unknownRest(start, "")
	}
	if left.kind == exUnknown {
		// skip its operands so the rest of the rule stays readable
		r.rhs(left)
		r.bad = append(r.bad, r.text(start))
		return nstmt{kind: stUnknown, s: r.text(start)}
	}
	switch nt := r.peek(); {
	case nt.s == "set" && nt.kind == tkWord:
		r.i++
		right := r.expr()
		if right == nil || (left.kind != exMeta && left.kind != exCT) {
			return r.unknownRest(start, "")
		}
		return nstmt{kind: stMangle, left: left, right: right}
	case nt.s == "vmap" && nt.kind == tkWord:
		r.i++
		m := r.setOrRef(left)
		if m == nil {
			return r.unknownRest(start, "vmap without a map")
		}
		return nstmt{kind: stVmap, left: left, right: m}
	case nt.kind == tkPunct && (nt.s == "==" || nt.s == "!=" || nt.s == "<" || nt.s == ">" || nt.s == "<=" || nt.s == ">="):
		r.i++
		right := r.rhs(left)
		if right == nil {
			return r.unknownRest(start, "comparison without a value")
		}
		return nstmt{kind: stMatch, op: nt.s, left: left, right: right}
	}
	// Otherwise the next word is the value of an implicit comparison
	// (`meta l4proto tcp`, `ct status dnat`): nft prints no lone
	// expressions, so it is never the next statement.
	right := r.rhs(left)
	if right == nil {
		return r.unknownRest(start, "")
	}
	op := "=="
	if isFlagType(exprType(left)) && right.kind != exSetRef && right.kind != exAnon {
		op = "in"
	}
	return nstmt{kind: stMatch, op: op, left: left, right: right}
}

// isStmtKeyword: words that start a statement and never a value.
func isStmtKeyword(w string) bool {
	switch w {
	case "accept", "drop", "continue", "return", "jump", "goto", "queue", "reject", "counter", "log", "limit",
		"masquerade", "snat", "dnat", "redirect", "notrack", "xt", "meta", "ct", "ip", "ip6", "th", "tcp", "udp",
		"sctp", "fib", "numgen", "iifname", "oifname", "iif", "oif", "mark", "update", "add", "delete", "comment",
		"udplite", "dccp", "icmp", "icmpv6", "ether", "vlan", "jhash", "symhash", "socket", "rt", "osf":
		return true
	}
	return false
}

func isFlagType(t ntype) bool { return t == tyCtState || t == tyCtStatus }

// expr reads a concatenation of primaries, each with binary operators.
func (r *nrp) expr() *nexpr {
	first := r.binop()
	if first == nil {
		return nil
	}
	if !r.isP(".") {
		return first
	}
	c := &nexpr{kind: exConcat, args: []*nexpr{first}}
	for r.isP(".") {
		r.i++
		x := r.binop()
		if x == nil {
			return &nexpr{kind: exUnknown, s: "concatenation"}
		}
		c.args = append(c.args, x)
	}
	return c
}

func (r *nrp) binop() *nexpr {
	x := r.primary()
	if x == nil {
		return nil
	}
	for {
		t := r.peek()
		op := ""
		switch t.s {
		case "&", "and":
			op = "&"
		case "|", "or":
			op = "|"
		case "^", "xor":
			op = "^"
		case "<<", ">>":
			op = t.s
		}
		if op == "" || (t.kind == tkStr) {
			return x
		}
		r.i++
		y := r.primary()
		if y == nil {
			return &nexpr{kind: exUnknown, s: "operator " + op}
		}
		x = &nexpr{kind: exBinop, a: op, args: []*nexpr{x, y}}
	}
}

var payloadFields = map[string]map[string]bool{
	"ip":      {"saddr": true, "daddr": true, "protocol": true, "version": true, "hdrlength": true, "dscp": true, "ecn": true, "length": true, "id": true, "frag-off": true, "ttl": true, "checksum": true},
	"ip6":     {"saddr": true, "daddr": true, "nexthdr": true, "version": true, "dscp": true, "ecn": true, "flowlabel": true, "length": true, "hoplimit": true},
	"th":      {"sport": true, "dport": true},
	"tcp":     {"sport": true, "dport": true, "flags": true, "sequence": true, "ackseq": true, "doff": true, "window": true, "checksum": true, "urgptr": true},
	"udp":     {"sport": true, "dport": true, "length": true, "checksum": true},
	"udplite": {"sport": true, "dport": true},
	"sctp":    {"sport": true, "dport": true, "vtag": true, "checksum": true},
	"dccp":    {"sport": true, "dport": true, "type": true},
}

var metaKeys = map[string]bool{"l4proto": true, "protocol": true, "nfproto": true, "mark": true, "iifname": true,
	"oifname": true, "iif": true, "oif": true, "iiftype": true, "oiftype": true, "pkttype": true, "skuid": true,
	"skgid": true, "random": true, "length": true, "priority": true, "cgroup": true, "cpu": true, "iifgroup": true,
	"oifgroup": true, "rtclassid": true, "nftrace": true, "secmark": true, "ibrname": true, "obrname": true,
	"iifkind": true, "oifkind": true, "time": true, "day": true, "hour": true, "sdif": true, "sdifname": true,
	"ipsec": true, "broute": true}

var ctKeys = map[string]bool{"state": true, "status": true, "mark": true, "direction": true, "expiration": true,
	"helper": true, "l3proto": true, "protocol": true, "proto-src": true, "proto-dst": true, "saddr": true,
	"daddr": true, "label": true, "zone": true, "count": true, "id": true, "bytes": true, "packets": true,
	"avgpkt": true, "event": true, "secmark": true}

// primary reads one expression: a packet field, a meta/ct/fib/numgen
// expression, or a literal.
func (r *nrp) primary() *nexpr {
	t := r.peek()
	if r.eof() || t.kind == tkNL {
		return nil
	}
	if t.kind == tkStr {
		r.i++
		return &nexpr{kind: exLit, s: t.s}
	}
	if t.kind == tkPunct {
		if t.s == "{" {
			return r.anon(nil)
		}
		if t.s == "(" {
			return nil
		}
		return nil
	}
	w := t.s
	if fields, ok := payloadFields[w]; ok {
		if f := r.at(1).s; fields[f] {
			r.i += 2
			return &nexpr{kind: exPayload, a: w, b: f}
		}
		if w == "tcp" || w == "ip" || w == "ip6" || w == "udp" || w == "sctp" || w == "th" {
			f := r.at(1).s
			r.i += 2
			return &nexpr{kind: exUnknown, s: w + " " + f}
		}
	}
	switch w {
	case "meta":
		k := r.at(1).s
		r.i += 2
		if !metaKeys[k] {
			return &nexpr{kind: exUnknown, s: "meta " + k}
		}
		return &nexpr{kind: exMeta, a: k}
	case "iifname", "oifname", "iif", "oif", "mark", "skuid", "skgid", "iifgroup", "oifgroup", "cgroup", "cpu", "rtclassid", "iiftype", "oiftype":
		r.i++
		return &nexpr{kind: exMeta, a: w}
	case "ct":
		r.i++
		dir := ""
		if d := r.peek().s; d == "original" || d == "reply" {
			dir = d
			r.i++
		}
		k := r.word()
		if (k == "ip" || k == "ip6") && (r.peek().s == "saddr" || r.peek().s == "daddr") {
			k = r.word() // ct original ip daddr
		}
		if !ctKeys[k] {
			return &nexpr{kind: exUnknown, s: "ct " + k}
		}
		return &nexpr{kind: exCT, a: dir, b: k}
	case "fib":
		r.i++
		var flags []string
		for {
			f := r.word()
			if f == "" {
				return &nexpr{kind: exUnknown, s: "fib"}
			}
			flags = append(flags, f)
			if !r.isP(".") {
				break
			}
			r.i++
		}
		res := r.word()
		if res != "type" && res != "oif" && res != "oifname" {
			return &nexpr{kind: exUnknown, s: "fib " + strings.Join(flags, " . ") + " " + res}
		}
		return &nexpr{kind: exFib, a: strings.Join(flags, "."), b: res}
	case "numgen":
		r.i++
		mode := r.word()
		if r.word() != "mod" {
			return &nexpr{kind: exUnknown, s: "numgen"}
		}
		n, err := strconv.ParseUint(r.word(), 10, 32)
		if err != nil || n == 0 {
			return &nexpr{kind: exUnknown, s: "numgen"}
		}
		e := &nexpr{kind: exNumgen, a: mode, n: n}
		if r.peek().s == "offset" {
			r.i++
			o, err := strconv.ParseUint(r.word(), 10, 32)
			if err != nil {
				return &nexpr{kind: exUnknown, s: "numgen offset"}
			}
			e.o = o
		}
		return e
	case "icmp", "icmpv6", "igmp", "ah", "esp", "comp", "ether", "vlan", "arp", "rt", "exthdr", "socket", "osf",
		"ipsec", "frag", "hbh", "mh", "dst", "srh", "tunnel", "jhash", "symhash", "dccp", "tcpopt":
		r.i++
		f := r.word()
		return &nexpr{kind: exUnknown, s: w + " " + f}
	}
	if strings.HasPrefix(w, "@") {
		r.i++
		return &nexpr{kind: exSetRef, s: w[1:]}
	}
	if isStmtKeyword(w) {
		return nil
	}
	r.i++
	return &nexpr{kind: exLit, s: w}
}

// rhs reads the value side of a comparison: a set, a set reference, or
// literals — as many as the left side has concatenated parts, and for
// flag types a comma list.
func (r *nrp) rhs(left *nexpr) *nexpr {
	t := r.peek()
	if r.eof() || t.kind == tkNL {
		return nil
	}
	if t.kind == tkPunct && t.s == "{" {
		return r.anon(left)
	}
	if t.kind == tkWord && strings.HasPrefix(t.s, "@") {
		r.i++
		return &nexpr{kind: exSetRef, s: t.s[1:]}
	}
	parts := 1
	if left != nil && left.kind == exConcat {
		parts = len(left.args)
	}
	var lits []*nexpr
	for k := 0; k < parts; k++ {
		if k > 0 {
			if !r.isP(".") {
				return nil
			}
			r.i++
		}
		x := r.peek()
		if x.kind != tkWord && x.kind != tkStr {
			return nil
		}
		r.i++
		s := x.s
		for r.isP(",") && left != nil && isFlagType(exprType(left)) {
			r.i++
			s += "," + r.word()
		}
		lits = append(lits, &nexpr{kind: exLit, s: s})
	}
	if len(lits) == 1 {
		return lits[0]
	}
	return &nexpr{kind: exConcat, args: lits}
}

// setOrRef reads a vmap/map operand: "@name" or an anonymous map.
func (r *nrp) setOrRef(key *nexpr) *nexpr {
	t := r.peek()
	if t.kind == tkWord && strings.HasPrefix(t.s, "@") {
		r.i++
		return &nexpr{kind: exSetRef, s: t.s[1:]}
	}
	if r.isP("{") {
		return r.anon(key)
	}
	return nil
}

// anon reads an anonymous set or map "{ e, e : v, ... }".
func (r *nrp) anon(key *nexpr) *nexpr {
	r.i++ // '{'
	e := &nexpr{kind: exAnon}
	for !r.eof() {
		if r.isP("}") {
			r.i++
			return e
		}
		start := r.i
		depth := 0
		for !r.eof() {
			t := r.peek()
			if t.kind == tkPunct && t.s == "{" {
				depth++
			} else if t.kind == tkPunct && t.s == "}" {
				if depth == 0 {
					break
				}
				depth--
			} else if depth == 0 && t.kind == tkPunct && t.s == "," {
				break
			}
			r.i++
		}
		ts := r.toks[start:r.i]
		if r.isP(",") {
			r.i++
		}
		if len(ts) == 0 {
			continue
		}
		var tp ntp
		if r.p != nil {
			tp = ntp{src: r.p.src, text: r.p.text}
		}
		raw, ok := tp.element(ts)
		if !ok {
			return &nexpr{kind: exUnknown, s: "anonymous set"}
		}
		e.elems = append(e.elems, nelem{key: raw.key, data: raw.data, val: raw.val, text: raw.text})
	}
	return &nexpr{kind: exUnknown, s: "unterminated anonymous set"}
}

// nat reads masquerade/snat/dnat/redirect with their options.
func (r *nrp) nat() nstmt {
	start := r.i
	verb := r.word()
	st := nstmt{kind: stNAT, verb: verb}
	if (verb == "dnat" || verb == "snat") && (r.peek().s == "ip" || r.peek().s == "ip6") {
		st.family = r.word()
	}
	if r.peek().s == "addr" && r.isPAt(1, ".") && r.at(2).s == "port" {
		r.i += 3 // "addr . port": the map yields both
	} else if r.peek().s == "prefix" {
		return r.unknownRest(start, "NAT to a prefix (not modelled)")
	}
	if r.peek().s == "to" {
		r.i++
		if r.peek().kind == tkWord && strings.HasPrefix(r.peek().s, ":") {
			st.port = &nexpr{kind: exLit, s: r.word()[1:]}
		} else {
			x := r.expr()
			if x == nil {
				return r.unknownRest(start, verb+" without a target")
			}
			if r.peek().s == "map" {
				r.i++
				m := r.setOrRef(x)
				if m == nil {
					return r.unknownRest(start, verb+" map without a map")
				}
				x = &nexpr{kind: exBinop, a: "map", args: []*nexpr{x, m}}
			}
			st.addr = x
			if x.kind == exLit {
				a, p := splitHostPortLit(x.s)
				st.addr = &nexpr{kind: exLit, s: a}
				if p != "" {
					st.port = &nexpr{kind: exLit, s: p}
				}
			}
		}
	} else if verb == "dnat" || verb == "snat" {
		return r.unknownRest(start, verb+" without a target")
	}
	for !r.eof() {
		w := r.peek().s
		if w == "random" || w == "fully-random" || w == "persistent" || w == "netmap" {
			if st.flags != "" {
				st.flags += ","
			}
			st.flags += w
			r.i++
			if r.isP(",") {
				r.i++
			}
			continue
		}
		break
	}
	return st
}

func (r *nrp) isPAt(k int, s string) bool { t := r.at(k); return t.kind == tkPunct && t.s == s }

// splitHostPortLit splits "10.0.0.1:80", "[fd00::1]:80", "10.0.0.1".
func splitHostPortLit(s string) (string, string) {
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			host := s[1:end]
			if rest := s[end+1:]; strings.HasPrefix(rest, ":") {
				return host, rest[1:]
			}
			return host, ""
		}
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		return h, p
	}
	return s, ""
}

// concatParts returns the parts of a concatenation (or the expression).
func concatParts(e *nexpr) []*nexpr {
	if e == nil {
		return nil
	}
	if e.kind == exConcat {
		return e.args
	}
	return []*nexpr{e}
}

// exprType is the datatype of what an expression yields.
func exprType(e *nexpr) ntype {
	if e == nil {
		return tyUnknown
	}
	switch e.kind {
	case exPayload:
		switch e.b {
		case "saddr", "daddr":
			if e.a == "ip6" {
				return tyAddr6
			}
			return tyAddr4
		case "sport", "dport":
			return tyPort
		case "protocol", "nexthdr":
			return tyProto
		}
		return tyInt
	case exMeta:
		switch e.a {
		case "l4proto":
			return tyProto
		case "iifname", "oifname", "ibrname", "obrname", "sdifname", "iifkind", "oifkind":
			return tyIface
		case "nfproto":
			return tyNFProto
		case "pkttype":
			return tyPktType
		}
		return tyInt
	case exCT:
		switch e.b {
		case "state":
			return tyCtState
		case "status":
			return tyCtStatus
		case "direction":
			return tyCtDir
		case "saddr", "daddr":
			return tyAddr4
		case "proto-src", "proto-dst":
			return tyPort
		case "protocol":
			return tyProto
		}
		return tyInt
	case exFib:
		if e.b == "type" {
			return tyFibType
		}
		if e.b == "oifname" {
			return tyIface
		}
		return tyInt
	case exNumgen:
		return tyInt
	case exBinop:
		if e.a == "map" {
			return tyUnknown
		}
		return exprType(e.args[0])
	}
	return tyUnknown
}
