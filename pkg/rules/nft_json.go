package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// nft -j list ruleset: {"nftables": [{"metainfo": ...}, {"table": ...},
// {"chain": ...}, {"rule": ...}, {"set": ...}, {"map": ...}, ...]}, with
// rule expressions in libnftables' JSON schema (libnftables-json(5)).

type njObj map[string]json.RawMessage

type njTable struct {
	Family  string `json:"family"`
	Name    string `json:"name"`
	Handle  int    `json:"handle"`
	Comment string `json:"comment"`
}

type njChain struct {
	Family  string          `json:"family"`
	Table   string          `json:"table"`
	Name    string          `json:"name"`
	Handle  int             `json:"handle"`
	Type    string          `json:"type"`
	Hook    string          `json:"hook"`
	Prio    json.RawMessage `json:"prio"`
	Policy  string          `json:"policy"`
	Dev     json.RawMessage `json:"dev"`
	Comment string          `json:"comment"`
}

type njRule struct {
	Family  string            `json:"family"`
	Table   string            `json:"table"`
	Chain   string            `json:"chain"`
	Handle  int               `json:"handle"`
	Comment string            `json:"comment"`
	Expr    []json.RawMessage `json:"expr"`
}

type njSet struct {
	Family  string            `json:"family"`
	Name    string            `json:"name"`
	Table   string            `json:"table"`
	Type    json.RawMessage   `json:"type"`
	Map     json.RawMessage   `json:"map"`
	Handle  int               `json:"handle"`
	Flags   json.RawMessage   `json:"flags"`
	Timeout json.RawMessage   `json:"timeout"`
	Comment string            `json:"comment"`
	Elem    []json.RawMessage `json:"elem"`
}

type njElement struct {
	Family string            `json:"family"`
	Table  string            `json:"table"`
	Name   string            `json:"name"`
	Elem   []json.RawMessage `json:"elem"`
}

