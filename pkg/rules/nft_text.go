package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// nftFamilies are nft's table families.
var nftFamilies = map[string]bool{"ip": true, "ip6": true, "inet": true, "arp": true, "bridge": true, "netdev": true}

// ntp parses nft's text syntax: `nft list ruleset` output (nested
// `table F N { chain C { ... } set S { ... } }` blocks) and `nft -f` files,
// including the flat command form kube-proxy sends and logs
// (`add table|chain|rule|set|map|element ...`, `flush`, `delete`).
type ntp struct {
	src  string
	text string
	toks []ntok
	i    int
	rs   *NFTRuleset
	ws   []Warning
}

func (p *ntp) warn(line int32, format string, args ...any) {
	p.ws = append(p.ws, Warning{Source: p.src, Line: int(line), Message: fmt.Sprintf(format, args...)})
}

func (p *ntp) eof() bool { return p.i >= len(p.toks) }

func (p *ntp) peek() ntok {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ntok{kind: tkNL, s: "\n"}
}

func (p *ntp) at(k int) ntok {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return ntok{kind: tkNL, s: "\n"}
}

func (p *ntp) line() int32 {
	if p.i < len(p.toks) {
		return p.toks[p.i].line
	}
	if len(p.toks) > 0 {
		return p.toks[len(p.toks)-1].line
	}
	return 1
}

// isEnd: a statement ends at a line end, a ';' or the end of input.
func isEnd(t ntok) bool { return t.kind == tkNL || (t.kind == tkPunct && t.s == ";") }

func (p *ntp) skipEnds() {
	for !p.eof() && isEnd(p.peek()) {
		p.i++
	}
}

// restOfStatement returns the tokens up to the end of the statement (a
// line end or ';' outside braces), consuming them and the terminator.
func (p *ntp) restOfStatement() []ntok {
	start := p.i
	depth := 0
	for !p.eof() {
		t := p.peek()
		if t.kind == tkPunct {
			switch t.s {
			case "{":
				depth++
			case "}":
				if depth == 0 {
					return p.toks[start:p.i]
				}
				depth--
			}
		}
		if depth == 0 && isEnd(t) {
			out := p.toks[start:p.i]
			p.i++
			return out
		}
		p.i++
	}
	return p.toks[start:p.i]
}

