package rules

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ParseOptions tells Parse what the dump cannot say for itself.
type ParseOptions struct {
	// Source names the dump in warnings (usually its file name).
	Source string
	// Table is the table of `iptables -S` input, which has no table
	// markers (`iptables -t nat -S`). Empty means: infer it from the
	// built-in chain policies, else from chain names, with a warning.
	Table Table
	// Family overrides the family read from the header or addresses.
	Family Family
}

// ErrNoRules is returned (with the partial Ruleset) when the input holds
// nothing that looks like iptables rules.
var ErrNoRules = errors.New("no iptables rules found")

// Parse reads a whole dump and parses it with ParseString. The only errors
// are read errors and ErrNoRules; every problem inside the dump is a
// Warning in the returned Ruleset, which holds whatever could be read.
func Parse(r io.Reader, opts ParseOptions) (*Ruleset, error) {
	var b strings.Builder
	// Size the buffer up front when the reader knows its size, so a
	// 100 MB dump is read with one allocation and no copy.
	switch v := r.(type) {
	case interface{ Len() int }:
		b.Grow(v.Len())
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Size() > 0 && st.Size() < 1<<34 {
			b.Grow(int(st.Size()) + 1)
		}
	}
	if _, err := io.Copy(&b, r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", sourceName(opts.Source), err)
	}
	return ParseString(b.String(), opts)
}

func sourceName(s string) string {
	if s == "" {
		return "rules"
	}
	return s
}

// ParseString parses iptables-save / ip6tables-save output (legacy or nft
// backend, with or without counters) or `iptables -S` output. Rules keep
// their raw text as substrings of text, so text stays referenced by the
// result.
func ParseString(text string, opts ParseOptions) (*Ruleset, error) {
	if int64(len(text)) >= 1<<32 {
		return nil, fmt.Errorf("%s: dump of %d bytes is larger than the 4 GiB this parser handles", sourceName(opts.Source), len(text))
	}
	p := &parser{
		rs:   &Ruleset{Source: opts.Source, Format: FormatUnknown, text: text},
		opts: opts,
	}
	p.run(text)
	rs := p.rs
	if opts.Family != FamilyUnknown {
		rs.Family = opts.Family
	} else if rs.Family == FamilyUnknown {
		rs.Family = rs.detectFamily()
	}
	if len(rs.Tables) == 0 {
		return rs, fmt.Errorf("%s: %w", sourceName(opts.Source), ErrNoRules)
	}
	return rs, nil
}

// DetectFormat looks at the first meaningful lines of a dump and says
// which form it is in, so `eval --rules` can accept any file.
func DetectFormat(text string) Format {
	for n := 0; text != "" && n < 200; n++ {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "#"):
			continue
		case line[0] == '*' || line[0] == ':' || line == "COMMIT":
			return FormatSave
		case strings.HasPrefix(line, "-P ") || strings.HasPrefix(line, "-N "):
			return FormatSpec
		case strings.HasPrefix(line, "-A ") || (line[0] == '[' && strings.Contains(line, "] -A ")):
			// Keep looking: a save dump's first lines are * and :, so a
			// leading -A means -S output or a fragment of rules.
			return FormatSpec
		default:
			return FormatUnknown
		}
	}
	return FormatUnknown
}

// detectFamily finds the family of a dump without a header from the first
// address in its rules (compiling chains until one has an address).
func (rs *Ruleset) detectFamily() Family {
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			if c.n == 0 || !strings.ContainsAny(rs.text[rs.recAt(c.first).off:][:rs.recAt(c.first).n], ".:") {
				continue
			}
			if f := c.compiled().family; f != FamilyUnknown {
				return f
			}
		}
	}
	return FamilyUnknown
}