// parseNFTJSON reads `nft -j list ruleset` (or `nft -j list table ...`).
func parseNFTJSON(text, src string) (*NFTRuleset, []Warning, error) {
	var doc struct {
		Nftables []njObj `json:"nftables"`
	}
	dec := json.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%s: not nft JSON: %w", sourceName(src), jsonErrWhere(text, err))
	}
	rs := &NFTRuleset{}
	var ws []Warning
	warn := func(format string, args ...any) {
		ws = append(ws, Warning{Source: src, Message: fmt.Sprintf(format, args...)})
	}
	table := func(fam, name string) *NFTTable {
		if t := rs.Table(fam, name); t != nil {
			return t
		}
		t := &NFTTable{Family: fam, Name: name}
		rs.Tables = append(rs.Tables, t)
		return t
	}
	for k, obj := range doc.Nftables {
		for kind, raw := range obj {
			switch kind {
			case "metainfo":
				var m struct {
					Version string `json:"version"`
				}
				_ = json.Unmarshal(raw, &m)
				rs.Version = m.Version
			case "table":
				var t njTable
				if err := json.Unmarshal(raw, &t); err != nil {
					warn("object %d (table): %v", k, err)
					continue
				}
				tb := table(t.Family, t.Name)
				tb.Handle, tb.Comment = t.Handle, t.Comment
			case "chain":
				var c njChain
				if err := json.Unmarshal(raw, &c); err != nil {
					warn("object %d (chain): %v", k, err)
					continue
				}
				ch := table(c.Family, c.Table).chain(c.Name, 0)
				ch.Declared, ch.Handle, ch.Comment = true, c.Handle, c.Comment
				if c.Hook != "" {
					ch.Type, ch.Hook, ch.Policy = c.Type, c.Hook, c.Policy
					if ch.Policy == "" {
						ch.Policy = "accept"
					}
					var n int
					var s string
					switch {
					case json.Unmarshal(c.Prio, &n) == nil:
						ch.Priority, ch.PriorityText = n, strconv.Itoa(n)
					case json.Unmarshal(c.Prio, &s) == nil:
						ch.PriorityText = s
						pr, ok := parseNFTPriority(strings.Fields(s))
						if !ok {
							warn("chain %s %s: priority %q not understood; assumed 0", c.Table, c.Name, s)
						}
						ch.Priority = pr
					}
					var dev string
					if json.Unmarshal(c.Dev, &dev) == nil {
						ch.Device = dev
					}
				}
			case "rule":
				var r njRule
				if err := json.Unmarshal(raw, &r); err != nil {
					warn("object %d (rule): %v", k, err)
					continue
				}
				ch := table(r.Family, r.Table).chain(r.Chain, 0)
				nr := &NFTRule{Handle: r.Handle, Comment: r.Comment, chain: ch}
				jp := &njp{}
				for _, e := range r.Expr {
					nr.stmts = append(nr.stmts, jp.stmt(e))
				}
				nr.bad = jp.bad
				nr.Text = printNFTRule(nr)
				ch.Rules = append(ch.Rules, nr)
			case "set", "map":
				var s njSet
				if err := json.Unmarshal(raw, &s); err != nil {
					warn("object %d (%s): %v", k, kind, err)
					continue
				}
				st := table(s.Family, s.Table).set(s.Name, 0)
				st.Handle, st.Comment, st.Map = s.Handle, s.Comment, kind == "map"
				st.KeyType = jsonTypeList(s.Type)
				st.DataType = jsonTypeList(s.Map)
				var flags []string
				var flag string
				if json.Unmarshal(s.Flags, &flags) == nil {
					st.Flags = flags
				} else if json.Unmarshal(s.Flags, &flag) == nil {
					st.Flags = []string{flag}
				}
				var to int
				if json.Unmarshal(s.Timeout, &to) == nil && to > 0 {
					st.Timeout = strconv.Itoa(to) + "s"
				}
				jp := &njp{}
				for _, e := range s.Elem {
					st.Elements = append(st.Elements, jp.element(e, st.Map))
				}
				for _, b := range jp.bad {
					warn("set %s %s: element %s not understood", s.Table, s.Name, b)
				}
			case "element":
				var e njElement
				if err := json.Unmarshal(raw, &e); err != nil {
					warn("object %d (element): %v", k, err)
					continue
				}
				st := table(e.Family, e.Table).set(e.Name, 0)
				jp := &njp{}
				for _, x := range e.Elem {
					st.Elements = append(st.Elements, jp.element(x, st.Map))
				}
			case "flowtable", "counter", "quota", "ct helper", "ct timeout", "ct expectation", "limit", "secmark", "synproxy":
				warn("%s object not read", kind)
			default:
				warn("object %d: unknown kind %q", k, kind)
			}
		}
	}
	return rs, ws, nil
}

// jsonErrWhere adds the line of a JSON syntax error.
func jsonErrWhere(text string, err error) error {
	if se, ok := err.(*json.SyntaxError); ok && se.Offset > 0 && int(se.Offset) <= len(text) {
		return fmt.Errorf("line %d: %w", strings.Count(text[:se.Offset], "\n")+1, err)
	}
	return err
}

func jsonTypeList(raw json.RawMessage) string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return strings.Join(many, " . ")
	}
	return ""
}

// njp converts JSON expressions and statements into the rule model.
type njp struct{ bad []string }

func (j *njp) unknown(raw json.RawMessage, why string) nstmt {
	s := why + ": " + clip(string(raw))
	j.bad = append(j.bad, s)
	return nstmt{kind: stUnknown, s: s}
}

func oneKey(raw json.RawMessage) (string, json.RawMessage, bool) {
	var m njObj
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		return k, v, true
	}
	return "", nil, false
}

