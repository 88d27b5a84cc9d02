package rules

import (
	"strconv"
	"strings"
)

// printNFTRule renders a rule read from JSON in nft's text syntax, the way
// `nft list ruleset` prints it (as far as the model holds it), so steps
// show the same text whichever form the dump came in.
func printNFTRule(r *NFTRule) string {
	var parts []string
	for i := range r.stmts {
		if s := printStmt(&r.stmts[i]); s != "" {
			parts = append(parts, s)
		}
	}
	if r.Comment != "" {
		parts = append(parts, "comment "+strconv.Quote(r.Comment))
	}
	return strings.Join(parts, " ")
}

func printStmt(s *nstmt) string {
	switch s.kind {
	case stMatch:
		if s.op == "never" {
			return s.s
		}
		l, r := printExpr(s.left), printExpr(s.right)
		switch s.op {
		case "==", "in":
			return l + " " + r
		}
		return l + " " + s.op + " " + r
	case stVmap:
		return printExpr(s.left) + " vmap " + printExpr(s.right)
	case stVerdict:
		return nftVerdictText(s)
	case stReject:
		if s.s != "" && s.s != "icmp port-unreachable" && s.s != "icmpv6 port-unreachable" && s.s != "icmpx port-unreachable" {
			return "reject with " + s.s
		}
		return "reject"
	case stNAT:
		out := s.verb
		if s.family != "" && s.addr != nil && s.addr.kind == exBinop && s.addr.a == "map" {
			out += " " + s.family
		}
		switch {
		case s.addr != nil && s.port != nil:
			a := printExpr(s.addr)
			if strings.Contains(a, ":") {
				a = "[" + a + "]"
			}
			out += " to " + a + ":" + printExpr(s.port)
		case s.addr != nil:
			out += " to " + printExpr(s.addr)
		case s.port != nil:
			out += " to :" + printExpr(s.port)
		}
		if s.flags != "" {
			out += " " + s.flags
		}
		return out
	case stMangle:
		return printExpr(s.left) + " set " + printExpr(s.right)
	case stSetOp:
		return s.verb + " @" + s.target + " { " + printExpr(s.left) + " }"
	case stNop:
		return s.verb
	case stNotrack:
		return "notrack"
	case stUnknown:
		return s.s
	}
	return ""
}

func printExpr(e *nexpr) string {
	if e == nil {
		return ""
	}
	switch e.kind {
	case exLit:
		return e.s
	case exPayload:
		return e.a + " " + e.b
	case exMeta:
		return "meta " + e.a
	case exCT:
		if e.a != "" {
			return "ct " + e.a + " " + e.b
		}
		return "ct " + e.b
	case exFib:
		return "fib " + strings.ReplaceAll(e.a, ".", " . ") + " " + e.b
	case exNumgen:
		s := "numgen " + e.a + " mod " + strconv.FormatUint(e.n, 10)
		if e.o != 0 {
			s += " offset " + strconv.FormatUint(e.o, 10)
		}
		return s
	case exConcat:
		var ps []string
		for _, a := range e.args {
			ps = append(ps, printExpr(a))
		}
		return strings.Join(ps, " . ")
	case exBinop:
		if e.a == "map" {
			return printExpr(e.args[0]) + " map " + printExpr(e.args[1])
		}
		return printExpr(e.args[0]) + " " + e.a + " " + printExpr(e.args[1])
	case exSetRef:
		return "@" + e.s
	case exAnon:
		var ps []string
		for _, el := range e.elems {
			ps = append(ps, el.text)
		}
		return "{ " + strings.Join(ps, ", ") + " }"
	}
	return e.s
}
