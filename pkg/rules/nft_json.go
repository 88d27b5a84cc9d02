package rules

import (
	"encoding/json"
	"fmt"
	"strings"
)

// nft -j list ruleset: {"nftables": [{"metainfo": ...}, {"table": ...},
// {"chain": ...}, {"rule": ...}, {"set": ...}, {"map": ...}, ...]}, with
// rule expressions in libnftables' JSON schema (libnftables-json(5)).

// parseNFTJSON reads `nft -j list ruleset` (or `nft -j list table ...`).
// The document is decoded once into generic values (numbers kept as
// written) and converted from there: decoding each nested object again
// from raw bytes made a 5,000-Service dump take seconds.
func parseNFTJSON(text, src string) (*NFTRuleset, []Warning, error) {
	top, err := jsonDecode(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not nft JSON: %w", sourceName(src), err)
	}
	root, ok := top.(jobj)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not nft JSON: the document is not an object", sourceName(src))
	}
	var items []jobj
	list, _ := root.get("nftables").([]any)
	for _, it := range list {
		o, _ := it.(jobj)
		items = append(items, o) // a non-object becomes an empty one, reported below
	}
	if root.get("nftables") == nil {
		return nil, nil, fmt.Errorf("%s: not nft JSON: no \"nftables\" array", sourceName(src))
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
	jp := &njp{}
	for k, o := range items {
		if len(o) == 0 {
			warn("object %d: empty or not an object", k)
		}
		for _, member := range o {
			kind, raw := member.k, member.v
			v, isObj := raw.(jobj)
			if !isObj && kind != "metainfo" {
				warn("object %d (%s): not an object", k, kind)
				continue
			}
			str := func(key string) string { s, _ := v.get(key).(string); return s }
			num := func(key string) int { n, _ := jnum(v.get(key)); return int(n) }
			switch kind {
			case "metainfo":
				if isObj {
					rs.Version = str("version")
				}
			case "table":
				tb := table(str("family"), str("name"))
				tb.Handle, tb.Comment = num("handle"), str("comment")
			case "chain":
				ch := table(str("family"), str("table")).chain(str("name"), 0)
				ch.Declared, ch.Handle, ch.Comment = true, num("handle"), str("comment")
				if hook := str("hook"); hook != "" {
					ch.Type, ch.Hook, ch.Policy = str("type"), hook, str("policy")
					if ch.Policy == "" {
						ch.Policy = "accept"
					}
					switch p := v.get("prio").(type) {
					case json.Number:
						n, _ := p.Int64()
						ch.Priority, ch.PriorityText = int(n), p.String()
					case string:
						ch.PriorityText = p
						pr, ok := parseNFTPriority(strings.Fields(p))
						if !ok {
							warn("chain %s %s: priority %q not understood; assumed 0", str("table"), ch.Name, p)
						}
						ch.Priority = pr
					}
					ch.Device = str("dev")
				}
			case "rule":
				ch := table(str("family"), str("table")).chain(str("chain"), 0)
				nr := &NFTRule{Handle: num("handle"), Comment: str("comment"), chain: ch}
				jp.bad = nil
				exprs, _ := v.get("expr").([]any)
				for _, e := range exprs {
					nr.stmts = append(nr.stmts, jp.stmt(e))
				}
				nr.bad = jp.bad
				nr.Text = printNFTRule(nr)
				ch.Rules = append(ch.Rules, nr)
			case "set", "map":
				st := table(str("family"), str("table")).set(str("name"), 0)
				st.Handle, st.Comment, st.Map = num("handle"), str("comment"), kind == "map"
				st.KeyType = jsonTypeList(v.get("type"))
				st.DataType = jsonTypeList(v.get("map"))
				switch f := v.get("flags").(type) {
				case []any:
					for _, x := range f {
						if s, ok := x.(string); ok {
							st.Flags = append(st.Flags, s)
						}
					}
				case string:
					st.Flags = []string{f}
				}
				if to, ok := jnum(v.get("timeout")); ok && to > 0 {
					st.Timeout = fmt.Sprintf("%ds", to)
				}
				jp.bad = nil
				elems, _ := v.get("elem").([]any)
				for _, e := range elems {
					st.Elements = append(st.Elements, jp.element(e, st.Map))
				}
				for _, b := range jp.bad {
					warn("set %s %s: element %s not understood", str("table"), st.Name, b)
				}
			case "element":
				st := table(str("family"), str("table")).set(str("name"), 0)
				jp.bad = nil
				elems, _ := v.get("elem").([]any)
				for _, e := range elems {
					st.Elements = append(st.Elements, jp.element(e, st.Map))
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

// jnum reads a JSON number (json.Number).
func jnum(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	x, err := n.Int64()
	return x, err == nil
}

// jtext prints a generic JSON value compactly, for messages.
func jtext(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// MarshalJSON prints the object back, members in input order.
func (o jobj) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, kv := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(kv.k)
		v, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

func jsonTypeList(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		var parts []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " . ")
	}
	return ""
}

// njp converts JSON expressions and statements into the rule model.
type njp struct{ bad []string }

func (j *njp) unknown(v any, why string) nstmt {
	s := why + ": " + clip(jtext(v))
	j.bad = append(j.bad, s)
	return nstmt{kind: stUnknown, s: s}
}

// oneKey returns the only key of an object and its value.
func oneKey(v any) (string, any, bool) {
	m, ok := v.(jobj)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	return m[0].k, m[0].v, true
}

func jfield(v any, key string) any {
	if m, ok := v.(jobj); ok {
		return m.get(key)
	}
	return nil
}

func jstr(v any, key string) string { s, _ := jfield(v, key).(string); return s }

func (j *njp) stmt(raw any) nstmt {
	k, v, ok := oneKey(raw)
	if !ok {
		return j.unknown(raw, "statement")
	}
	switch k {
	case "match":
		l, r := j.expr(jfield(v, "left")), j.expr(jfield(v, "right"))
		if l.kind == exUnknown || r.kind == exUnknown {
			return j.unknown(raw, "expression")
		}
		op := jstr(v, "op")
		if op == "" {
			op = "=="
		}
		if op == "in" && !isFlagType(exprType(l)) {
			op = "==" // "in" on a non-flag type is a lookup
		}
		return nstmt{kind: stMatch, op: op, left: l, right: r}
	case "vmap":
		l, r := j.expr(jfield(v, "key")), j.expr(jfield(v, "data"))
		if l.kind == exUnknown || r.kind == exUnknown {
			return j.unknown(raw, "vmap")
		}
		return nstmt{kind: stVmap, left: l, right: r}
	case "accept", "drop", "continue", "return":
		return nstmt{kind: stVerdict, verb: k}
	case "jump", "goto":
		tgt := jstr(v, "target")
		if tgt == "" {
			return j.unknown(raw, k)
		}
		return nstmt{kind: stVerdict, verb: k, target: tgt}
	case "reject":
		st := nstmt{kind: stReject}
		if t := jstr(v, "type"); t != "" {
			st.s = strings.TrimSpace(t + " " + jstr(v, "expr"))
		}
		return st
	case "counter", "log", "quota":
		return nstmt{kind: stNop, verb: k}
	case "limit":
		if inv, _ := jfield(v, "inv").(bool); inv {
			return nstmt{kind: stMatch, op: "never", s: "limit rate over"}
		}
		return nstmt{kind: stNop, verb: k}
	case "notrack":
		return nstmt{kind: stNotrack}
	case "mangle":
		l, r := j.expr(jfield(v, "key")), j.expr(jfield(v, "value"))
		if (l.kind != exMeta && l.kind != exCT) || r.kind == exUnknown {
			return j.unknown(raw, "mangle")
		}
		return nstmt{kind: stMangle, left: l, right: r}
	case "masquerade", "snat", "dnat", "redirect":
		st := nstmt{kind: stNAT, verb: k, family: jstr(v, "family")}
		if a := jfield(v, "addr"); a != nil {
			st.addr = j.expr(a)
			if st.addr.kind == exUnknown {
				return j.unknown(raw, k)
			}
		}
		if p := jfield(v, "port"); p != nil {
			st.port = j.expr(p)
		}
		switch f := jfield(v, "flags").(type) {
		case string:
			st.flags = f
		case []any:
			var fs []string
			for _, x := range f {
				if s, ok := x.(string); ok {
					fs = append(fs, s)
				}
			}
			st.flags = strings.Join(fs, ",")
		}
		if (k == "dnat" || k == "snat") && st.addr == nil && st.port == nil {
			return j.unknown(raw, k+" without a target")
		}
		return st
	case "set":
		return nstmt{kind: stSetOp, verb: jstr(v, "op"), target: strings.TrimPrefix(jstr(v, "set"), "@"), left: j.expr(jfield(v, "elem"))}
	case "xt":
		typ, name := jstr(v, "type"), jstr(v, "name")
		if typ == "match" && (name == "comment" || name == "nfacct") {
			return nstmt{kind: stNop, verb: "xt " + name}
		}
		s := "xt " + typ + " " + name
		j.bad = append(j.bad, s+" (an iptables extension nft cannot show; read this table from iptables-save instead)")
		return nstmt{kind: stUnknown, s: s}
	case "queue":
		return j.unknown(raw, "queue (not modelled)")
	}
	return j.unknown(raw, "statement "+k)
}

// expr converts one JSON expression.
func (j *njp) expr(raw any) *nexpr {
	switch x := raw.(type) {
	case nil:
		return &nexpr{kind: exUnknown, s: "null"}
	case string:
		if strings.HasPrefix(x, "@") {
			return &nexpr{kind: exSetRef, s: x[1:]}
		}
		return &nexpr{kind: exLit, s: x}
	case json.Number:
		return &nexpr{kind: exLit, s: x.String()}
	case bool:
		return &nexpr{kind: exLit, s: fmt.Sprint(x)}
	case []any:
		// a list of flags (ct state {established, related}) or values
		parts := make([]string, 0, len(x))
		for _, it := range x {
			e := j.expr(it)
			if e.kind != exLit {
				return &nexpr{kind: exUnknown, s: clip(jtext(raw))}
			}
			parts = append(parts, e.s)
		}
		return &nexpr{kind: exLit, s: strings.Join(parts, ",")}
	}
	k, v, ok := oneKey(raw)
	if !ok {
		return &nexpr{kind: exUnknown, s: clip(jtext(raw))}
	}
	switch k {
	case "payload":
		p, f := jstr(v, "protocol"), jstr(v, "field")
		if fields, ok := payloadFields[p]; ok && fields[f] {
			return &nexpr{kind: exPayload, a: p, b: f}
		}
		return &nexpr{kind: exUnknown, s: "payload " + clip(jtext(v))}
	case "meta":
		key := jstr(v, "key")
		if !metaKeys[key] {
			return &nexpr{kind: exUnknown, s: "meta " + key}
		}
		return &nexpr{kind: exMeta, a: key}
	case "ct":
		key := jstr(v, "key")
		if !ctKeys[key] {
			return &nexpr{kind: exUnknown, s: "ct " + key}
		}
		return &nexpr{kind: exCT, a: jstr(v, "dir"), b: key}
	case "fib":
		res := jstr(v, "result")
		var flags []string
		switch f := jfield(v, "flags").(type) {
		case string:
			flags = []string{f}
		case []any:
			for _, x := range f {
				if s, ok := x.(string); ok {
					flags = append(flags, s)
				}
			}
		}
		if res != "type" && res != "oif" && res != "oifname" {
			return &nexpr{kind: exUnknown, s: "fib " + res}
		}
		return &nexpr{kind: exFib, a: strings.Join(flags, "."), b: res}
	case "numgen":
		mod, _ := jnum(jfield(v, "mod"))
		off, _ := jnum(jfield(v, "offset"))
		if mod <= 0 || off < 0 || mod > 1<<20 {
			return &nexpr{kind: exUnknown, s: "numgen"}
		}
		return &nexpr{kind: exNumgen, a: jstr(v, "mode"), n: uint64(mod), o: uint64(off)}
	case "concat":
		items, _ := v.([]any)
		c := &nexpr{kind: exConcat, args: make([]*nexpr, 0, len(items))}
		for _, it := range items {
			e := j.expr(it)
			if e.kind == exUnknown {
				return e
			}
			c.args = append(c.args, e)
		}
		return c
	case "prefix":
		n, _ := jnum(jfield(v, "len"))
		return &nexpr{kind: exLit, s: jstr(v, "addr") + "/" + fmt.Sprint(n)}
	case "range":
		items, _ := v.([]any)
		if len(items) != 2 {
			return &nexpr{kind: exUnknown, s: "range"}
		}
		a, b := j.expr(items[0]), j.expr(items[1])
		return &nexpr{kind: exLit, s: a.s + "-" + b.s}
	case "set":
		items, ok := v.([]any)
		if !ok {
			items = []any{v} // a single element
		}
		e := &nexpr{kind: exAnon, elems: make([]nelem, 0, len(items))}
		for _, it := range items {
			el := j.element(it, true)
			e.elems = append(e.elems, nelem{key: el.rawKey, data: el.data, val: el.rawVal, text: el.Text})
		}
		return e
	case "map":
		key, data := j.expr(jfield(v, "key")), j.expr(jfield(v, "data"))
		if key.kind == exUnknown || data.kind == exUnknown {
			return &nexpr{kind: exUnknown, s: "map"}
		}
		return &nexpr{kind: exBinop, a: "map", args: []*nexpr{key, data}}
	case "&", "|", "^", "<<", ">>":
		items, _ := v.([]any)
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
func (j *njp) element(raw any, isMap bool) NFTElement {
	var el NFTElement
	if pair, ok := raw.([]any); ok && len(pair) == 2 {
		el = j.element(pair[0], false)
		if k, _, ok := oneKey(pair[1]); ok && (k == "goto" || k == "jump" || k == "accept" || k == "drop" || k == "return" || k == "continue") {
			st := j.stmt(pair[1])
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
	if k, v, ok := oneKey(raw); ok && k == "elem" {
		el = j.element(jfield(v, "val"), isMap)
		el.Comment = jstr(v, "comment")
		if e, ok := jnum(jfield(v, "expires")); ok && e > 0 {
			el.Expires = fmt.Sprint(e) + "s"
		}
		if el.Comment != "" {
			el.Text += " comment \"" + el.Comment + "\""
		}
		return el
	}
	x := j.expr(raw)
	for _, part := range concatParts(x) {
		if part.kind != exLit {
			j.bad = append(j.bad, clip(jtext(raw)))
			return el
		}
		el.rawKey = append(el.rawKey, part.s)
	}
	el.Text = strings.Join(el.rawKey, " . ")
	return el
}