func (j *njp) stmt(raw json.RawMessage) nstmt {
	k, v, ok := oneKey(raw)
	if !ok {
		return j.unknown(raw, "statement")
	}
	switch k {
	case "match":
		var m struct {
			Op    string          `json:"op"`
			Left  json.RawMessage `json:"left"`
			Right json.RawMessage `json:"right"`
		}
		if json.Unmarshal(v, &m) != nil {
			return j.unknown(raw, "match")
		}
		l, r := j.expr(m.Left), j.expr(m.Right)
		if l.kind == exUnknown || r.kind == exUnknown {
			return j.unknown(raw, "expression")
		}
		op := m.Op
		if op == "" {
			op = "=="
		}
		if op == "in" && !isFlagType(exprType(l)) {
			op = "==" // "in" on a non-flag type is a lookup
		}
		return nstmt{kind: stMatch, op: op, left: l, right: r}
	case "vmap":
		var m struct {
			Key  json.RawMessage `json:"key"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(v, &m) != nil {
			return j.unknown(raw, "vmap")
		}
		l, r := j.expr(m.Key), j.expr(m.Data)
		if l.kind == exUnknown || r.kind == exUnknown {
			return j.unknown(raw, "vmap")
		}
		return nstmt{kind: stVmap, left: l, right: r}
	case "accept", "drop", "continue", "return":
		return nstmt{kind: stVerdict, verb: k}
	case "jump", "goto":
		var t struct {
			Target string `json:"target"`
		}
		if json.Unmarshal(v, &t) != nil || t.Target == "" {
			return j.unknown(raw, k)
		}
		return nstmt{kind: stVerdict, verb: k, target: t.Target}
	case "reject":
		var r struct {
			Type string `json:"type"`
			Expr string `json:"expr"`
		}
		_ = json.Unmarshal(v, &r)
		st := nstmt{kind: stReject}
		if r.Type != "" {
			st.s = strings.TrimSpace(r.Type + " " + r.Expr)
		}
		return st
	case "counter", "log", "quota":
		return nstmt{kind: stNop, verb: k}
	case "limit":
		var l struct {
			Inv bool `json:"inv"`
		}
		_ = json.Unmarshal(v, &l)
		if l.Inv {
			return nstmt{kind: stMatch, op: "never", s: "limit rate over"}
		}
		return nstmt{kind: stNop, verb: k}
	case "notrack":
		return nstmt{kind: stNotrack}
	case "mangle":
		var m struct {
			Key   json.RawMessage `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(v, &m) != nil {
			return j.unknown(raw, "mangle")
		}
		l, r := j.expr(m.Key), j.expr(m.Value)
		if (l.kind != exMeta && l.kind != exCT) || r.kind == exUnknown {
			return j.unknown(raw, "mangle")
		}
		return nstmt{kind: stMangle, left: l, right: r}
	case "masquerade", "snat", "dnat", "redirect":
		var n struct {
			Family string          `json:"family"`
			Addr   json.RawMessage `json:"addr"`
			Port   json.RawMessage `json:"port"`
			Flags  json.RawMessage `json:"flags"`
		}
		_ = json.Unmarshal(v, &n)
		st := nstmt{kind: stNAT, verb: k, family: n.Family}
		if len(n.Addr) > 0 && string(n.Addr) != "null" {
			st.addr = j.expr(n.Addr)
			if st.addr.kind == exUnknown {
				return j.unknown(raw, k)
			}
		}
		if len(n.Port) > 0 && string(n.Port) != "null" {
			st.port = j.expr(n.Port)
		}
		var f string
		var fs []string
		if json.Unmarshal(n.Flags, &f) == nil {
			st.flags = f
		} else if json.Unmarshal(n.Flags, &fs) == nil {
			st.flags = strings.Join(fs, ",")
		}
		if (k == "dnat" || k == "snat") && st.addr == nil && st.port == nil {
			return j.unknown(raw, k+" without a target")
		}
		return st
	case "set":
		var s struct {
			Op   string          `json:"op"`
			Elem json.RawMessage `json:"elem"`
			Set  string          `json:"set"`
		}
		if json.Unmarshal(v, &s) != nil {
			return j.unknown(raw, "set statement")
		}
		return nstmt{kind: stSetOp, verb: s.Op, target: strings.TrimPrefix(s.Set, "@"), left: j.expr(s.Elem)}
	case "xt":
		var x struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}
		_ = json.Unmarshal(v, &x)
		if x.Type == "match" && (x.Name == "comment" || x.Name == "nfacct") {
			return nstmt{kind: stNop, verb: "xt " + x.Name}
		}
		s := "xt " + x.Type + " " + x.Name
		j.bad = append(j.bad, s+" (an iptables extension nft cannot show; read this table from iptables-save instead)")
		return nstmt{kind: stUnknown, s: s}
	case "queue":
		return j.unknown(raw, "queue (not modelled)")
	}
	return j.unknown(raw, "statement "+k)
}