// Check compiles every rule and returns the problems found inside rules
// (Warnings holds the dump's structural problems). Evaluate reports the
// problems of the rules it reaches by itself; Check is for a full lint.
func (rs *Ruleset) Check() []Warning {
	var out []Warning
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			out = append(out, c.Warnings()...)
		}
	}
	if rs.NFT != nil {
		for _, t := range rs.NFT.Tables {
			for _, c := range t.Chains {
				for _, r := range c.Rules {
					for _, p := range r.bad {
						out = append(out, Warning{Source: rs.Source, Line: r.Line, Table: t.String(), Chain: c.Name, Rule: r.Num,
							Message: "not understood: " + p})
					}
				}
			}
		}
	}
	return out
}

// parser holds the state of one Parse.
type parser struct {
	rs   *Ruleset
	opts ParseOptions

	// cur is the table being filled: an iptables-save `*table`, or the
	// current `iptables -S` segment.
	cur     *TableRules
	sawSave bool // a *table line was seen: stray rules are errors, not -S
	spec    specSeg

	lastChain *Chain
	lineNo    int
	lineOff   int // byte offset of the current line in the text
	// cursor is the position in cur.Chains of the last chain that got a
	// rule: iptables-save prints rules in declaration order, so the next
	// chain is found by looking a few places ahead, without hashing.
	cursor int
	// slow maps names for the rare dump that breaks that order.
	slow map[*TableRules]map[string]*Chain

	nrules    int32
	lastRule  *Chain // chain of the most recent rule, for the truncation check
	chainSlab []Chain
}

// specSeg tracks one run of `iptables -S` lines. A -P line that follows
// anything else starts a new run, because `iptables -S; iptables -t nat -S`
// concatenated prints the policies of each table first.
type specSeg struct {
	table     *TableRules
	policies  []string
	nonPolicy bool
	startLine int
}

func (p *parser) warn(line int, msg string) {
	p.rs.Warnings = append(p.rs.Warnings, Warning{Source: p.opts.Source, Line: line, Message: msg})
}

func (p *parser) warnRule(line int, ch *Chain, num int, msg string) {
	w := Warning{Source: p.opts.Source, Line: line, Message: msg}
	if ch != nil {
		w.Chain = ch.Name
		w.Rule = num
		if ch.table != nil {
			w.Table = string(ch.table.Name)
		}
	}
	p.rs.Warnings = append(p.rs.Warnings, w)
}