// skipBlock skips a balanced { ... } starting at the current '{'.
func (p *ntp) skipBlock() {
	if p.peek().s != "{" {
		p.restOfStatement()
		return
	}
	depth := 0
	for !p.eof() {
		t := p.peek()
		p.i++
		if t.kind == tkPunct && t.s == "{" {
			depth++
		} else if t.kind == tkPunct && t.s == "}" {
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

func (p *ntp) expect(s string) bool {
	if t := p.peek(); t.s == s && t.kind != tkStr {
		p.i++
		return true
	}
	return false
}

// famName reads "[family] name" (the family defaults to ip).
func (p *ntp) famName() (string, string, bool) {
	a := p.peek()
	if a.kind != tkWord {
		return "", "", false
	}
	b := p.at(1)
	if nftFamilies[a.s] && b.kind == tkWord {
		p.i += 2
		return a.s, b.s, true
	}
	p.i++
	return "ip", a.s, true
}

func (p *ntp) table(fam, name string, line int32) *NFTTable {
	if t := p.rs.Table(fam, name); t != nil {
		return t
	}
	t := &NFTTable{Family: fam, Name: name, Line: int(line)}
	p.rs.Tables = append(p.rs.Tables, t)
	return t
}

func (p *ntp) run() {
	for {
		p.skipEnds()
		if p.eof() {
			return
		}
		t := p.peek()
		line := t.line
		switch t.s {
		case "table":
			p.i++
			fam, name, ok := p.famName()
			if !ok {
				p.warn(line, "table without a name")
				p.restOfStatement()
				continue
			}
			tb := p.table(fam, name, line)
			if p.peek().s == "{" {
				p.i++
				p.tableBody(tb)
			} else {
				p.restOfStatement()
			}
		case "add", "create", "insert", "replace":
			p.i++
			p.command(t.s, line)
		case "flush", "delete", "destroy":
			p.i++
			p.removal(t.s, line)
		case "define", "include", "list", "monitor", "describe", "reset":
			p.warn(line, "%q statements are not read; line ignored", t.s)
			p.restOfStatement()
		case "}":
			p.warn(line, "unmatched }")
			p.i++
		default:
			p.warn(line, "unrecognised nft statement %q", clip(p.stmtText(p.restOfStatement())))
		}
	}
}

// stmtText is the source text of tokens.
func (p *ntp) stmtText(ts []ntok) string {
	if len(ts) == 0 {
		return ""
	}
	return strings.TrimSpace(p.text[ts[0].off:ts[len(ts)-1].end])
}

// tableBody reads a table's block up to its closing brace.
func (p *ntp) tableBody(t *NFTTable) {
	for {
		p.skipEnds()
		if p.eof() {
			p.warn(p.line(), "table %s: the input ends inside its block (cut off?)", t)
			return
		}
		tk := p.peek()
		line := tk.line
		switch {
		case tk.kind == tkPunct && tk.s == "}":
			p.i++
			return
		case tk.s == "chain":
			p.i++
			name := p.peek()
			p.i++
			c := t.chain(name.s, int(line))
			c.Line, c.Declared = int(line), true
			if p.expect("{") {
				p.chainBody(c)
			}
		case tk.s == "set" || tk.s == "map":
			p.i++
			name := p.peek()
			p.i++
			s := t.set(name.s, int(line))
			s.Line, s.Map = int(line), tk.s == "map"
			if p.expect("{") {
				p.setBody(t, s)
			}
		case tk.s == "comment":
			p.i++
			t.Comment = p.peek().s
			p.restOfStatement()
		case tk.s == "flags":
			p.restOfStatement()
		case tk.s == "flowtable" || tk.s == "counter" || tk.s == "quota" || tk.s == "ct" || tk.s == "limit" ||
			tk.s == "secmark" || tk.s == "synproxy" || tk.s == "tunnel":
			// Stateful objects: not consulted by the rules kube-proxy
			// writes; kept out of the model, said once.
			p.warn(line, "table %s: %s object not read", t, tk.s)
			for !p.eof() && p.peek().s != "{" && !isEnd(p.peek()) {
				p.i++
			}
			p.skipBlock()
		default:
			p.warn(line, "table %s: unrecognised %q", t, clip(p.stmtText(p.restOfStatement())))
		}
	}
}

// chainBody reads a chain's block: its base-chain declaration, policy,
// comment and rules.
func (p *ntp) chainBody(c *NFTChain) {
	for {
		p.skipEnds()
		if p.eof() {
			p.warn(p.line(), "chain %s: the input ends inside its block (cut off?)", c.Name)
			return
		}
		tk := p.peek()
		switch {
		case tk.kind == tkPunct && tk.s == "}":
			p.i++
			return
		case tk.s == "type" && tk.kind == tkWord:
			p.i++
			p.baseChain(c, p.restOfStatement())
		case tk.s == "policy" && tk.kind == tkWord && isEnd(p.at(2)):
			p.i++
			c.Policy = p.peek().s
			p.restOfStatement()
		case tk.s == "comment" && tk.kind == tkWord && p.at(1).kind == tkStr && isEnd(p.at(2)):
			c.Comment = p.at(1).s
			p.restOfStatement()
		case tk.s == "devices" || tk.s == "device":
			p.restOfStatement()
		default:
			ts := p.restOfStatement()
			p.addRule(c, ts, -1)
		}
	}
}

// baseChain reads "filter hook prerouting [device D] priority dstnat - 10".
func (p *ntp) baseChain(c *NFTChain, ts []ntok) {
	if len(ts) == 0 {
		return
	}
	c.Type = ts[0].s
	for k := 1; k < len(ts); k++ {
		switch ts[k].s {
		case "hook":
			if k+1 < len(ts) {
				c.Hook = ts[k+1].s
				k++
			}
		case "device":
			if k+1 < len(ts) {
				c.Device = ts[k+1].s
				k++
			}
		case "priority":
			var ws []string
			for k+1 < len(ts) && ts[k+1].kind != tkPunct {
				ws = append(ws, ts[k+1].s)
				k++
			}
			c.PriorityText = strings.Join(ws, " ")
			pr, ok := parseNFTPriority(ws)
			if !ok {
				p.warn(ts[0].line, "chain %s: priority %q not understood; assumed 0", c.Name, c.PriorityText)
			}
			c.Priority = pr
		case "policy":
			if k+1 < len(ts) {
				c.Policy = ts[k+1].s
				k++
			}
		}
	}
	if c.Hook == "" {
		p.warn(ts[0].line, "chain %s: type without a hook", c.Name)
	}
	if c.Policy == "" {
		c.Policy = "accept"
	}
}

// setBody reads a set or map block.
func (p *ntp) setBody(t *NFTTable, s *NFTSet) {
	for {
		p.skipEnds()
		if p.eof() {
			p.warn(p.line(), "set %s: the input ends inside its block (cut off?)", s.Name)
			return
		}
		tk := p.peek()
		switch {
		case tk.kind == tkPunct && tk.s == "}":
			p.i++
			return
		case tk.s == "type":
			p.i++
			p.setType(s, p.restOfStatement())
		case tk.s == "typeof":
			p.i++
			p.setTypeof(s, p.restOfStatement())
		case tk.s == "flags":
			p.i++
			for _, x := range p.restOfStatement() {
				if x.kind == tkWord {
					s.Flags = append(s.Flags, x.s)
				}
			}
		case tk.s == "timeout":
			p.i++
			s.Timeout = p.peek().s
			p.restOfStatement()
		case tk.s == "comment":
			p.i++
			s.Comment = p.peek().s
			p.restOfStatement()
		case tk.s == "elements":
			p.i++
			p.expect("=")
			if p.expect("{") {
				p.elements(s, true)
			}
			p.restOfStatement()
		default:
			// size, policy, gc-interval, auto-merge, counter: no effect on
			// lookups
			p.restOfStatement()
		}
	}
}

func (p *ntp) setType(s *NFTSet, ts []ntok) {
	var key, data []string
	cur := &key
	for _, x := range ts {
		switch {
		case x.kind == tkPunct && x.s == ":":
			cur = &data
		case x.kind == tkWord:
			*cur = append(*cur, x.s)
		}
	}
	s.KeyType = strings.Join(key, " . ")
	if len(data) > 0 {
		s.Map = true
		s.DataType = strings.Join(data, " . ")
	}
}

// setTypeof reads "typeof ip daddr . tcp dport [: ...]" into types.
func (p *ntp) setTypeof(s *NFTSet, ts []ntok) {
	split := len(ts)
	for k, x := range ts {
		if x.kind == tkPunct && x.s == ":" {
			split = k
		}
	}
	rp := &nrp{p: p, toks: ts[:split]}
	e := rp.expr()
	var names []string
	for _, part := range concatParts(e) {
		names = append(names, ntypeName(exprType(part)))
	}
	s.KeyType = strings.Join(names, " . ")
	if split < len(ts) {
		rp = &nrp{p: p, toks: ts[split+1:]}
		d := rp.expr()
		names = nil
		for _, part := range concatParts(d) {
			names = append(names, ntypeName(exprType(part)))
		}
		s.Map = true
		s.DataType = strings.Join(names, " . ")
	}
}

func ntypeName(t ntype) string {
	for k, v := range ntypeNames {
		if v == t && k != "integer" && k != "iface_index" && k != "ipv4_addr_mask" {
			return k
		}
	}
	return "integer"
}

// elements reads "{ e, e, ... }" (the '{' already consumed) into s.
func (p *ntp) elements(s *NFTSet, named bool) {
	for {
		p.skipNL()
		if p.eof() {
			p.warn(p.line(), "set %s: the input ends inside its elements (cut off?)", s.Name)
			return
		}
		if p.expect("}") {
			return
		}
		start := p.i
		depth := 0
		for !p.eof() {
			t := p.peek()
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
			p.i++
		}
		ts := dropNL(p.toks[start:p.i])
		p.expect(",")
		if len(ts) == 0 {
			continue
		}
		el, ok := p.element(ts)
		if !ok {
			p.warn(ts[0].line, "set %s: element %q not understood", s.Name, clip(p.stmtText(ts)))
			continue
		}
		s.Elements = append(s.Elements, NFTElement{Text: el.text, Comment: el.comment, Expires: el.expires, Line: int(ts[0].line),
			data: el.data, rawKey: el.key, rawVal: el.val})
	}
}

func (p *ntp) skipNL() {
	for !p.eof() && p.peek().kind == tkNL {
		p.i++
	}
}

func dropNL(ts []ntok) []ntok {
	out := ts[:0:0]
	for _, t := range ts {
		if t.kind != tkNL {
			out = append(out, t)
		}
	}
	return out
}

// rawElem is an element as read, before typing.
type rawElem struct {
	key, val []string
	data     *nstmt
	text     string
	comment  string
	expires  string
}

// element reads one element: "k1 . k2 [timeout T] [expires E] [comment "c"]
// [counter ...] [: verdict | : v1 . v2]".
func (p *ntp) element(ts []ntok) (rawElem, bool) {
	var el rawElem
	el.text = p.stmtText(ts)
	k := 0
	wantPart := true
	for k < len(ts) {
		t := ts[k]
		if t.kind == tkPunct && t.s == ":" {
			break
		}
		switch {
		case t.kind == tkPunct && t.s == ".":
			wantPart = true
		case t.kind == tkWord && !wantPart && (t.s == "timeout" || t.s == "expires"):
			if k+1 < len(ts) {
				if t.s == "expires" {
					el.expires = ts[k+1].s
				}
				k++
			}
		case t.kind == tkWord && !wantPart && t.s == "comment":
			if k+1 < len(ts) {
				el.comment = ts[k+1].s
				k++
			}
		case t.kind == tkWord && !wantPart && (t.s == "counter" || t.s == "packets" || t.s == "bytes"):
			if t.s != "counter" && k+1 < len(ts) {
				k++
			}
		case (t.kind == tkWord || t.kind == tkStr) && wantPart:
			el.key = append(el.key, t.s)
			wantPart = false
		default:
			return el, false
		}
		k++
	}
	if len(el.key) == 0 {
		return el, false
	}
	if k < len(ts) { // ": data"
		rest := ts[k+1:]
		if len(rest) == 0 {
			return el, false
		}
		switch rest[0].s {
		case "accept", "drop", "continue", "return", "jump", "goto":
			v := &nstmt{kind: stVerdict, verb: rest[0].s}
			if v.verb == "jump" || v.verb == "goto" {
				if len(rest) < 2 {
					return el, false
				}
				v.target = rest[1].s
			}
			el.data = v
		default:
			for _, t := range rest {
				if t.kind == tkWord || t.kind == tkStr {
					el.val = append(el.val, t.s)
				}
			}
		}
	}
	return el, true
}

// addRule parses rule tokens into chain c (at position pos, -1 = end).
func (p *ntp) addRule(c *NFTChain, ts []ntok, pos int) {
	ts = dropNL(ts)
	if len(ts) == 0 {
		return
	}
	r := &NFTRule{Line: int(ts[0].line), Text: p.stmtText(ts), chain: c}
	rp := &nrp{p: p, toks: ts}
	r.stmts, r.Comment, r.bad = rp.rule()
	if pos < 0 || pos >= len(c.Rules) {
		c.Rules = append(c.Rules, r)
	} else {
		c.Rules = append(c.Rules[:pos], append([]*NFTRule{r}, c.Rules[pos:]...)...)
	}
}

// command handles "add|create|insert|replace OBJECT ...".
func (p *ntp) command(verb string, line int32) {
	obj := p.peek()
	p.i++
	switch obj.s {
	case "table":
		fam, name, ok := p.famName()
		if !ok {
			p.warn(line, "%s table without a name", verb)
			p.restOfStatement()
			return
		}
		t := p.table(fam, name, line)
		if p.expect("{") {
			p.tableBody(t)
		}
		p.restOfStatement()
	case "chain":
		fam, tname, ok := p.famName()
		name := p.peek()
		if !ok || name.kind == tkNL {
			p.warn(line, "%s chain: missing table or chain name", verb)
			p.restOfStatement()
			return
		}
		p.i++
		t := p.table(fam, tname, line)
		c := t.chain(name.s, int(line))
		c.Declared = true
		if c.Line == 0 {
			c.Line = int(line)
		}
		if p.expect("{") {
			// "{ type nat hook prerouting priority -100 ; policy accept ; comment "x" ; }"
			for !p.eof() {
				p.skipEnds()
				tk := p.peek()
				if tk.kind == tkPunct && tk.s == "}" {
					p.i++
					break
				}
				ts := p.restOfStatement()
				switch {
				case len(ts) == 0:
				case ts[0].s == "type":
					p.baseChain(c, ts[1:])
				case ts[0].s == "policy" && len(ts) > 1:
					c.Policy = ts[1].s
				case ts[0].s == "comment" && len(ts) > 1:
					c.Comment = ts[1].s
				}
			}
		}
		p.restOfStatement()
	case "rule":
		fam, tname, ok := p.famName()
		cname := p.peek()
		if !ok || cname.kind == tkNL {
			p.warn(line, "%s rule: missing table or chain name", verb)
			p.restOfStatement()
			return
		}
		p.i++
		t := p.table(fam, tname, line)
		c := t.chain(cname.s, int(line))
		pos := -1
		if verb == "insert" {
			pos = 0
		}
		// "position N" / "handle N" / "index N" select where; without
		// handles in the input, "index N" is the only one we can honour.
		if w := p.peek().s; w == "position" || w == "handle" || w == "index" {
			n, _ := strconv.Atoi(p.at(1).s)
			if w == "index" {
				pos = n
				if verb == "add" {
					pos = n + 1
				}
			} else {
				p.warn(line, "%s rule %s %d: handles are not known here; rule placed at the %s", verb, w, n,
					map[bool]string{true: "start", false: "end"}[verb == "insert"])
			}
			p.i += 2
		}
		if verb == "replace" {
			p.warn(line, "replace rule: the replaced rule is not known here; rule added at the end")
		}
		p.addRule(c, p.restOfStatement(), pos)
	case "set", "map":
		fam, tname, ok := p.famName()
		name := p.peek()
		if !ok || name.kind == tkNL {
			p.warn(line, "%s %s: missing table or set name", verb, obj.s)
			p.restOfStatement()
			return
		}
		p.i++
		t := p.table(fam, tname, line)
		s := t.set(name.s, int(line))
		s.Map = obj.s == "map"
		if s.Line == 0 {
			s.Line = int(line)
		}
		if p.expect("{") {
			p.setBody(t, s)
		}
		p.restOfStatement()
	case "element":
		fam, tname, ok := p.famName()
		name := p.peek()
		if !ok || name.kind == tkNL {
			p.warn(line, "%s element: missing table or set name", verb)
			p.restOfStatement()
			return
		}
		p.i++
		t := p.table(fam, tname, line)
		s := t.set(name.s, int(line))
		if p.expect("{") {
			p.elements(s, true)
		}
		p.restOfStatement()
	default:
		p.warn(line, "%s %s: not read", verb, obj.s)
		p.restOfStatement()
	}
}

// removal handles "flush|delete|destroy OBJECT ...", as an `nft -f` file
// applies them in order.
func (p *ntp) removal(verb string, line int32) {
	obj := p.peek()
	p.i++
	switch obj.s {
	case "ruleset":
		p.rs.Tables = nil
		p.restOfStatement()
		return
	case "table":
		fam, name, _ := p.famName()
		t := p.rs.Table(fam, name)
		if t != nil {
			if verb == "flush" {
				for _, c := range t.Chains {
					c.Rules = nil
				}
				for _, s := range t.Sets {
					s.Elements = nil
				}
			} else {
				p.rs.Tables = slices.DeleteFunc(p.rs.Tables, func(x *NFTTable) bool { return x == t })
			}
		}
	case "chain":
		fam, tname, _ := p.famName()
		name := p.peek().s
		p.i++
		if t := p.rs.Table(fam, tname); t != nil && t.chainIdx[name] != nil {
			if verb == "flush" {
				t.chainIdx[name].Rules = nil
			} else {
				delete(t.chainIdx, name)
				t.Chains = slices.DeleteFunc(t.Chains, func(c *NFTChain) bool { return c.Name == name })
			}
		}
	case "set", "map":
		fam, tname, _ := p.famName()
		name := p.peek().s
		p.i++
		if t := p.rs.Table(fam, tname); t != nil && t.setIdx[name] != nil {
			if verb == "flush" {
				t.setIdx[name].Elements = nil
			} else {
				delete(t.setIdx, name)
				t.Sets = slices.DeleteFunc(t.Sets, func(x *NFTSet) bool { return x.Name == name })
			}
		}
	case "element":
		fam, tname, _ := p.famName()
		name := p.peek().s
		p.i++
		t := p.rs.Table(fam, tname)
		if t == nil || t.setIdx[name] == nil || !p.expect("{") {
			break
		}
		tmp := &NFTSet{Name: name}
		p.elements(tmp, true)
		s := t.setIdx[name]
		for _, d := range tmp.Elements {
			kept := s.Elements[:0]
			for _, e := range s.Elements {
				if strings.Join(e.rawKey, " . ") != strings.Join(d.rawKey, " . ") {
					kept = append(kept, e)
				}
			}
			s.Elements = kept
		}
	case "rule":
		p.warn(line, "%s rule: handles are not known here; line ignored", verb)
	default:
		p.warn(line, "%s %s: not read", verb, obj.s)
	}
	p.restOfStatement()
}