// expr converts one JSON expression.
func (j *njp) expr(raw json.RawMessage) *nexpr {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return &nexpr{kind: exUnknown, s: "empty"}
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		if strings.HasPrefix(s, "@") {
			return &nexpr{kind: exSetRef, s: s[1:]}
		}
		return &nexpr{kind: exLit, s: s}
	case '[':
		// a list of flags (ct state {established, related}) or values
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		var parts []string
		for _, it := range items {
			x := j.expr(it)
			if x.kind != exLit {
				return &nexpr{kind: exUnknown, s: string(raw)}
			}
			parts = append(parts, x.s)
		}
		return &nexpr{kind: exLit, s: strings.Join(parts, ",")}
	case 't', 'f':
		return &nexpr{kind: exLit, s: string(raw)}
	case '{':
	default:
		return &nexpr{kind: exLit, s: string(raw)} // a number
	}
	k, v, ok := oneKey(raw)
	if !ok {
		return &nexpr{kind: exUnknown, s: string(raw)}
	}
	switch k {
	case "payload":
		var p struct {
			Protocol string `json:"protocol"`
			Field    string `json:"field"`
		}
		_ = json.Unmarshal(v, &p)
		if f, ok := payloadFields[p.Protocol]; ok && f[p.Field] {
			return &nexpr{kind: exPayload, a: p.Protocol, b: p.Field}
		}
		return &nexpr{kind: exUnknown, s: "payload " + string(v)}
	case "meta":
		var m struct {
			Key string `json:"key"`
		}
		_ = json.Unmarshal(v, &m)
		if !metaKeys[m.Key] {
			return &nexpr{kind: exUnknown, s: "meta " + m.Key}
		}
		return &nexpr{kind: exMeta, a: m.Key}
	case "ct":
		var c struct {
			Key string `json:"key"`
			Dir string `json:"dir"`
		}
		_ = json.Unmarshal(v, &c)
		if !ctKeys[c.Key] {
			return &nexpr{kind: exUnknown, s: "ct " + c.Key}
		}
		return &nexpr{kind: exCT, a: c.Dir, b: c.Key}
	case "fib":
		var f struct {
			Result string          `json:"result"`
			Flags  json.RawMessage `json:"flags"`
		}
		_ = json.Unmarshal(v, &f)
		var flags []string
		var one string
		if json.Unmarshal(f.Flags, &flags) != nil && json.Unmarshal(f.Flags, &one) == nil {
			flags = []string{one}
		}
		if f.Result != "type" && f.Result != "oif" && f.Result != "oifname" {
			return &nexpr{kind: exUnknown, s: "fib " + f.Result}
		}
		return &nexpr{kind: exFib, a: strings.Join(flags, "."), b: f.Result}
	case "numgen":
		var n struct {
			Mode   string `json:"mode"`
			Mod    uint64 `json:"mod"`
			Offset uint64 `json:"offset"`
		}
		_ = json.Unmarshal(v, &n)
		if n.Mod == 0 {
			return &nexpr{kind: exUnknown, s: "numgen"}
		}
		return &nexpr{kind: exNumgen, a: n.Mode, n: n.Mod, o: n.Offset}
	case "concat":
		var items []json.RawMessage
		_ = json.Unmarshal(v, &items)
		c := &nexpr{kind: exConcat}
		for _, it := range items {
			x := j.expr(it)
			if x.kind == exUnknown {
				return x
			}
			c.args = append(c.args, x)
		}
		return c
	case "prefix":
		var p struct {
			Addr string `json:"addr"`
			Len  int    `json:"len"`
		}
		_ = json.Unmarshal(v, &p)
		return &nexpr{kind: exLit, s: p.Addr + "/" + strconv.Itoa(p.Len)}
	case "range":
		var items []json.RawMessage
		_ = json.Unmarshal(v, &items)
		if len(items) != 2 {
			return &nexpr{kind: exUnknown, s: "range"}
		}
		a, b := j.expr(items[0]), j.expr(items[1])
		return &nexpr{kind: exLit, s: a.s + "-" + b.s}
	case "set":
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			// a single element
			items = []json.RawMessage{v}
		}
		e := &nexpr{kind: exAnon}
		for _, it := range items {
			el := j.element(it, true)
			e.elems = append(e.elems, nelem{key: el.rawKey, data: el.data, val: el.rawVal, text: el.Text})
		}
		return e
	case "map":
		var m struct {
			Key  json.RawMessage `json:"key"`
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(v, &m)
		key, data := j.expr(m.Key), j.expr(m.Data)
		if key.kind == exUnknown || data.kind == exUnknown {
			return &nexpr{kind: exUnknown, s: "map"}
		}
		return &nexpr{kind: exBinop, a: "map", args: []*nexpr{key, data}}
	case "&", "|", "^", "<<", ">>":
		var items []json.RawMessage
		_ = json.Unmarshal(v, &items)
		if len(items) < 2 {
			return &nexpr{kind: exUnknown, s: k}
		}
		x := j.expr(items[0])
		for _, it := range items[1:] {
			x = &nexpr{kind: exBinop, a: k, args: []*nexpr{x, j.expr(it)}}
		}
		return x
	}
	return &nexpr{kind: exUnknown, s: k}
}