func (p *parser) run(text string) {
	pos := 0
	endedWithNewline := true
	for pos < len(text) {
		var line string
		p.lineOff = pos
		if nl := strings.IndexByte(text[pos:], '\n'); nl >= 0 {
			line = text[pos : pos+nl]
			pos += nl + 1
		} else {
			line = text[pos:]
			pos = len(text)
			endedWithNewline = false
		}
		p.lineNo++
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if line == "" {
			continue
		}
		switch line[0] {
		case '-':
			p.dashLine(line)
		case '[':
			p.ruleLine(line)
		case ':':
			p.chainLine(line)
		case '*':
			p.tableLine(line)
		case '#':
			p.commentLine(line)
		case 'C':
			if line == "COMMIT" {
				p.commit()
				continue
			}
			p.warn(p.lineNo, "unrecognised line "+strconv.Quote(clip(line)))
		case ' ', '\t':
			if t := strings.TrimLeft(line, " \t"); t != "" {
				// Indented pastes: parse the rest, keeping the raw line.
				p.warn(p.lineNo, "line starts with white space")
				p.lineOff += len(line) - len(t)
				switch t[0] {
				case '-', '[':
					p.dashLine(t)
				case ':':
					p.chainLine(t)
				case '*':
					p.tableLine(t)
				default:
					if t == "COMMIT" {
						p.commit()
					} else if t[0] != '#' {
						p.warn(p.lineNo, "unrecognised line "+strconv.Quote(clip(line)))
					}
				}
			}
		default:
			p.warn(p.lineNo, "unrecognised line "+strconv.Quote(clip(line)))
		}
	}
	p.rs.Lines = p.lineNo
	p.finish(endedWithNewline)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func (p *parser) commentLine(line string) {
	switch {
	case strings.HasPrefix(line, "# Generated by "):
		if p.rs.Header == "" {
			p.rs.Header = line
		}
		if strings.Contains(line, "(nf_tables)") {
			p.rs.Backend = BackendNFT
		} else if strings.Contains(line, "tables-save") || strings.Contains(line, "tables-legacy-save") {
			// iptables-legacy-save prints "(legacy)" since 1.8.8 and
			// nothing before; only the nft backend says "(nf_tables)".
			p.rs.Backend = BackendLegacy
		}
		if strings.Contains(line, "ip6tables") && p.rs.Family == FamilyUnknown {
			p.rs.Family = IPv6
		} else if strings.Contains(line, " iptables") && p.rs.Family == FamilyUnknown {
			p.rs.Family = IPv4
		}
	case strings.HasPrefix(line, "# Warning: iptables-legacy tables present"):
		p.rs.LegacyTablesPresent = true
		p.warn(p.lineNo, "the node also has iptables-legacy tables, which the kernel runs too; "+
			"add `iptables-legacy-save` output with another --rules to evaluate them")
	}
}

func (p *parser) tableLine(line string) {
	p.endSpec()
	name := strings.TrimSpace(line[1:])
	if p.cur != nil && !p.cur.Committed {
		p.warn(p.lineNo, fmt.Sprintf("table %s (line %d) has no COMMIT before *%s", p.cur.Name, p.cur.Line, name))
	}
	if name == "" || strings.ContainsAny(name, " \t") {
		p.warn(p.lineNo, "bad table line "+strconv.Quote(clip(line)))
		p.cur = nil
		return
	}
	if p.rs.Format == FormatUnknown {
		p.rs.Format = FormatSave
	}
	p.sawSave = true
	t := p.newTable(Table(name), p.lineNo)
	if _, known := builtinChains[t.Name]; !known {
		p.warn(p.lineNo, "unknown table "+strconv.Quote(name))
	}
	p.cur = t
}

func (p *parser) newTable(name Table, line int) *TableRules {
	if prev := p.rs.Table(name); prev != nil && name != "" {
		p.warn(line, fmt.Sprintf("table %s appears again (first at line %d); only the first is evaluated — "+
			"pass concatenated dumps as separate --rules files", name, prev.Line))
	}
	t := &TableRules{Name: name, Line: line, rs: p.rs}
	p.rs.Tables = append(p.rs.Tables, t)
	p.lastChain = nil
	p.cursor = -1
	return t
}

func (p *parser) commit() {
	if p.cur == nil {
		p.warn(p.lineNo, "COMMIT outside a table")
		return
	}
	p.cur.Committed = true
	p.cur = nil
	p.lastChain = nil
}

// chainLine handles ":NAME POLICY [pkts:bytes]".
func (p *parser) chainLine(line string) {
	if p.cur == nil {
		p.warn(p.lineNo, "chain declaration outside a table: "+strconv.Quote(clip(line)))
		return
	}
	name, rest, _ := strings.Cut(line[1:], " ")
	if name == "" {
		p.warn(p.lineNo, "empty chain declaration")
		return
	}
	policy, _, hasPolicy := strings.Cut(strings.TrimLeft(rest, " "), " ")
	if policy == "" && !hasPolicy {
		p.warn(p.lineNo, "chain "+name+" has no policy field (cut off?)")
		policy = "-"
	}
	p.declare(p.cur, name, policy)
}

// declare creates or completes a chain from a declaration line. Chains are
// declared before any rule in iptables-save output, so only a chain that
// already got rules (from -S output, or a disordered dump) is looked up;
// repeated declarations are found when the index is built.
func (p *parser) declare(t *TableRules, name, policy string) *Chain {
	var ch *Chain
	if p.slow[t] != nil || (p.lastChain != nil && p.lastChain.table == t) {
		ch = p.lookup(t, name)
		if ch != nil && ch.Declared {
			p.warn(p.lineNo, fmt.Sprintf("chain %s declared twice (first at line %d)", name, ch.Line))
		}
	}
	if ch == nil {
		ch = p.newChain(t, name)
	}
	ch.Declared = true
	ch.Line = p.lineNo
	switch policy {
	case "-", "":
		// iptables-restore reads "-" on a built-in chain as "keep the
		// current policy" (kube-proxy's restore input and its test
		// fixtures print it so); the evaluator says what it assumes if a
		// packet reaches the end of such a chain.
		if isBuiltinChain(t.Name, name) {
			ch.Builtin = true
		}
	case "ACCEPT", "DROP":
		ch.Builtin = true
		ch.Policy = policy
		if t.Name != "" && !isBuiltinChain(t.Name, name) {
			p.warn(p.lineNo, fmt.Sprintf("chain %s has a policy but is not a built-in chain of table %s", name, t.Name))
		}
	default:
		p.warn(p.lineNo, fmt.Sprintf("chain %s has unknown policy %q", name, policy))
		ch.Builtin = isBuiltinChain(t.Name, name)
	}
	return ch
}

func (p *parser) newChain(t *TableRules, name string) *Chain {
	if len(p.chainSlab) == cap(p.chainSlab) {
		p.chainSlab = make([]Chain, 0, 1024)
	}
	p.chainSlab = p.chainSlab[:len(p.chainSlab)+1]
	ch := &p.chainSlab[len(p.chainSlab)-1]
	ch.Name, ch.table, ch.Line, ch.first = name, t, p.lineNo, -1
	t.Chains = append(t.Chains, ch)
	if m := p.slow[t]; m != nil {
		if _, dup := m[name]; !dup {
			m[name] = ch
		}
	}
	return ch
}

// findChain resolves a rule's chain: the current one, or one of the next
// few declared ones (the order iptables-save prints in), else a map.
func (p *parser) findChain(t *TableRules, name string) *Chain {
	if p.cursor < 0 || p.cursor >= len(t.Chains) {
		p.cursor = -1
	}
	for i, n := p.cursor+1, 0; i < len(t.Chains) && n < 32; i, n = i+1, n+1 {
		if t.Chains[i].Name == name {
			p.cursor = i
			return t.Chains[i]
		}
	}
	return p.lookup(t, name)
}

// lookup finds a chain by name through the slow map, building it on first
// use.
func (p *parser) lookup(t *TableRules, name string) *Chain {
	m := p.slow[t]
	if m == nil {
		if p.slow == nil {
			p.slow = map[*TableRules]map[string]*Chain{}
		}
		m = make(map[string]*Chain, len(t.Chains))
		for _, c := range t.Chains {
			if _, dup := m[c.Name]; !dup {
				m[c.Name] = c
			}
		}
		p.slow[t] = m
	}
	return m[name]
}

// dashLine handles lines starting with '-': rules (-A) in both formats,
// and the -P/-N lines of `iptables -S`.
func (p *parser) dashLine(line string) {
	if len(line) >= 3 && line[2] == ' ' {
		switch line[1] {
		case 'A':
			p.ruleLine(line)
			return
		case 'P', 'N':
			p.specDecl(line)
			return
		}
	}
	if strings.HasPrefix(line, "--append ") {
		p.ruleLine(line)
		return
	}
	verb, rest, _ := strings.Cut(line, " ")
	switch verb {
	case "-X", "--delete-chain", "-F", "--flush":
		// iptables-restore input (kube-proxy logs it at -v=9) deletes
		// stale chains with -X after re-declaring them, and may flush.
		name := strings.TrimSpace(rest)
		if p.cur == nil || name == "" {
			p.warn(p.lineNo, "command "+verb+" outside a table; line ignored")
			return
		}
		ch := p.lookup(p.cur, name)
		if ch == nil {
			p.warn(p.lineNo, "command "+verb+" on unknown chain "+name)
			return
		}
		ch.n, ch.first = 0, -1
		delete(p.rs.scattered, ch)
		if verb == "-X" || verb == "--delete-chain" {
			ch.deleted = true
		}
		p.lastChain = nil
	case "-I", "--insert", "-D", "--delete", "-R", "--replace", "-Z":
		p.warn(p.lineNo, "command "+verb+" is not part of a dump; line ignored")
	default:
		p.warn(p.lineNo, "unrecognised line "+strconv.Quote(clip(line)))
	}
}

// specDecl handles `-P CHAIN POLICY [-c p b]` and `-N CHAIN`.
func (p *parser) specDecl(line string) {
	if p.sawSave && p.cur != nil {
		p.warn(p.lineNo, "iptables -S line inside an iptables-save table; ignored")
		return
	}
	fields := strings.Fields(line)
	if len(fields) < 2 {
		p.warn(p.lineNo, "incomplete line "+strconv.Quote(clip(line)))
		return
	}
	isPolicy := fields[0] == "-P"
	if isPolicy && p.spec.table != nil && p.spec.nonPolicy {
		p.endSpec()
	}
	t := p.specTable()
	if isPolicy {
		if len(fields) < 3 {
			p.warn(p.lineNo, "policy line without a policy: "+strconv.Quote(clip(line)))
			return
		}
		p.spec.policies = append(p.spec.policies, fields[1])
		ch := p.declare(t, fields[1], "")
		ch.Builtin = true
		ch.Policy = fields[2]
		if fields[2] != "ACCEPT" && fields[2] != "DROP" {
			p.warn(p.lineNo, fmt.Sprintf("chain %s has unknown policy %q", fields[1], fields[2]))
		}
		return
	}
	p.spec.nonPolicy = true
	p.declare(t, fields[1], "-")
}

// specTable returns the table of the current `iptables -S` segment,
// starting one if needed. Its name is settled in endSpec.
func (p *parser) specTable() *TableRules {
	if p.spec.table == nil {
		if p.rs.Format == FormatUnknown {
			p.rs.Format = FormatSpec
		}
		p.spec = specSeg{table: p.newTable("", p.lineNo), startLine: p.lineNo}
		p.spec.table.Line = 0
		p.spec.table.Committed = true // -S has no COMMIT
	}
	return p.spec.table
}

// endSpec names the current `iptables -S` segment's table: from the hint,
// else from the set of built-in chains that have policies (each table has a
// distinct set), else from kube-proxy's chain names, with a warning saying
// which evidence was used.
func (p *parser) endSpec() {
	seg := p.spec
	p.spec = specSeg{}
	t := seg.table
	if t == nil {
		return
	}
	if p.cur == t {
		p.cur = nil
	}
	byPolicy := tableFromPolicies(seg.policies)
	var name Table
	switch {
	case byPolicy != "" && p.opts.Table != "" && byPolicy != p.opts.Table &&
		!(byPolicy == TableFilter && p.opts.Table == TableSecurity):
		name = byPolicy
		p.warn(seg.startLine, fmt.Sprintf("the chain policies say table %s, not %s as given; using %s", byPolicy, p.opts.Table, byPolicy))
	case p.opts.Table != "":
		name = p.opts.Table
	case byPolicy != "":
		name = byPolicy
	default:
		var why string
		name, why = guessTable(t)
		p.warn(seg.startLine, fmt.Sprintf("iptables -S output without a table: assumed %s (%s); "+
			"pass the table explicitly to override", name, why))
		t.Guessed = true
	}
	if prev := p.rs.Table(name); prev != nil && prev != t {
		p.warn(seg.startLine, fmt.Sprintf("table %s appears twice in this input; only the first is evaluated", name))
	}
	t.Name = name
	for _, ch := range t.Chains {
		if ch.Policy != "" && !isBuiltinChain(name, ch.Name) {
			p.warn(ch.Line, fmt.Sprintf("chain %s has a policy but is not a built-in chain of table %s", ch.Name, name))
		}
		if !ch.Builtin && isBuiltinChain(name, ch.Name) {
			ch.Builtin = true
			ch.Policy = "ACCEPT"
		}
	}
}

func tableFromPolicies(pol []string) Table {
	if len(pol) == 0 {
		return ""
	}
	set := map[string]bool{}
	for _, c := range pol {
		set[c] = true
	}
	for _, t := range []Table{TableFilter, TableNAT, TableMangle, TableRaw} {
		want := builtinChains[t]
		if len(want) != len(set) {
			continue
		}
		ok := true
		for _, c := range want {
			ok = ok && set[c]
		}
		if ok {
			return t
		}
	}
	return ""
}

// guessTable decides between nat and filter for rules listed without any
// table information, from the chains and targets kube-proxy puts in each.
func guessTable(t *TableRules) (Table, string) {
	nat, filter := 0, 0
	var natWhy, filterWhy string
	note := func(name string) {
		switch {
		case strings.HasPrefix(name, "KUBE-SVC-"), strings.HasPrefix(name, "KUBE-SEP-"),
			strings.HasPrefix(name, "KUBE-SVL-"), strings.HasPrefix(name, "KUBE-EXT-"),
			strings.HasPrefix(name, "KUBE-FW-"), name == "KUBE-MARK-MASQ", name == "KUBE-POSTROUTING",
			name == "PREROUTING", name == "POSTROUTING", name == "DNAT", name == "SNAT",
			name == "MASQUERADE", name == "REDIRECT":
			nat++
			if natWhy == "" {
				natWhy = name
			}
		case name == "FORWARD", name == "KUBE-FORWARD", name == "KUBE-EXTERNAL-SERVICES",
			name == "KUBE-PROXY-FIREWALL", name == "KUBE-FIREWALL", name == "REJECT":
			filter++
			if filterWhy == "" {
				filterWhy = name
			}
		}
	}
	for _, ch := range t.Chains {
		note(ch.Name)
	}
	if nat >= filter && nat > 0 {
		return TableNAT, "it uses " + natWhy
	}
	if filter > 0 {
		return TableFilter, "it uses " + filterWhy
	}
	return TableFilter, "no table-specific chains"
}

// ruleLine reads one "[p:b] -A CHAIN ..." line: its chain, line number
// and raw text. The rest of the line is compiled with its chain on first
// use.
func (p *parser) ruleLine(line string) {
	rest := line
	goodCounters := true
	if rest[0] == '[' {
		end := strings.IndexByte(rest, ']')
		if end < 0 || !validCounters(rest[:end+1]) {
			p.warn(p.lineNo, "bad counters in "+strconv.Quote(clip(line)))
			if end < 0 {
				return
			}
			goodCounters = false
		}
		if end+1 >= len(rest) || (rest[end+1] != ' ' && rest[end+1] != '\t') {
			goodCounters = false // glued to "-A": the compiler splits it differently
		}
		rest = trimBlank(rest[end+1:])
	}
	switch {
	case strings.HasPrefix(rest, "-A "):
		rest = rest[3:]
	case strings.HasPrefix(rest, "--append "):
		rest = rest[9:]
	default:
		p.warn(p.lineNo, "unrecognised line "+strconv.Quote(clip(line)))
		return
	}
	rest = trimBlank(rest)
	chainName := rest
	if sp := strings.IndexByte(rest, ' '); sp >= 0 {
		chainName = rest[:sp]
	}
	if tab := strings.IndexByte(chainName, '\t'); tab >= 0 {
		chainName = chainName[:tab]
	}
	if chainName == "" {
		p.warn(p.lineNo, "rule without a chain name (cut off?)")
		return
	}
	t := p.cur
	if t == nil {
		if p.sawSave {
			p.warn(p.lineNo, "rule outside a table (after COMMIT, before the next *table); ignored")
			return
		}
		t = p.specTable()
		p.spec.nonPolicy = true
	}
	ch := p.lastChain
	if ch == nil || ch.Name != chainName || ch.table != t {
		ch = p.findChain(t, chainName)
		if ch == nil {
			ch = p.newChain(t, chainName)
			if p.sawSave {
				p.warnRule(p.lineNo, ch, 1, "rule for undeclared chain "+chainName)
			} else if isBuiltinChain(t.Name, chainName) {
				ch.Builtin = true
				ch.Policy = "ACCEPT"
			}
		}
		p.lastChain = ch
	}
	idx := p.addRec(ruleRec{off: uint32(p.lineOff), n: uint32(len(line)), line: int32(p.lineNo)})
	// Note a leading IPv4 -d while the line is in cache: the evaluator's
	// prefilter reads it instead of the line (see prefilter.go).
	if after := rest[len(chainName):]; goodCounters && len(after) > 4 && after[:4] == " -d " && strings.IndexByte(chainName, '"') < 0 {
		if x, bits, ok := parseV4Prefix(after[4:]); ok {
			p.rs.lead = append(p.rs.lead, leadDst{rec: idx, addr: x, bits: bits})
		}
	}
	switch {
	case ch.n == 0:
		ch.first = idx
	case p.rs.scattered[ch] != nil:
		p.rs.scattered[ch] = append(p.rs.scattered[ch], idx)
	case ch.last != idx-1:
		// Not contiguous (a hand-assembled file): keep an index list.
		if p.rs.scattered == nil {
			p.rs.scattered = map[*Chain][]int32{}
		}
		list := make([]int32, 0, ch.n+1)
		for i := ch.first; i <= ch.last; i++ {
			list = append(list, i)
		}
		p.rs.scattered[ch] = append(list, idx)
	}
	ch.last = idx
	ch.n++
	p.lastRule = ch
}

func trimBlank(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func validCounters(s string) bool {
	if len(s) < 5 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	a, b, ok := strings.Cut(s[1:len(s)-1], ":")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(a, 10, 64)
	_, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil
}

// addRec appends a rule record and returns its index.
func (p *parser) addRec(r ruleRec) int32 {
	rs := p.rs
	c := int(p.nrules >> recChunkBits)
	if c == len(rs.recs) {
		rs.recs = append(rs.recs, make([]ruleRec, 0, recChunkSize))
	}
	rs.recs[c] = append(rs.recs[c], r)
	p.nrules++
	return p.nrules - 1
}

// finish checks the dump's end and gives every chain its rule slice.
func (p *parser) finish(endedWithNewline bool) {
	p.endSpec()
	if p.cur != nil && !p.cur.Committed {
		msg := fmt.Sprintf("dump ends inside table %s (started line %d) without COMMIT: it was probably cut off; "+
			"evaluating the rules that were read", p.cur.Name, p.cur.Line)
		p.warn(p.lineNo, msg)
	}
	if !endedWithNewline && p.nrules > 0 && p.cur != nil {
		last := p.rs.recAt(p.nrules - 1)
		if int(last.line) == p.lineNo {
			p.rs.truncLine = last.line
			p.warnRule(p.lineNo, p.lastRule, int(p.lastRule.n), "last line has no line end and may be cut off; the rule is not trusted")
		}
	}
	for _, t := range p.rs.Tables {
		kept := t.Chains[:0]
		for _, c := range t.Chains {
			if !c.deleted {
				kept = append(kept, c)
			}
		}
		t.Chains = kept
		for _, d := range t.buildIndex() {
			p.warn(d.Line, "chain "+d.Name+" declared twice")
		}
	}
}