// element converts a set element: a value, a concat, a prefix or range,
// {"elem": {"val": ..., "comment": ...}}, or [key, data] for maps.
func (j *njp) element(raw json.RawMessage, isMap bool) NFTElement {
	var el NFTElement
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var pair []json.RawMessage
		if json.Unmarshal(raw, &pair) == nil && len(pair) == 2 {
			el = j.element(pair[0], false)
			if k, v, ok := oneKey(pair[1]); ok && (k == "goto" || k == "jump" || k == "accept" || k == "drop" || k == "return" || k == "continue") {
				st := j.stmt(pair[1])
				_ = v
				el.data = &st
				el.Text += " : " + nftVerdictText(&st)
			} else {
				d := j.expr(pair[1])
				for _, part := range concatParts(d) {
					el.rawVal = append(el.rawVal, part.s)
				}
				el.Text += " : " + strings.Join(el.rawVal, " . ")
			}
			return el
		}
	}
	if k, v, ok := oneKey(raw); ok && k == "elem" {
		var e struct {
			Val     json.RawMessage `json:"val"`
			Comment string          `json:"comment"`
			Expires int             `json:"expires"`
		}
		_ = json.Unmarshal(v, &e)
		el = j.element(e.Val, isMap)
		el.Comment = e.Comment
		if e.Expires > 0 {
			el.Expires = strconv.Itoa(e.Expires) + "s"
		}
		if e.Comment != "" {
			el.Text += " comment " + strconv.Quote(e.Comment)
		}
		return el
	}
	x := j.expr(raw)
	for _, part := range concatParts(x) {
		if part.kind != exLit {
			j.bad = append(j.bad, clip(string(raw)))
			return el
		}
		el.rawKey = append(el.rawKey, part.s)
	}
	el.Text = strings.Join(el.rawKey, " . ")
	return el
}
